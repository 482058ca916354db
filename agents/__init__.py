"""Learning algorithms. Each module exposes the same small surface used by the `rl` command:

    NAME, Config (dataclass of rl.config.opt fields, with run_name()),
    train(cfg, run, opts, resume) -> summary dict,
    evaluate(run, args) -> dict,
    plot(run) -> None,
    and optionally defaults_for(options) -> dict: defaults that depend on the env (a preset
    layer under YAML and flags, like RL Zoo's per-env hyperparameters).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from rl.errors import UserError, did_you_mean

# name -> (module, one-line description); modules are imported only when used
ALGORITHMS: dict[str, tuple[str, str]] = {
    "qlearning": ("agents.qlearning", "tabular Q-learning, SARSA or expected SARSA "
                  "(FrozenLake, Taxi, CliffWalking)"),
    "classifier": ("agents.classifier", "CNN image classifier on the shared backbones "
                   "(MNIST, Fashion-MNIST, CIFAR-10)"),
    "dqn": ("agents.dqn", "Deep Q-Network on Atari frames (Pong, Breakout, ...) or classic "
            "control (CartPole-v1)"),
    "alphazero": ("agents.alphazero", "MCTS + policy-value network by self-play, optionally "
                  "from expert games (tic-tac-toe, connect four, Go 5x5 to 9x9)"),
}


def load_algorithm(name: str) -> ModuleType:
    if name not in ALGORITHMS:
        raise UserError(f"unknown algorithm {name!r}{did_you_mean(name, ALGORITHMS)}; "
                        f"choose from {', '.join(ALGORITHMS)}")
    return importlib.import_module(ALGORITHMS[name][0])
