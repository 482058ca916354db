"""Faults a long run meets: kill -9 at random moments (every learner), a full disk, NaN losses,
no network. Each drives the real `rl` command in a subprocess."""
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_classifier import needs_mnist
from test_dqn import CARTPOLE
from test_selfplay import TINY

from conftest import SHARED, rl, rl_popen
from rl.files import load_checkpoint
from rl.metrics import read_metrics
from rl.run import LossGuard


def kill_and_resume(workdir: Path, algo: str, args: list[str], kills: int, seed: int) -> str:
    """Start a run, kill -9 it at random moments `kills` times (resuming after each), then let
    it finish. Returns the last stdout."""
    rng = random.Random(seed)
    latest = workdir / "run" / "checkpoints" / "latest.pt"
    proc = rl_popen("train", algo, *args, "--run-dir", "run", cwd=workdir)
    for _ in range(kills):
        t0 = time.time()
        while not latest.exists():
            assert time.time() - t0 < 120 and proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.kill()
        proc.communicate()
        load_checkpoint(latest)  # whatever the moment, the latest checkpoint is whole
        proc = rl_popen("train", algo, "--resume", "run", "--no-progress", cwd=workdir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert not list((workdir / "run" / "checkpoints").glob(".*.tmp"))  # stale halves removed
    return out


def column(workdir: Path, name: str) -> list[int]:
    return [int(r[name]) for r in read_metrics(workdir / "run" / "metrics.csv")]


@needs_mnist
def test_classifier_survives_kill_9(workdir: Path):
    kill_and_resume(workdir, "classifier", ["--data-dir", str(SHARED / "data"), "--backbone",
                                            "mlp", "--epochs", "8", "--no-progress"], 3, seed=1)
    assert column(workdir, "epoch") == list(range(1, 9))  # no epoch lost or logged twice


def test_dqn_survives_kill_9(workdir: Path):
    out = kill_and_resume(workdir, "dqn", CARTPOLE[2:] + ["--save-replay"], 3, seed=2)
    assert json.loads(out)["steps"] == 3000
    assert column(workdir, "step") == list(range(500, 3001, 500))


def test_self_play_survives_kill_9(workdir: Path):
    out = kill_and_resume(workdir, "alphazero", ["--iterations", "8", *TINY], 3, seed=3)
    assert json.loads(out)["iterations"] == 8
    assert column(workdir, "iteration") == list(range(0, 9))


def _limit_file_size() -> None:
    # a file may not grow past 150 kB: writes fail with EFBIG, as they would with ENOSPC
    resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@needs_mnist
def test_full_disk_is_one_line_and_keeps_completed_files(workdir: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "rl.cli", "train", "classifier", "--data-dir", str(SHARED / "data"),
         "--backbone", "mlp", "--epochs", "1", "--no-progress", "--run-dir", "run"],
        cwd=workdir, capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size,
        env={**os.environ, "WANDB_MODE": "offline"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "free space or choose another --run-dir" in lines[0]
    assert not list((workdir / "run" / "checkpoints").glob("*"))  # no half checkpoint
    assert (workdir / "run" / "config.yaml").read_text().startswith("algo: classifier")


def test_loss_guard_stops_or_skips_and_counts():
    guard = LossGuard("stop")
    assert guard.ok(1.5)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        guard.ok(float("nan"))
    guard = LossGuard("skip", max_in_a_row=3)
    oks = [guard.ok(v) for v in (1.0, float("inf"), float("nan"), 2.0)]
    assert oks == [True, False, False, True]
    assert guard.skipped == 2
    for _ in range(3):
        assert not guard.ok(float("nan"))
    with pytest.raises(FloatingPointError, match="4 non-finite losses in a row"):
        guard.ok(float("nan"))


def test_skipping_nan_updates_still_stops_a_run_that_cannot_recover(workdir: Path):
    proc = rl(*CARTPOLE, "--run-dir", "run", "--lr", "1e30", "--lr-end", "1e30", "--loss", "mse",
              "--max-grad-norm", "0", "--checkpoint-every", "100", "--on-nan", "skip", cwd=workdir)
    assert proc.returncode == 3, proc.stderr
    assert "101 non-finite losses in a row" in proc.stderr and "Traceback" not in proc.stderr
    assert load_checkpoint(workdir / "run" / "checkpoints" / "latest.pt")["step"] < 3000


def test_wandb_stays_offline_when_the_network_is_unreachable(tmp_path: Path, monkeypatch):
    from rl import tracking

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)  # looks logged in ...
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setattr(tracking, "reachable", lambda *a, **k: False)  # ... but no network
    trackers = tracking.Trackers(tmp_path, {"algo": "test"}, tensorboard=False, wandb=True)
    trackers.log(1, {"loss": 0.5})
    trackers.close()
    assert list((tmp_path / "wandb").glob("offline-run-*")), "wandb did not run offline"


@pytest.mark.parametrize("algo, args", [
    ("dqn", CARTPOLE[2:] + ["--steps", "20000"]),
    ("alphazero", ["--iterations", "50", *TINY]),
], ids=["dqn", "alphazero"])
def test_ctrl_c_is_a_clean_stop(workdir: Path, algo: str, args: list[str]):
    proc = rl_popen("train", algo, *args, "--run-dir", "run", cwd=workdir)
    latest = workdir / "run" / "checkpoints" / "latest.pt"
    t0 = time.time()
    while not latest.exists():
        assert time.time() - t0 < 120 and proc.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"rl train {algo} --resume run" in err and "Traceback" not in err
    # the checkpoint saved on the way out accounts for every metrics row written
    rows = load_checkpoint(latest)["meta"]["metrics_rows"]
    assert rows == len(read_metrics(workdir / "run" / "metrics.csv")) > 0
