"""`rl train qlearning` end to end: train -> eval -> resume, through the real command."""
import json
import signal
import time
from pathlib import Path

import pytest

from conftest import rl, rl_popen
from rl.files import load_checkpoint
from rl.metrics import read_metrics

FAST = ["--no-progress", "--steps", "20000", "--log-every", "1000", "--eval-every", "5000",
        "--eval-episodes", "50", "--final-eval-episodes", "200"]


def test_train_eval_on_frozenlake(workdir: Path):
    proc = rl("train", "qlearning", "--env", "FrozenLake-v1", "--seed", "1", "--run-dir", "run",
              *FAST, cwd=workdir, check=True)
    summary = json.loads(proc.stdout)
    run = workdir / "run"
    for name in ("config.yaml", "metrics.csv", "summary.json", "learning_curve.png",
                 "checkpoints/latest.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    assert json.loads((run / "summary.json").read_text()) == summary
    assert summary["steps"] == 20000 and 0 < summary["optimality_ratio"] <= 1.2
    assert 0.6 < summary["optimal_success_rate"] < 0.9  # the slippery lake's known optimum ~0.74
    steps = [int(r["step"]) for r in read_metrics(run / "metrics.csv")]
    assert steps == list(range(1000, 20001, 1000))

    out = rl("eval", "run", "--episodes", "300", "--json", cwd=workdir, check=True)
    result = json.loads(out.stdout)
    assert result["episodes"] == 300
    assert {"mean_return", "std_return", "success_rate"} <= set(result)
    assert 0.0 <= result["success_rate"] <= 1.0


def test_same_seed_same_metrics(workdir: Path):
    for name in ("a", "b"):
        rl("train", "qlearning", "--env", "Taxi-v3", "--seed", "4", "--run-dir", name, *FAST,
           cwd=workdir, check=True)
    drop = lambda rows: [{k: v for k, v in r.items() if k != "steps_per_s"} for r in rows]
    a = drop(read_metrics(workdir / "a" / "metrics.csv"))
    assert a == drop(read_metrics(workdir / "b" / "metrics.csv")) and len(a) == 20


def wait_for(path: Path, timeout: float = 180) -> None:
    t0 = time.time()
    while not path.exists():
        assert time.time() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_killed_run_resumes_without_gaps_or_duplicates(workdir: Path, sig, code):
    args = ["train", "qlearning", "--env", "CliffWalking-v1", "--no-progress", "--steps", "100000",
            "--log-every", "1000", "--checkpoint-every", "5000", "--eval-every", "50000"]
    proc = rl_popen(*args, "--run-dir", "run", cwd=workdir)
    wait_for(workdir / "run" / "checkpoints" / "latest.pt")
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    if sig == signal.SIGTERM:
        assert "--resume run" in err
    stopped_at = load_checkpoint(workdir / "run" / "checkpoints" / "latest.pt")["step"]
    assert 0 < stopped_at < 100000

    done = rl("train", "qlearning", "--resume", "run", "--no-progress", cwd=workdir, check=True)
    assert json.loads(done.stdout)["steps"] == 100000
    steps = [int(r["step"]) for r in read_metrics(workdir / "run" / "metrics.csv")]
    assert steps == list(range(1000, 100001, 1000))  # nothing lost, nothing twice


def test_resume_can_extend_the_budget_but_not_change_the_problem(workdir: Path):
    rl("train", "qlearning", "--env", "FrozenLake-v1", "--run-dir", "run", *FAST, cwd=workdir,
       check=True)
    bad = rl("train", "qlearning", "--resume", "run", "--gamma", "0.5", cwd=workdir)
    assert bad.returncode == 2 and "cannot change --gamma" in bad.stderr
    more = rl("train", "qlearning", "--resume", "run", "--steps", "25000", "--no-progress",
              cwd=workdir, check=True)
    assert json.loads(more.stdout)["steps"] == 25000
    assert load_checkpoint(workdir / "run" / "checkpoints" / "latest.pt")["step"] == 25000


def test_tensorboard_and_offline_wandb(workdir: Path):
    """Both trackers write their files; wandb stays offline (no network here) and never fails
    a run."""
    rl("train", "qlearning", "--env", "FrozenLake-v1", "--run-dir", "run", "--tensorboard",
       "--wandb", *FAST, cwd=workdir, check=True)
    events = list((workdir / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert list((workdir / "run" / "wandb").glob("offline-run-*"))


def test_seeds_run_one_after_another_and_compare_as_an_iqm_band(workdir: Path):
    rl("train", "qlearning", "--env", "FrozenLake-v1", *FAST, "--seeds", "0,1,2", "--run-dir",
       "lake", cwd=workdir, check=True)
    assert sorted(p.name for p in (workdir / "lake").iterdir()) == ["seed0", "seed1", "seed2"]
    out = rl("compare", "lake/seed0", "lake/seed1", "lake/seed2", "--metric", "eval_return",
             "--out", "cmp.png", cwd=workdir, check=True)
    group = json.loads(out.stdout)["groups"]["qlearning FrozenLake-v1"]
    assert group["runs"] == 3 and group["seeds"] == [0, 1, 2]
    lo, hi = group["last_iqm_ci95"]
    assert 0 <= lo <= group["last_iqm"] <= hi <= 1
    assert (workdir / "cmp.png").stat().st_size > 10_000


def test_export_ships_the_network_alone_and_says_which(workdir: Path):
    rl("train", "qlearning", "--env", "Taxi-v3", "--seed", "0", "--run-dir", "run", *FAST,
       cwd=workdir, check=True)
    out = json.loads(rl("export", "run", "--checkpoint", "latest", "--out", "agent", cwd=workdir,
                        check=True).stdout)
    assert out["checkpoint"] == "latest"
    assert "optimizer" not in load_checkpoint(workdir / "agent/checkpoints/best.pt")
    summary = json.loads((workdir / "agent/summary.json").read_text())
    assert summary["exported_checkpoint"] == "latest" and summary["algo"] == "qlearning"
    same = [json.loads(rl("eval", d, "--checkpoint", c, "--episodes", "50", "--seed", "3",
                          "--json", cwd=workdir, check=True).stdout)["mean_return"]
            for d, c in (("run", "latest"), ("agent", "best"))]
    assert same[0] == same[1]  # the shipped folder plays as the run's latest network did
