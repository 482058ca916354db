"""Runs on Ray (`--ray auto|HOST:PORT`): seeds as Ray tasks that survive a kill, self-play
actors that survive one, and the clear line when Ray or the cluster is missing."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import rl, rl_popen
from rl.errors import UserError
from rl.metrics import read_metrics

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install -e '.[ray]')")
SEEDS = ["train", "dqn", "--env", "CartPole-v1", "--steps", "1500", "--learning-starts", "100",
         "--checkpoint-every", "500", "--final-eval-episodes", "2", "--seeds", "0,1",
         "--run-dir", "r", "--ray", "auto", "--threads", "1", "--no-progress"]


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
    assert len(out.stdout.splitlines()) == 2  # JSON Lines: one summary per seed
    for seed in range(2):
        steps = [int(row["step"]) for row in read_metrics(workdir / f"r/seed{seed}/metrics.csv")]
        assert steps == sorted(set(steps)) and steps[-1] == 1500  # no gap, no duplicate


# enough games after the kill for Ray to report the death (about 1.5 s) and restart the actor
ACTORS = ["train", "alphazero", "--game", "tic_tac_toe", "--iterations", "8",
          "--games-per-iteration", "8", "--simulations", "32", "--train-steps", "5",
          "--batch-size", "16", "--eval-every", "0", "--workers", "2", "--ray", "auto",
          "--run-dir", "r", "--threads", "1", "--no-progress"]


@needs_ray
def test_selfplay_actors_deliver_every_finished_game_once_when_one_is_killed(workdir: Path):
    proc = rl_popen(*ACTORS, cwd=workdir)
    deadline = time.monotonic() + 180
    while not (workdir / "r/games.jsonl").exists():  # the first iteration is in
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    actors = subprocess.run(["pgrep", "-f", "ray::SelfPlayActor"], capture_output=True,
                            text=True).stdout.split()
    os.kill(int(actors[0]), signal.SIGKILL)  # Ray restarts it; its unfinished games are lost
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    games = [json.loads(line) for line in (workdir / "r/games.jsonl").read_text().splitlines()]
    keys = [g["key"] for g in games]
    assert len(set(keys)) == len(keys) == 8 * 8  # each finished game taken once, none missing
    assert [sum(g["iteration"] == i for g in games) for i in range(1, 9)] == [8] * 8
    assert float(read_metrics(workdir / "r/metrics.csv")[-1]["actor_restarts"]) >= 1


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


def test_ray_is_for_several_seeds_or_selfplay_actors(workdir: Path):
    proc = rl("train", "dqn", "--env", "CartPole-v1", "--ray", "auto", cwd=workdir)
    assert proc.returncode == 2 and "--seeds" in proc.stderr
    assert "dqn has no Ray actors of its own" in proc.stderr


def test_selfplay_actors_at_an_address_that_does_not_answer_leave_no_run(workdir: Path):
    proc = rl("train", "alphazero", "--game", "tic_tac_toe", "--ray", "127.0.0.1:9",
              "--run-dir", "r", cwd=workdir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "127.0.0.1:9" in proc.stderr or "pip install" in proc.stderr  # Ray missing
    assert not (workdir / "r").exists()
