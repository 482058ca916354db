"""rl: tabular Q-learning, DQN, CNN classifiers and self-play behind one command.

Core modules hold no algorithm: `config` (dataclass configs), `run` (run directory,
checkpoints, metrics), `tracking`, `plots`, `progress`, `schedules`, `tabular`.
Algorithms live in `agents/`, environments in `envs/`, the command in `rl.cli`.
"""

__version__ = "0.1.0"
