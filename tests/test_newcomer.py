"""What a newcomer meets in the first hour, one behaviour a test: precision chosen for the
hardware at hand, progress in logs, short runs' evaluation curves, comparing different
algorithms, resuming with a smaller budget, output for people and for programs, images unlike
the training data, and quiet surprises."""
import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_classifier import needs_mnist

from conftest import ROOT, SHARED, rl, rl_popen
from rl.metrics import read_metrics

CARTPOLE = ["train", "dqn", "--env", "CartPole-v1", "--steps", "600", "--learning-starts",
            "200", "--eval-every", "100000", "--log-every", "200", "--final-eval-episodes", "2",
            "--no-progress"]
FROZEN = ["train", "qlearning", "--env", "FrozenLake-v1", "--steps", "2000",
          "--final-eval-episodes", "20"]


# 1. precision ----------------------------------------------------------------------------------
def test_presets_use_bf16_only_where_it_pays():
    from agents import classifier
    from agents.alphazero import config as alphazero
    from rl.precision import bf16_pays, here

    pays = bf16_pays(here())
    assert classifier.defaults_for({"dataset": "fashion-mnist"})["amp"] is pays
    assert alphazero.defaults_for({"game": "go9"})["search_bf16"] is pays


def test_bf16_pays_only_where_matrix_units_compute_it(monkeypatch):
    """AVX512-BF16 alone computes bf16, but measured slower than fp32 on a Xeon without AMX."""
    from rl import precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "bf16_native", lambda device: True)
    for amx in (False, True):
        monkeypatch.setattr(precision.torch.cpu, "get_capabilities", {"amx_bf16": amx}.copy)
        assert precision.bf16_pays(cpu) is amx


def test_on_a_cpu_without_native_bf16_presets_stay_fp32_and_asking_costs_a_note(monkeypatch):
    """The AVX2-only path, whatever this machine has: what the rule decides when bf16 is not
    native here."""
    from agents import classifier
    from agents.alphazero import config as alphazero
    from rl import precision

    monkeypatch.setattr(precision, "bf16_native", lambda device: False)
    monkeypatch.setattr(precision, "bf16_pays", lambda device: False)
    monkeypatch.setattr(precision, "fp16_native", lambda device: False)
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    assert classifier.defaults_for({"dataset": "fashion-mnist"})["amp"] is False
    assert alphazero.defaults_for({"game": "go9"})["search_bf16"] is False
    note = precision.emulation_note("bf16", torch.device("cpu"))
    assert note.startswith("note: bf16 is emulated") and "\n" not in note
    assert precision.emulation_note("fp32", torch.device("cpu")) is None


@needs_mnist
def test_eval_reports_reduced_precisions_only_where_native_and_notes_an_emulated_one(
        workdir: Path):
    from rl.precision import bf16_native

    rl("train", "classifier", "--backbone", "mlp", "--dataset", "mnist-10k", "--epochs", "1",
       "--data-dir", str(SHARED / "data"), "--run-dir", "run", "--no-progress", cwd=workdir,
       check=True)
    result = json.loads(rl("eval", "run", "--json", cwd=workdir, check=True).stdout)
    native = bf16_native(torch.device("cpu"))
    assert "accuracy_fp32" in result and ("accuracy_bf16" in result) is native
    asked = rl("eval", "run", "--precision", "bf16", "--json", cwd=workdir, check=True)
    assert "accuracy_bf16" in json.loads(asked.stdout)
    assert ("bf16 is emulated" in asked.stderr) is not native


# 2. progress in logs ---------------------------------------------------------------------------
def test_progress_in_a_log_is_plain_lines_ending_on_the_final_step(workdir: Path):
    out = rl(*FROZEN[:-2], "--steps", "3000", "--run-dir", "run", cwd=workdir, check=True)
    lines = [ln for ln in out.stderr.splitlines() if "steps/s" in ln]
    assert len(lines) >= 3 and "3,000/3,000 steps" in lines[-1]
    assert all("━" not in ln and "…" not in ln for ln in lines)


def test_a_match_in_a_log_shows_its_progress_beside_one_json_object(workdir: Path):
    out = rl("eval", str(ROOT / "experiments/agents/tic_tac_toe"), "--opponent", "random",
             "--games", "4", "--simulations", "8", "--json", cwd=workdir, check=True)
    assert json.loads(out.stdout)["games"] == 4
    lines = [ln for ln in out.stderr.splitlines() if "games/s" in ln]
    assert lines and "4/4 games" in lines[-1]


def test_ctrl_c_in_a_match_is_one_line_and_exit_130(workdir: Path):
    proc = rl_popen("eval", str(ROOT / "experiments/agents/connect_four"), "--opponent",
                    "mcts:1000", "--games", "100", cwd=workdir)
    time.sleep(8)  # well into the match
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "rl: interrupted"
    assert "Traceback" not in err


# 3. short runs have an evaluation curve ----------------------------------------------------------
def test_a_run_shorter_than_one_evaluation_interval_logs_its_final_evaluation(workdir: Path):
    for name in ("a", "b"):
        rl(*CARTPOLE, "--run-dir", name, "--seed", str(ord(name)), cwd=workdir, check=True)
    rows = read_metrics(workdir / "a" / "metrics.csv")
    assert rows[-1]["step"] == "600" and rows[-1]["eval_return"] != ""
    out = rl("compare", "a", "b", "--metric", "eval_return", cwd=workdir, check=True)
    assert json.loads(out.stdout)["groups"]


def test_compare_names_what_is_missing(workdir: Path):
    rl(*CARTPOLE, "--no-final-eval", "--run-dir", "a", cwd=workdir, check=True)
    out = rl("compare", "a", "--metric", "eval_return", cwd=workdir)
    assert out.returncode == 2 and "logged no 'eval_return' value" in out.stderr
    assert "had none" in out.stderr


def test_self_play_runs_compare_per_hour_of_learning(workdir: Path):
    # two runs whose iterations cost different times: the x axis adds up iteration_s (an older
    # run without it, self_play_s + train_s); the evaluations' own time is not counted
    runs = {"fast": ("iteration_s", "360"), "slow": ("self_play_s,train_s", "700,20"),
            "dqn": ("step", "1000")}
    for i, (name, (columns, values)) in enumerate(runs.items()):
        (workdir / name / "checkpoints").mkdir(parents=True)
        algo = "dqn\nenv: CartPole-v1" if name == "dqn" else "alphazero\ngame: connect_four"
        (workdir / name / "config.yaml").write_text(f"algo: {algo}\nseed: 0\nlr: {i + 1}\n")
        (workdir / name / "metrics.csv").write_text(f"{columns},vs_mcts200_win\n"
                                                    f"{values},0.25\n{values},0.5\n")
    out = rl("compare", "fast", "slow", "--metric", "vs_mcts200_win", "--x", "hours",
             "--out", "h.png", cwd=workdir, check=True)
    assert [g["last"] for g in json.loads(out.stdout)["groups"].values()] == [0.5, 0.5]
    assert (workdir / "h.png").stat().st_size > 5_000
    from rl.report import with_hours

    slow = with_hours(read_metrics(workdir / "slow/metrics.csv"), workdir / "slow")
    assert [float(r["hours"]) for r in slow] == [0.2, 0.4]
    out = rl("compare", "dqn", "--metric", "vs_mcts200_win", "--x", "hours", cwd=workdir)
    assert out.returncode == 2 and "has no hours axis" in out.stderr


def test_seeds_per_hour_are_compared_where_every_seed_has_run():
    from rl.report import aligned

    # two seeds whose iterations took different times: one every 0.1 h, one every 0.15 h
    grid, table = aligned([(np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.5, 1.0])),
                           (np.array([0.15, 0.3]), np.array([0.0, 1.0]))], hours=True)
    assert grid[0] == 0.15 and grid[-1] == 0.3 and table.shape == (2, 50)
    assert table[0, 0] == pytest.approx(0.25) and table[1, -1] == 1.0  # each interpolated


# 4. different algorithms ---------------------------------------------------------------------
def test_comparing_different_algorithms_labels_them_briefly_in_separate_panels(workdir: Path):
    rl(*CARTPOLE, "--run-dir", "dqn", cwd=workdir, check=True)
    rl(*FROZEN, "--run-dir", "q", "--no-progress", cwd=workdir, check=True)
    out = json.loads(rl("compare", "dqn", "q", "--metric", "episode_return",
                        cwd=workdir, check=True).stdout)
    assert set(out["groups"]) == {"dqn CartPole-v1", "qlearning FrozenLake-v1"}


# 5. resuming with a smaller budget -------------------------------------------------------------
def test_resume_with_a_smaller_budget_is_refused_and_the_config_stays_true(workdir: Path):
    rl(*FROZEN, "--run-dir", "run", "--no-progress", cwd=workdir, check=True)
    before = (workdir / "run" / "config.yaml").read_text()
    out = rl("train", "qlearning", "--resume", "run", "--steps", "1000", cwd=workdir)
    assert out.returncode == 2 and "cannot shrink" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert (workdir / "run" / "config.yaml").read_text() == before


# 6. output for people and for programs ---------------------------------------------------------
def test_plain_eval_output_is_aligned_rounded_text():
    out = rl("eval", str(ROOT / "experiments/agents/tic_tac_toe"), "--opponent", "random",
             "--games", "4", cwd=ROOT, check=True).stdout
    assert "as_first.wins" in out and "{" not in out and "None" not in out
    assert not re.search(r"\d\.\d{5,}", out)  # 4 significant digits, not 0.4166666666666667


def test_summaries_carry_no_float_noise_and_seeds_print_json_lines(workdir: Path):
    out = rl(*FROZEN, "--seeds", "0,1", "--run-dir", "runs", "--no-progress", cwd=workdir,
             check=True).stdout
    summaries = [json.loads(line) for line in out.splitlines()]  # JSON Lines: one per seed
    assert [s["run_dir"][-5:] for s in summaries] == ["seed0", "seed1"]
    text = (workdir / "runs" / "seed0" / "summary.json").read_text()
    assert not re.search(r"\d\.\d{7,}", text)


# 7. images unlike the training data ------------------------------------------------------------
def test_predict_inverts_a_dark_on_light_image_for_an_mnist_style_network(workdir: Path):
    drawn = np.full((28, 28), 255, np.uint8)
    drawn[6:22, 12:16] = 0  # a black stroke on white paper
    Image.fromarray(drawn).save(workdir / "drawn.png")
    Image.fromarray(255 - drawn).save(workdir / "mnist_style.png")
    agent = str(ROOT / "experiments/agents/fashion_mnist")
    results = [json.loads(line) for line in rl(
        "predict", agent, "drawn.png", "mnist_style.png", "--json", cwd=workdir,
        check=True).stdout.splitlines()]
    assert [r["inverted"] for r in results] == [True, False]
    assert "inverted" in results[0]["note"] and "note" not in results[1]
    # the same prediction as for the image inverted by hand
    assert results[0]["top"] == results[1]["top"]
    kept = json.loads(rl("predict", agent, "drawn.png", "--invert", "no", "--json",
                         cwd=workdir, check=True).stdout)
    assert kept["inverted"] is False


# 8. quiet surprises ------------------------------------------------------------------------------
def test_export_does_not_replace_an_agent_without_overwrite(workdir: Path):
    rl(*FROZEN, "--run-dir", "run", "--no-progress", cwd=workdir, check=True)
    rl("export", "run", "--out", "agent", cwd=workdir, check=True)
    again = rl("export", "run", "--out", "agent", cwd=workdir)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    rl("export", "run", "--out", "agent", "--overwrite", cwd=workdir, check=True)


def test_a_run_that_will_never_learn_says_so(workdir: Path):
    out = rl(*CARTPOLE, "--learning-starts", "1000", "--run-dir", "run", cwd=workdir,
             check=True)
    assert "never learns" in out.stderr


def test_rl_envs_lists_what_can_be_made_here(workdir: Path):
    out = rl("envs", cwd=workdir, check=True).stdout
    assert "CartPole-v1" in out and "Pong" in out
    ids = out.split("\n\n")[0].splitlines()
    try:
        import mujoco  # noqa: F401
        has_mujoco = True
    except ImportError:
        has_mujoco = False
    assert ("Ant-v5" in ids) is has_mujoco
    assert "usage" in rl("envs", "--help", cwd=workdir, check=True).stdout


def test_help_never_says_default_none(workdir: Path):
    for algo in ("dqn", "qlearning", "classifier", "alphazero"):
        assert "(default: None)" not in rl("train", algo, "--help", cwd=workdir).stdout
