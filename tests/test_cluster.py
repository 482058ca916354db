"""Runs on Ray (`--ray auto|HOST:PORT`): seeds as Ray tasks that survive a kill, and the clear
line when Ray or the cluster is missing."""
from __future__ import annotations

import importlib.util
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import rl, rl_popen
from rl.errors import UserError
from rl.metrics import read_metrics

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install -e '.[ray]')")
SEEDS = ["train", "dqn", "--env", "CartPole-v1", "--steps", "3000", "--learning-starts", "100",
         "--checkpoint-every", "500", "--seeds", "0,1,2", "--run-dir", "r", "--ray", "auto",
         "--threads", "1", "--no-progress"]


@needs_ray
def test_seeds_on_a_local_ray_survive_a_kill_and_finish_when_run_again(workdir: Path):
    proc = rl_popen(*SEEDS, cwd=workdir)
    deadline = time.monotonic() + 120
    while not list(workdir.glob("r/seed*/checkpoints/latest.pt")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)  # the driver, Ray with it, and every run below it
    proc.communicate()
    time.sleep(3)
    out = rl(*SEEDS, cwd=workdir, timeout=600, check=True)
    assert "resumed" in out.stderr
    assert len(out.stdout.splitlines()) == 3  # JSON Lines: one summary per seed
    for seed in range(3):
        steps = [int(row["step"]) for row in read_metrics(workdir / f"r/seed{seed}/metrics.csv")]
        assert steps == sorted(set(steps)) and steps[-1] == 3000  # no gap, no duplicate


def test_a_cluster_that_does_not_answer_is_one_line_and_leaves_nothing(workdir: Path):
    proc = rl("suite", "atari100k", "--games", "Pong", "--run-dir", "s", "--ray",
              "127.0.0.1:9", cwd=workdir)
    if importlib.util.find_spec("ray") is None:
        assert "pip install -e '.[ray]'" in proc.stderr
    else:
        assert "no Ray cluster answers" in proc.stderr and "127.0.0.1:9" in proc.stderr
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (workdir / "s").exists()


def test_ray_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    from rl.cluster import connect

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(UserError, match=r"pip install -e '\.\[ray\]'"):
        connect("auto")


def test_ray_is_for_several_seeds(workdir: Path):
    proc = rl("train", "dqn", "--env", "CartPole-v1", "--ray", "auto", cwd=workdir)
    assert proc.returncode == 2 and "--seeds" in proc.stderr
