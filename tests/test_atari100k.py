"""The Atari 100k pieces: C51's projection, noisy layers, DrQ's shift, life loss for learning
only, the replay across a resume, and `rl suite` killed and continued."""
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agents.dqn.network import project_distribution, random_shift
from conftest import rl, rl_popen
from rl.files import load_checkpoint
from rl.heads import NoisyLinear, QHead
from rl.metrics import read_metrics

# the 100k protocol (drq_eps) on a budget a test can afford (small batches, an update every 4th
# step: what is tested is what is stored and resumed, not what is learned)
TINY = ["--steps", "600", "--learning-starts", "200", "--train-freq", "4",
        "--checkpoint-every", "300", "--log-every", "100", "--final-eval-episodes", "2",
        "--eval-envs", "2", "--max-episode-steps", "200", "--buffer-size", "2000",
        "--batch-size", "8", "--threads", "1", "--no-progress"]


def test_categorical_projection_by_hand():
    support = torch.linspace(-2.0, 2.0, 5)          # atoms -2 -1 0 1 2, spacing 1
    uniform = torch.full((1, 5), 0.2)
    # R + 0.5 z = -0.5, 0, 0.5, 1, 1.5: a half-way atom splits its mass between neighbours
    out = project_distribution(uniform, torch.tensor([0.5]), torch.tensor([0.5]), support)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.1, 0.4, 0.4, 0.1]]))
    # a terminal step (discount 0) puts everything on R, clipped to the support's ends
    out = project_distribution(uniform.repeat(2, 1), torch.tensor([3.0, -0.25]),
                               torch.zeros(2), support)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0],
                                                  [0.0, 0.25, 0.75, 0.0, 0.0]]))


def test_a_noisy_layer_without_noise_is_a_plain_layer():
    layer, x = NoisyLinear(6, 3), torch.randn(4, 6)
    layer.eval()
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight_mu, layer.bias_mu))
    layer.train()
    layer.reset_noise()
    assert not torch.allclose(layer(x), F.linear(x, layer.weight_mu, layer.bias_mu))


def test_a_distributional_dueling_head_gives_each_action_a_distribution():
    head = QHead(8, 4, dueling=True, atoms=51, noisy=True).eval()
    logits = head(torch.randn(3, 8))
    assert logits.shape == (3, 4, 51)


def test_random_shift_moves_each_stack_by_at_most_four_pixels_with_replicated_edges():
    frames = np.arange(2 * 3 * 10 * 12, dtype=np.int64).reshape(2, 3, 10, 12).astype(np.uint8)
    out = random_shift(frames, np.random.default_rng(0))
    padded = np.pad(frames, ((0, 0), (0, 0), (4, 4), (4, 4)), mode="edge")
    for i in range(2):  # each output is one window of the padded stack, all frames alike
        windows = [(dy, dx) for dy in range(9) for dx in range(9)
                   if np.array_equal(out[i], padded[i, :, dy:dy + 10, dx:dx + 12])]
        assert len(windows) >= 1


def test_a_lost_life_is_terminal_for_learning_while_the_game_plays_on():
    from agents.dqn import defaults_for
    from agents.dqn.config import Config
    from agents.dqn.play import Actors
    from agents.dqn.train import make_replay, spaces
    from rl.config import build_config

    layers = {"env": "Breakout", "preset": "drq_eps", "buffer_size": 5000}
    cfg = build_config(Config, defaults_for(layers), layers)
    replay = make_replay(cfg, spaces(cfg)[0])
    actors, rng = Actors(cfg, replay), np.random.default_rng(0)
    actors.reset(seed=0)
    for _ in range(1500):
        actors.send(rng.integers(4, size=1))
        actors.receive()
    actors.envs.close()
    ends = int(replay.terminated[:replay.written].sum())
    assert actors.episodes >= 3
    # Breakout has 5 lives: every finished game holds 5 learning ends, plus the current game's
    assert 5 * actors.episodes <= ends < 5 * (actors.episodes + 1)


def replay_of(path: Path) -> dict:
    return load_checkpoint(path)["replay"]


def test_a_resumed_100k_run_keeps_its_replay(workdir: Path):
    args = ["train", "dqn", "--env", "Pong", "--preset", "drq_eps", *TINY]
    rl(*args, "--run-dir", "whole", cwd=workdir, check=True)
    proc = rl_popen(*args, "--run-dir", "cut", cwd=workdir)
    latest = workdir / "cut" / "checkpoints" / "latest.pt"
    while not latest.exists():
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.kill()  # kill -9 at step 300's checkpoint (or just after)
    proc.communicate()
    resumed = rl("train", "dqn", "--resume", "cut", "--no-progress", cwd=workdir, check=True)
    assert "with its replay (301 transitions)" in resumed.stderr
    whole, cut = replay_of(workdir / "whole" / "checkpoints" / "latest.pt"), \
        replay_of(workdir / "cut" / "checkpoints" / "latest.pt")
    # everything stored before the kill is there, as an uninterrupted run stored it: 301
    # frames and the 300 transitions between them (the resumed run starts a fresh episode)
    assert torch.equal(whole["frames"][:301], cut["frames"][:301])
    for key in ("actions", "rewards", "terminated"):
        assert torch.equal(whole[key][:300], cut[key][:300]), key
    summary = json.loads(resumed.stdout)
    assert summary["steps"] == 600 and summary["replay_bytes_per_transition"] <= 7_200
    assert [int(r["step"]) for r in read_metrics(workdir / "cut" / "metrics.csv")] == \
        list(range(100, 601, 100))


def test_without_a_saved_replay_a_resumed_run_refills_it_first(workdir: Path):
    rl("train", "dqn", "--env", "Pong", "--preset", "drq_eps", *TINY, "--steps", "300",
       "--no-save-replay", "--run-dir", "run", cwd=workdir, check=True)
    out = rl("train", "dqn", "--resume", "run", "--steps", "400", "--no-progress",
             "--final-eval-episodes", "1", cwd=workdir, check=True)
    assert "refilling it for 200 steps before learning again" in out.stderr
    rows = read_metrics(workdir / "run" / "metrics.csv")
    assert rows[-1]["step"] == "400" and rows[-1]["loss"] == ""  # no update during the refill


# one thread a run (the suite's default is the cores over --jobs: two, beside another test)
SUITE = ["suite", "atari100k", "--games", "Pong,Boxing", "--seeds", "0", "--run-dir", "s",
         "--threads", "1", "--", *TINY[:TINY.index("--threads")], "--steps", "400"]


def test_a_suite_killed_with_sigkill_finishes_every_run_once(workdir: Path):
    proc = rl_popen(*SUITE, cwd=workdir)
    boxing = workdir / "s" / "Boxing" / "seed0" / "checkpoints" / "latest.pt"
    t0 = time.time()
    while not boxing.exists():  # Pong has finished, Boxing is under way
        assert proc.poll() is None and time.time() - t0 < 300, proc.stderr.read()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    again = rl(*SUITE, cwd=workdir, check=True)
    assert "Pong/seed0: started" not in again.stderr and "Boxing/seed0: resumed" in again.stderr
    for game in ("Pong", "Boxing"):
        steps = [int(r["step"]) for r in read_metrics(workdir / "s" / game / "seed0" /
                                                      "metrics.csv")]
        assert steps == list(range(100, 401, 100)), game  # no row lost or logged twice
    pong_log = (workdir / "s" / "logs" / "Pong-seed0.log").read_text()
    assert pong_log.count("$ ") == 1  # started once, never redone
    scores = json.loads((workdir / "s" / "scores.json").read_text())
    assert scores["runs_finished"] == 2 and scores["aggregates"]["iqm"]["ci95"]
    assert (workdir / "s" / "aggregates.png").stat().st_size > 5_000
    rl("report", "s", "--out", "report.html", cwd=workdir, check=True)  # the suite at a glance
    page = (workdir / "report.html").read_text()
    assert "Suite s" in page and page.count("<video") == 2 and page.count("image/png") == 2


def test_a_suite_resumes_a_run_with_the_threads_it_gives_runs_now(tmp_path: Path):
    # a run begun alone with 2 threads, continued by a suite of 2 jobs: 1 thread, or the two
    # runs' 3 threads oversubscribe 2 cores (the resumed one went 4x slower)
    from rl.run import Run
    from rl.suite import Job, command

    run = Run.create(tmp_path / "Boxing", {"algo": "dqn", "threads": 2})
    run.checkpoint_path().parent.mkdir(parents=True, exist_ok=True)
    run.checkpoint_path().write_bytes(b"")
    job = Job("Boxing/seed0", "dqn", ["--env", "Boxing", "--threads", "1"], run.path)
    argv = command(job)
    assert "--resume" in argv and argv[argv.index("--threads") + 1] == "1"


def test_a_run_the_stop_reaches_before_its_handler_is_stopped_not_failed(tmp_path: Path):
    # SIGTERM to a suite whose run is still loading kills the run outright (exit -15): it is
    # to be resumed like one that stopped at a clean point, not reported as failed
    import subprocess
    import threading

    from rl.suite import Job, Suite

    job = Job("Kangaroo/seed0", "dqn", [], tmp_path / "Kangaroo")
    suite = Suite([job], 1, tmp_path / "logs",
                  launch=lambda argv, log: subprocess.Popen(["sleep", "30"]))
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    suite.run()
    assert (job.status, job.returncode, suite.exit_code()) == ("pending", -signal.SIGTERM, 143)


@pytest.mark.parametrize("args, message", [
    (["--games", "Pong,Brekout"], "unknown Atari game 'Brekout' (did you mean 'Breakout'?)"),
    (["--preset", "drq"], "unknown value 'drq'"),
    (["--", "--lr", "-1"], "--lr must be > 0.0"),
])
def test_a_suite_with_a_bad_game_preset_or_flag_starts_nothing(workdir: Path, args, message):
    out = rl("suite", "atari100k", "--run-dir", "s", *args, cwd=workdir)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.splitlines()) == 1
    assert not (workdir / "s").exists()


def test_a_suite_takes_more_games_later_but_not_another_configuration(workdir: Path):
    tiny = ["--threads", "1", "--", *TINY[:TINY.index("--threads")], "--steps", "300"]
    rl("suite", "atari100k", "--games", "Pong", "--run-dir", "s", *tiny, cwd=workdir, check=True)
    more = rl("suite", "atari100k", "--games", "Boxing", "--run-dir", "s", *tiny, cwd=workdir,
              check=True)
    assert json.loads(more.stdout)["runs_finished"] == 2  # the scores cover both games
    other = rl("suite", "atari100k", "--games", "Boxing", "--preset", "der", "--run-dir", "s",
               *tiny, cwd=workdir)
    assert other.returncode == 2 and "another preset" in other.stderr


def test_the_per_game_table_puts_published_scores_beside_ours():
    from rl.commands.suite import markdown, per_game_rows

    rows = per_game_rows({"Boxing": {0: {"mean_return": 12.0, "mean_return_ci95": [10, 14]}}})
    text = markdown({"runs": 26, "runs_finished": 1, "aggregates": None, "per_game": rows},
                    whole_benchmark=True)
    header, _, boxing = text.splitlines()[2:5]
    assert header.endswith("| DrQ(eps) | SPR |")
    assert boxing.startswith("| Boxing | 12 (1 seed) | [10, 14] |")
    assert boxing.endswith("| 9.0 | 35.7 |")
    assert "eloialonso/iris" in text


def test_the_per_game_table_lists_each_seed_where_there_are_several():
    from rl.commands.suite import markdown, per_game_rows

    rows = per_game_rows({"Pong": {0: {"mean_return": 3.0}, 1: {"mean_return": -1.04}}})
    text = markdown({"runs": 2, "runs_finished": 2, "aggregates": None, "per_game": rows},
                    whole_benchmark=False)
    assert "| Pong | 1 (2 seeds) | 3, -1 |" in text


def test_with_one_seed_the_aggregate_interval_resamples_games():
    from rl.aggregate import aggregates

    one_seed = np.array([[0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5]])  # [runs, games]
    iqm = aggregates(one_seed)["iqm"]
    assert iqm["ci95"][0] < iqm["value"] < iqm["ci95"][1]  # which games were played matters
    # with several seeds the runs are resampled within each game: identical seeds, no width
    iqm = aggregates(np.repeat(one_seed, 3, axis=0))["iqm"]
    assert iqm["ci95"][0] == iqm["value"] == iqm["ci95"][1]


def test_the_scores_page_says_what_its_interval_resamples():
    from rl.commands.suite import markdown

    agg = {"iqm": {"value": 0.3, "ci95": [0.2, 0.45]}}
    page = markdown({"runs": 2, "runs_finished": 2, "games_scored": ["Pong", "Boxing"],
                     "seeds_aggregated": [0], "aggregates": agg, "interval_resamples": "games",
                     "per_game": []}, whole_benchmark=False)
    assert "| iqm | 0.300 [0.200, 0.450] |" in page and "resamples the games" in page


def test_the_per_game_table_normalises_the_unrounded_score():
    from rl.commands.suite import per_game_rows

    [row] = per_game_rows({"Boxing": {0: {"mean_return": 7.86}}})  # random 0.1, human 12.1
    assert row["score"] == 7.9 and row["normalized"] == 0.647


def test_a_suite_whose_preset_now_means_other_values_is_refused(tmp_path: Path):
    import yaml

    from rl.commands.suite import open_suite, run_config
    from rl.errors import UserError

    spec = {"benchmark": "atari100k", "preset": "drq_eps", "train_flags": []}
    open_suite(tmp_path, spec, ["Pong"], [0])
    run = tmp_path / "Pong" / "seed0"
    run.mkdir(parents=True)
    then = {**run_config("Pong", 0, "drq_eps", []), "threads": 7}  # per run: not compared
    then.pop("init")  # an option added later is not compared either
    (run / "config.yaml").write_text(yaml.safe_dump(then))
    assert open_suite(tmp_path, spec, ["Boxing"], [0]) == (["Pong", "Boxing"], [0])
    (run / "config.yaml").write_text(yaml.safe_dump({**then, "encoder": "nature"}))
    with pytest.raises(UserError, match="encoder 'nature' -> 'nature-same'"):
        open_suite(tmp_path, spec, ["Boxing"], [0])
