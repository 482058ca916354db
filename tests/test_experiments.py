"""Experiment files stay true to the code they document."""
from pathlib import Path

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
