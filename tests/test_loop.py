"""The shared training loop's best-checkpoint rule and the statistics every figure carries."""
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rl.files import load_checkpoint
from rl.loop import Loop
from rl.run import Run, RunOptions
from rl.stats import mean_ci, summarise_match, t_ci, wilson

DENORMAL_TIMES_ONE = ("import torch\n{setup}\ntorch.set_num_threads(2)\n"
                      "print((torch.full((1 << 20,), 1e-39) * 1.0).abs().max().item())")


def denormal_times_one(setup: str) -> float:
    """1e-39 (a denormal float) times one, in a fresh process on two threads after `setup`."""
    code = DENORMAL_TIMES_ONE.format(setup=setup)
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def started_loop(tmp_path: Path) -> Loop:
    run = Run.create(tmp_path / "run", {"algo": "test"})
    loop = Loop(run, RunOptions(progress=False), seed=0, meta={"algo": "test"})
    loop.begin(["step"], total=1000, done=0, label="test", plot=lambda run: None)
    return loop


def best_weights(loop: Loop) -> int:
    return load_checkpoint(loop.run.checkpoint_path("best"))["weights"]


def test_a_lucky_early_evaluation_does_not_stay_best(tmp_path: Path):
    loop = started_loop(tmp_path)
    assert loop.offer(100, 10.0)  # a short evaluation that got lucky
    loop.save({"meta": loop.meta, "weights": 1}, best=True)
    assert not loop.offer(200, 9.0)
    # the end: both networks play the same, larger set of episodes
    chosen = loop.settle(200, {"mean_return": 9.5}, lambda: {"mean_return": 9.1},
                         {"meta": loop.meta, "weights": 2})
    assert chosen["checkpoint_step"] == 200 and chosen["mean_return"] == 9.5
    assert best_weights(loop) == 2


def test_a_truly_better_earlier_network_stays_best(tmp_path: Path):
    loop = started_loop(tmp_path)
    loop.offer(100, 10.0)
    loop.save({"meta": loop.meta, "weights": 1}, best=True)
    chosen = loop.settle(200, {"mean_return": 7.0}, lambda: {"mean_return": 9.9},
                         {"meta": loop.meta, "weights": 2})
    assert chosen["checkpoint_step"] == 100 and chosen["mean_return"] == 9.9
    assert chosen["final_network"] == {"mean_return": 7.0} and best_weights(loop) == 1


def test_ties_go_to_the_later_network(tmp_path: Path):
    loop = started_loop(tmp_path)
    assert loop.offer(100, 5.0) and loop.offer(200, 5.0) and loop.best_step == 200
    loop.save({"meta": loop.meta, "weights": 1}, best=True)
    chosen = loop.settle(300, {"mean_return": 5.0}, lambda: {"mean_return": 5.0},
                         {"meta": loop.meta, "weights": 3})
    assert chosen["checkpoint_step"] == 300 and best_weights(loop) == 3


def test_a_resumed_run_times_all_its_legs(tmp_path: Path):
    first = started_loop(tmp_path)
    time.sleep(1.0)
    first.close({"meta": first.meta, "step": 500})  # the leg a kill or SIGTERM ended
    second = Loop(first.run, RunOptions(progress=False), seed=0, meta={"algo": "test"})
    second.restore(resume=True)
    second.begin(["step"], total=1000, done=500, label="test", plot=lambda run: None)
    assert second.leg_time() < 1.0 <= second.train_time()


def test_intervals_cover_what_they_should():
    lo, hi = mean_ci(np.r_[np.zeros(50), np.ones(50)])
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert mean_ci([3.0, 3.0]) == (3.0, 3.0)
    assert wilson(0, 10)[0] == 0 and 0.2 < wilson(0, 10)[1] < 0.35
    lo, hi = wilson(100, 200)
    assert lo == pytest.approx(0.4314, abs=1e-3) and hi == pytest.approx(0.5686, abs=1e-3)


def test_a_seed_interval_is_students_t():
    lo, hi = t_ci([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2) = 4.303
    assert (lo, hi) == pytest.approx((2 - 4.303 / 3 ** 0.5, 2 + 4.303 / 3 ** 0.5), abs=1e-3)
    assert t_ci([0.5]) == (0.5, 0.5)


def test_a_match_summary_gives_score_and_elo_with_intervals():
    even = summarise_match(50, 0, 50)
    assert even["score"] == 0.5 and even["elo"] == 0.0
    assert even["elo_ci95"][0] < 0 < even["elo_ci95"][1]
    sweep = summarise_match(20, 0, 0)
    assert sweep["elo"] is None and sweep["elo_ci95"][0] > 200  # no finite upper bound


def test_a_progress_bar_with_nothing_to_do_closes():
    """`rl games generate` resumed with all of an expert's games kept: a bar of 0 games (it
    used to spin forever drawing its last line)."""
    import io

    from rl.progress import TrainingProgress

    out = io.StringIO()
    bar = TrainingProgress(0, label="level 10", unit="games", stream=out)
    bar.close()
    assert "0/0 games" in out.getvalue()


def test_training_computes_denormal_floats_as_zero(tmp_path: Path):
    # Adam's decaying moments turn denormal, and on Intel CPUs each one costs a microcode
    # assist: a DQN run went 4x slower (rl/precision.py)
    assert denormal_times_one("") > 0  # torch's default keeps them
    loop = ("from pathlib import Path\nfrom rl.loop import Loop\n"
            "from rl.run import Run, RunOptions\n"
            f"run = Run.create(Path(r'{tmp_path / 'run'}'), {{'algo': 'test'}})\n"
            "Loop(run, RunOptions(progress=False), seed=0, threads=2, meta={})")
    assert denormal_times_one(loop) == 0.0
