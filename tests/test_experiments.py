"""Experiment files stay true to the code they document."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from agents import dqn
from rl.config import build_config

ROOT = Path(__file__).resolve().parents[1]


def test_pong_yaml_states_the_real_defaults():
    documented = yaml.safe_load((ROOT / "experiments" / "pong.yaml").read_text())
    defaults = build_config(dqn.Config, dqn.defaults_for({"env": "Pong"}))
    from_yaml = build_config(dqn.Config, dqn.defaults_for(documented), documented)
    assert from_yaml == defaults


def test_every_experiment_config_is_valid():
    from agents import load_algorithm

    for path in (ROOT / "experiments").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        algo = data.pop("algo", "dqn")
        module = load_algorithm(algo)
        presets = getattr(module, "defaults_for", lambda _: {})(data)
        build_config(module.Config, presets, data)


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transfer_table_pairs_seeds_and_says_where_the_gain_holds(tmp_path: Path):
    transfer = script("transfer")
    accuracy = {"scratch": [0.80, 0.85, 0.90], "finetune": [0.86, 0.90, 0.96],
                "frozen": [0.70, 0.90, 0.80]}
    for arm, values in accuracy.items():
        for seed, acc in enumerate(values):
            run = tmp_path / f"100-{arm}-s{seed}"
            run.mkdir()
            (run / "summary.json").write_text(json.dumps({"test_accuracy": acc}))
    result = transfer.summarise(tmp_path, [100], [0, 1, 2])
    row = result["rows"][0]
    assert row["finetune"]["mean"] == pytest.approx(0.9067, abs=1e-4)  # the last epochs
    assert row["finetune_gain"]["mean"] == pytest.approx(0.0567, abs=1e-4)
    assert row["finetune_gain"]["holds"]  # +0.06, +0.05, +0.06: paired by seed, it holds
    assert not row["frozen_gain"]["holds"]  # -0.10, +0.05, -0.10
    transfer.write(tmp_path, result, tmp_path / "pretrained")
    assert "| 100 |" in (tmp_path / "transfer.md").read_text()
    assert (tmp_path / "transfer.png").stat().st_size > 5_000


def test_readme_timings_time_only_the_readmes_commands():
    assert script("readme_timings").not_in_readme((ROOT / "README.md").read_text()) == []


def test_avx2_cap_leaves_a_command_without_native_bf16(tmp_path: Path):
    timings = script("readme_timings")
    probe = ("import torch; print(torch.backends.cpu.get_cpu_capability(), "
             "torch.ops.mkldnn._is_mkldnn_bf16_supported())")
    row = timings.timed([sys.executable, "-c", probe], 120,
                        {**os.environ, **timings.ISA["avx2"]}, tmp_path)
    assert (row["exit"], row["capped"], row["tail"]) == (0, False, ["AVX2 False"])


def test_the_gumbel_value_check_pairs_each_searched_position_with_its_outcome():
    check = script("gumbel_value_check")
    rows = check.values_and_outcomes(ROOT / "experiments" / "agents" / "tic_tac_toe",
                                     simulations=4, games=3, seed=0)
    assert rows.shape[1] == 4 and 3 * 5 <= len(rows) <= 3 * 9  # 5 to 9 moves a game
    assert set(rows[:, 3]) <= {-1.0, 0.0, 1.0}  # the result for the side to move
    assert np.all(np.abs(rows[:, :3]) <= 1)


def test_the_denormal_script_reads_a_checkpoints_adam_state(tmp_path: Path):
    # half of it denormal, made from its bits: this process may flush float arithmetic to zero
    avg = torch.tensor([0x00100000, 0x00100000, 0x3F000000, 0] * 256,
                       dtype=torch.int32).view(torch.float32)
    state = {"optimizer": {"state": {0: {"step": torch.tensor(10.0), "exp_avg": avg,
                                         "exp_avg_sq": avg.clone()}}}}
    torch.save(state, tmp_path / "latest.pt")
    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "adam_denormal.py"),
                          str(tmp_path / "latest.pt"), "--threads", "1"],
                         capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout)
    assert figures["denormal_share_of_exp_avg"] == 0.5
    assert figures["adam_step_ms"] > 0 and figures["adam_step_ms_flushed"] > 0


def test_finetune_drift_measures_each_learning_rate_from_the_same_start():
    drift = script("finetune_drift").drift
    result = drift(ROOT / "experiments" / "agents" / "go9", ROOT / "tests" / "data" /
                   "cgoban-9x9.sgf", [0.0, 1e-2], steps=2)
    assert [row["lr"] for row in result["after"]] == [0.0, 1e-2]
    # a large step moves the network's value on the held-out positions; lr 0 moves only the
    # batch-norm statistics
    still, moved = (abs(row["held_out_value_loss"] - result["start"]["held_out_value_loss"])
                    for row in result["after"])
    assert moved > still


def test_policy_drift_is_nothing_for_the_start_itself():
    drift = script("policy_drift").drift
    agent = ROOT / "experiments" / "agents" / "go9"
    result = drift(agent, ROOT / "tests" / "data" / "cgoban-9x9.sgf", [agent], positions=50)
    itself, again = result["networks"]
    assert itself["kl_from_start"] == again["kl_from_start"] == 0.0
    assert 0 < itself["policy_entropy"] < np.log(82) and itself == again


STAND_IN_RL = """#!/usr/bin/env bash
# `rl` for the Go pipelines' plumbing: each call logged, files where the real one writes them;
# a new training run waits to be stopped where SLOW is set
after() { local flag=$1; shift; while [ $# -gt 1 ]; do
  [ "$1" = "$flag" ] && { echo "$2"; return; }; shift; done; }
run=$(after --resume "$@")$(after --run-dir "$@")
echo "$* | latest.pt there: $([ -f "$run/checkpoints/latest.pt" ] && echo yes || echo no)" \\
  >> "$CALLS"
case "$1 $2" in
  "games generate") mkdir -p "$(after --out "$@")"; touch "$(after --out "$@")/g.sgf" ;;
  "train alphazero")
    mkdir -p "$run/checkpoints" "$run/window"
    touch "$run/config.yaml" "$run/checkpoints/latest.pt" "$run/checkpoints/best.pt" \\
      "$run/window/iter0001.pt"
    if [ "$3" = --resume ] || [ -z "${SLOW:-}" ]; then touch "$run/summary.json"
    else exec sleep 60; fi ;;
  export*) mkdir -p "$(after --out "$@")" ;;
  *) echo '{}' ;;
esac
"""


def stand_in_rl(tmp_path: Path, keep: Path) -> dict[str, str]:
    """The environment that runs a Go pipeline's script on STAND_IN_RL."""
    rl = tmp_path / "rl"
    rl.write_text(STAND_IN_RL)
    rl.chmod(0o755)
    return {**os.environ, "RL": str(rl), "KEEP": str(keep), "DATA": str(tmp_path / "data"),
            "CALLS": str(tmp_path / "calls"), "SLOW": "1"}


def stop_when(path: Path, leg: subprocess.Popen) -> None:
    """SIGTERM to a leg once `path` exists (its step under way)."""
    while not path.exists():
        assert leg.poll() is None, f"the leg ended before {path} was written"
    leg.terminate()
    assert leg.wait(30) == 143


def packed(tarball: Path) -> list[str]:
    return subprocess.run(["tar", "-tzf", tarball], capture_output=True, text=True,
                          check=True).stdout.split()


def test_a_stopped_go9_training_leg_goes_on_from_what_it_kept(tmp_path: Path):
    """go9.sh's training leg stopped with SIGTERM packs the run into KEEP; a later leg on a
    machine without RUN unpacks it and resumes, and the pack goes once the networks are out."""
    run, keep = tmp_path / "run", tmp_path / "keep"
    env, script = stand_in_rl(tmp_path, keep), [ROOT / "experiments" / "go9.sh", run]
    stop_when(run / "window" / "iter0001.pt", subprocess.Popen(["bash", *script], env=env))
    kept = packed(keep / "training-run.tar.gz")
    assert "./checkpoints/latest.pt" in kept and "./checkpoints/best.pt" not in kept
    subprocess.run(["rm", "-r", run, tmp_path / "data"], check=True)  # another machine
    subprocess.run(["bash", *script], env=env, check=True, capture_output=True)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert f"train alphazero --resume {run} | latest.pt there: yes" in calls
    assert not any(c.startswith("games generate") for c in calls[3:])  # games kept too
    assert not (keep / "training-run.tar.gz").exists()
    assert (keep / "selfplay-agent").is_dir()


def test_the_search_curves_go_on_across_machines_from_what_they_kept(tmp_path: Path):
    base, keep = tmp_path / "runs", tmp_path / "keep"
    env = stand_in_rl(tmp_path, keep)
    script = ["bash", ROOT / "experiments" / "go9-selfplay.sh", base]
    stop_when(base / "puct" / "window" / "iter0001.pt", subprocess.Popen(script, env=env))
    subprocess.run(["rm", "-r", base], check=True)  # another machine
    subprocess.run(script, env={**env, "SLOW": ""}, check=True, capture_output=True)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert f"train alphazero --resume {base}/puct --no-progress | latest.pt there: yes" in calls
    started = [c for c in calls if c.startswith("train alphazero --game")]
    assert len(started) == 2 and all("--no-search-bf16" in c for c in started)  # any CPU
    kept = packed(keep / "selfplay-runs.tar.gz")
    assert "./puct/summary.json" in kept and "./gumbel/summary.json" in kept
    assert not any("/checkpoints/" in name or "/window/" in name for name in kept)
    steps = [json.loads(line) for line in (keep / "times.jsonl").read_text().splitlines()]
    assert [(s["step"], s["status"]) for s in steps] == [
        ("puct", "stopped"), ("puct", "done"), ("gumbel", "done")]
    assert all(s["cpu_id"].startswith("family ") for s in steps)  # which CPU timed each leg


def test_same_games_puts_ours_among_a_published_agents_one_run_aggregates(tmp_path: Path):
    compare = script("atari100k_same_games").compare
    for game, score in (("Boxing", 6.1), ("Pong", -3.05)):  # both half-way to human
        (tmp_path / game / "seed0").mkdir(parents=True)
        (tmp_path / game / "seed0" / "summary.json").write_text(json.dumps({"mean_return": score}))
    (tmp_path / "scores.json").write_text(json.dumps({"games_scored": ["Boxing", "Pong"],
                                                      "seeds_aggregated": [0]}))
    # three published runs a game: at random's score, half-way and at human's
    theirs = {"Boxing": [0.1, 6.1, 12.1], "Pong": [-20.7, -3.05, 14.6], "Alien": [300.0] * 3}
    result = compare(tmp_path, {"X": theirs})
    assert result["ours"]["iqm"] == 0.5 and result["X"]["iqm"] == 0.5
    assert result["X"]["one_run_a_game_iqm_2.5_50_97.5"][1] == 0.5
    assert result["X"]["ours_percentile_among_one_run_iqms"] == 50.0  # one below, one tied
