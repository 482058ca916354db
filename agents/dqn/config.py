"""DQN's options: one dataclass gives the flags, the YAML keys, the defaults and the checks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agents.dqn.presets import PRESETS, preset_values
from envs.atari import AtariOptions, atari_id
from rl.backbones import check_backbone
from rl.config import opt
from rl.errors import UserError

NAME = "dqn"


@dataclass
class Config:
    env: str = opt("Pong", "Atari game (Pong, Breakout, ALE/Pong-v5, ...) or gymnasium id "
                   "(CartPole-v1)")
    preset: Literal["auto", "der", "drq_eps"] = opt(
        "auto", "published settings under YAML and flags: auto (Nature-style DQN for Atari, RL "
        "Zoo's for classic control), der or drq_eps (Atari 100k, from Dopamine's configs; see "
        "agents/dqn/presets.py)")
    seed: int = opt(0, "seed for networks, exploration, replay and envs", min=0)
    steps: int = opt(10_000_000, "agent steps (env steps summed over --num-envs)", min=1,
                     resumable=True)
    impl: Literal["ours", "sb3"] = opt("ours", "ours, or stable-baselines3's DQN learning with our "
                                       "encoder (a second backend, for comparison)")
    num_envs: int = opt(1, "parallel envs", min=1)
    vec_env: Literal["auto", "sync", "async"] = opt(
        "auto", "async steps envs in subprocesses while the learner trains; auto: async for "
        "several Atari envs, sync for one (on few cores a subprocess fights torch's threads)")
    encoder: str = opt("auto", "backbone: nature, resnet18, ... (auto: nature for frames, mlp "
                       "for vectors)")
    init: Literal["torch", "xavier"] = opt(
        "torch", "initial weights: PyTorch's defaults, or Xavier-uniform with zero biases in "
        "every layer but noisy ones (Dopamine's networks)")
    # Atari preprocessing
    sticky_actions: float = opt(0.0, "ALE repeat_action_probability (0 like the Nature/CleanRL/"
                                "RL Zoo results we compare with; Dopamine and ALE v5 use 0.25)",
                                min=0.0, max=1.0)
    frame_stack: int = opt(4, "frames per observation (Atari)", min=1)
    terminal_on_life_loss: bool = opt(False, "a lost life ends the episode (scores then count "
                                      "one life)")
    learn_life_loss: bool = opt(False, "a lost life is an episode end for learning only: the "
                                "replay stores it as terminal, the game plays on and scores stay "
                                "whole games (the Atari 100k protocol)")
    max_episode_steps: int | None = opt(None, "time limit (default: 27000 agent steps for Atari, "
                                        "the env's own otherwise)", min=1)
    # learning
    buffer_size: int = opt(100_000, "replay capacity in transitions", min=1)
    batch_size: int = opt(32, "minibatch size", min=1)
    lr: float = opt(1e-4, "Adam learning rate", min=0.0, min_exclusive=True)
    lr_end: float | None = opt(None, "learning rate reached linearly at --steps (default: "
                               "constant)", min=0.0)
    adam_eps: float = opt(1.5e-4, "Adam epsilon", min=0.0, min_exclusive=True)
    gamma: float = opt(0.99, "discount", min=0.0, max=1.0)
    n_step: int = opt(3, "n-step returns", min=1)
    double: bool = opt(True, "Double DQN targets")
    dueling: bool = opt(True, "dueling Q head")
    atoms: int = opt(1, "return distribution atoms: 1 = expected values (DQN), 51 = C51's "
                     "categorical distribution", min=1)
    v_max: float = opt(10.0, "C51: the support spans [-v_max, v_max]", min=0.0,
                       min_exclusive=True)
    noisy: bool = opt(False, "noisy nets: factorised Gaussian noise in the Q head's layers, "
                      "resampled every step, off at evaluation")
    noisy_sigma: float = opt(0.5, "noisy nets: initial noise scale sigma_0", min=0.0)
    augment: Literal["none", "shift", "shift_intensity"] = opt(
        "none", "augment sampled frames (observations and next observations independently): "
        "shift pads 4 pixels by replication and crops back at random (DrQ); shift_intensity "
        "also scales each frame by 1 + 0.05 N(0,1) clipped at 2 sigma (Dopamine's DrQ)")
    prioritized: bool = opt(False, "prioritized replay (sum tree)")
    per_alpha: float = opt(0.5, "priority exponent", min=0.0)
    per_beta: float = opt(0.4, "initial importance-sampling exponent", min=0.0, max=1.0)
    per_beta_end: float = opt(1.0, "importance-sampling exponent reached at --steps", min=0.0,
                              max=1.0)
    loss: Literal["huber", "mse"] = opt("huber", "TD loss (expected values; C51 uses cross "
                                        "entropy)")
    max_grad_norm: float = opt(10.0, "gradient clipping (0 = off)", min=0.0)
    learning_starts: int = opt(20_000, "agent steps of random-policy data before learning", min=0)
    train_freq: int = opt(4, "agent steps between updates", min=1)
    gradient_steps: int = opt(1, "gradient steps per update", min=1)
    target_update: int = opt(1_000, "agent steps between hard target updates (1: the online "
                             "network is its own target)", min=1)
    tau: float = opt(1.0, "target update rate (1 = hard copy; <1 = Polyak every update)", min=0.0,
                     max=1.0, min_exclusive=True)
    epsilon: float = opt(1.0, "initial exploration rate", min=0.0, max=1.0)
    epsilon_end: float = opt(0.01, "final exploration rate", min=0.0, max=1.0)
    epsilon_steps: int = opt(100_000, "agent steps over which epsilon decays linearly", min=1)
    epsilon_from_learning_starts: bool = opt(False, "start epsilon's decay at --learning-starts "
                                             "(Dopamine) instead of at step 0")
    reward_clip: bool = opt(True, "learn from sign(reward) (scores are always reported raw)")
    # evaluation, logging, checkpoints
    eval_every: int = opt(50_000, "agent steps between evaluations", min=1, resumable=True)
    eval_episodes: int = opt(5, "episodes per evaluation", min=1, resumable=True)
    eval_envs: int = opt(1, "envs that play an evaluation's episodes together (each plays its "
                         "equal share, so short episodes are not favoured)", min=1,
                         resumable=True)
    final_eval: bool = opt(True, "evaluate the final network for summary.json", resumable=True)
    final_eval_episodes: int = opt(10, "episodes of the final evaluation, played by the final "
                                   "network and by the best checkpoint alike", min=1,
                                   resumable=True)
    eval_epsilon: float = opt(0.001, "exploration during evaluation", min=0.0, max=1.0,
                              resumable=True)
    record_every: int = opt(4, "record the first episode of every Nth evaluation to videos/ "
                            "(full game frames, MP4; 0 = never)", min=0, resumable=True)
    log_every: int = opt(10_000, "agent steps between metrics rows", min=1, resumable=True)
    checkpoint_every: int = opt(100_000, "agent steps between checkpoints", min=1, resumable=True)
    save_replay: bool = opt(True, "store the replay in latest.pt, so --resume continues with it "
                            "(not done, with a note, past 4 GB); without it a resumed run "
                            "refills --learning-starts steps before learning again",
                            resumable=True)
    init_encoder: str | None = opt(None, "checkpoint whose backbone weights start the Q-network "
                                   "(a classifier's, another DQN's, ...)")
    freeze_encoder: bool = opt(False, "train the Q head only (needs --init-encoder)")
    amp: bool = opt(False, "bfloat16 autocast (CUDA, and CPUs with AMX or AVX512-BF16)")
    compile: bool = opt(False, "torch.compile the Q-network")
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0,
                       resumable=True)

    def check(self) -> None:
        if self.batch_size > self.buffer_size:
            raise UserError(f"--batch-size ({self.batch_size}) is larger than --buffer-size "
                            f"({self.buffer_size})")
        if self.encoder != "auto":
            check_backbone(self.encoder)
        if self.freeze_encoder and not self.init_encoder:
            raise UserError("--freeze-encoder needs --init-encoder CKPT")
        if self.epsilon_end > self.epsilon:
            raise UserError(f"--epsilon-end ({self.epsilon_end}) exceeds --epsilon "
                            f"({self.epsilon})")
        if self.atoms == 2:
            raise UserError("--atoms must be 1 (expected values) or at least 3 (a distribution)")

    def run_name(self) -> str:
        return f"{NAME}-{self.env.replace('/', '-')}"


def defaults_for(layers: dict[str, Any]) -> dict[str, Any]:
    """The preset under YAML and flags: the one named, or the env family's (auto)."""
    env = layers.get("env", Config.env)
    name = layers.get("preset", Config.preset)
    if name not in PRESETS and name != "auto":
        return {}  # build_config reports the bad value, naming the choices
    return preset_values(name, atari=is_atari(env))


def is_atari(env: str) -> bool:
    return atari_id(env) is not None


def atari_options(cfg: Config) -> AtariOptions:
    return AtariOptions(sticky_actions=cfg.sticky_actions, frame_stack=cfg.frame_stack,
                        terminal_on_life_loss=cfg.terminal_on_life_loss,
                        max_episode_steps=cfg.max_episode_steps or 27_000)


def encoder_name(cfg: Config, obs_shape: tuple[int, ...]) -> str:
    return cfg.encoder if cfg.encoder != "auto" else ("nature" if len(obs_shape) == 3 else "mlp")


def dueling_head(cfg: Config) -> bool:
    return cfg.dueling and cfg.impl == "ours"  # SB3's Q-network is encoder + one linear layer


@dataclass
class EvalConfig:
    """`rl eval DIR` of a DQN run: raw game scores of the saved agent."""

    episodes: int = opt(100, "episodes to play", min=1)
    seed: int | None = opt(None, "seed of the episodes (default: the run's seed + 30000, "
                           "episodes training never saw)")
    epsilon: float | None = opt(None, "exploration while evaluating (default: the run's "
                                "--eval-epsilon)", min=0.0, max=1.0)


@dataclass
class RecordConfig:
    """`rl record DIR` of a DQN run: MP4s of the full game frames."""

    episodes: int = opt(1, "episodes to record", min=1)
    seed: int | None = opt(None, "seed of the recorded episodes (default: the run's seed + "
                           "40000)")
    epsilon: float | None = opt(None, "exploration while recording (default: the run's "
                                "--eval-epsilon)", min=0.0, max=1.0)
