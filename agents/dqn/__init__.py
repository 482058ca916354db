"""Deep Q-Network (Mnih et al. 2015) with the parts of Rainbow that matter on little data:
Double DQN, dueling heads, n-step returns, prioritized replay, C51's return distribution,
noisy nets and DrQ's augmentation, on Atari frames or classic-control vectors.

Presets: `--preset der` and `--preset drq_eps` are the Atari 100k agents of Dopamine's configs
(agents/dqn/presets.py, each value with its source); `rl suite atari100k` runs the benchmark.

The Q-network is a shared backbone (rl.backbones) plus a Q head. Observations reach the device
as uint8 and are scaled there, and replay stores each frame once (rl.replay).
"""
from agents.dqn.config import (
    NAME,
    Config,
    EvalConfig,
    RecordConfig,
    atari_options,
    defaults_for,
    encoder_name,
    is_atari,
)
from agents.dqn.evaluate import evaluate, load_learner, record
from agents.dqn.learner import Learner
from agents.dqn.network import network_meta, q_targets, td_loss
from agents.dqn.train import plot, spaces
from agents.dqn.train import train as train_ours
from rl.run import Run, RunOptions

EXPORT_KEYS = ("meta", "model", "step")  # a shipped agent: the Q-network alone


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict:
    """`rl train dqn`: ours, or stable-baselines3's DQN with our encoder (`--impl sb3`)."""
    if cfg.impl == "sb3":
        from agents.dqn.sb3 import train_sb3

        return train_sb3(cfg, run, opts, resume)
    return train_ours(cfg, run, opts, resume)

__all__ = ["NAME", "EXPORT_KEYS", "Config", "EvalConfig", "Learner", "RecordConfig",
           "atari_options", "defaults_for", "encoder_name", "evaluate", "is_atari",
           "load_learner", "network_meta", "plot",
           "q_targets", "record", "spaces", "td_loss", "train"]
