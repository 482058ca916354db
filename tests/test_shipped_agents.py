"""The agents shipped in experiments/agents: weights and config only, readable on a fresh clone."""
import json
from pathlib import Path

import pytest
import yaml

from agents import load_algorithm
from conftest import ROOT, rl
from rl.files import load_checkpoint

AGENTS = sorted(p for p in (ROOT / "experiments" / "agents").iterdir() if p.is_dir())


@pytest.mark.parametrize("agent", AGENTS, ids=[p.name for p in AGENTS])
def test_a_shipped_agent_holds_its_network_and_config_but_no_optimiser_or_replay(agent: Path):
    config = yaml.safe_load((agent / "config.yaml").read_text())
    state = load_checkpoint(agent / "checkpoints" / "best.pt")  # weights_only=True
    assert set(state) <= set(load_algorithm(config["algo"]).EXPORT_KEYS)
    assert json.loads((agent / "summary.json").read_text())["algo"] == config["algo"]


def test_the_shipped_tic_tac_toe_agent_loses_no_game_to_exact_minimax(tmp_path: Path):
    out = rl("eval", str(ROOT / "experiments/agents/tic_tac_toe"), "--opponent", "minimax",
             "--games", "10", "--json", cwd=tmp_path, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["losses"] == 0


def test_the_shipped_connect_four_agent_beats_alpha_beta_to_depth_4(tmp_path: Path):
    # The untrained network wins 4 of 20 against this opponent; the shipped one 96 of 100.
    out = rl("eval", str(ROOT / "experiments/agents/connect_four"), "--opponent", "minimax:4",
             "--games", "10", "--json", cwd=tmp_path, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["wins"] >= 8
