"""Deep Q-Network (Mnih et al. 2015) with Double DQN, dueling heads, n-step returns and
prioritized replay, on Atari frames or classic-control vectors.

The Q-network is a shared backbone (rl.backbones) plus a Q head. Env steps run in subprocesses
while the learner trains (`step_async` -> gradient steps -> `step_wait`), observations reach the
device as uint8 and are scaled there, and replay stores each frame once (rl.replay).
"""
from __future__ import annotations

import copy
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from envs import make_single_env, make_vector_env
from envs.atari import AtariOptions, atari_id
from rl.backbones import check_backbone, load_encoder, make_backbone
from rl.config import opt, saved_config
from rl.errors import UserError
from rl.heads import QHead
from rl.loop import Loop, crossed
from rl.plots import plot_learning_curve
from rl.precision import use_amp
from rl.replay import Batch, FrameReplay
from rl.run import LossGuard, Run, RunOptions, check_checkpoint_meta
from rl.schedules import Linear
from rl.stats import summarise_returns

NAME = "dqn"
EXPORT_KEYS = ("meta", "model", "step")  # a shipped agent: the Q-network alone
COLUMNS = ["step", "episodes", "episode_return", "episode_length", "epsilon", "loss", "q_mean",
           "eval_return", "eval_std", "steps_per_s", "replay_size"]
PANELS = [("episode_return", "eval_return"), ("loss",), ("q_mean",), ("epsilon",)]


@dataclass
class Config:
    env: str = opt("Pong", "Atari game (Pong, Breakout, ALE/Pong-v5, ...) or gymnasium id "
                   "(CartPole-v1)")
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
    # Atari preprocessing
    sticky_actions: float = opt(0.0, "ALE repeat_action_probability (0 like the Nature/CleanRL/"
                                "RL Zoo results we compare with; Dopamine and ALE v5 use 0.25)",
                                min=0.0, max=1.0)
    frame_stack: int = opt(4, "frames per observation (Atari)", min=1)
    terminal_on_life_loss: bool = opt(False, "end episodes for learning when a life is lost")
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
    prioritized: bool = opt(False, "prioritized replay (sum tree)")
    per_alpha: float = opt(0.5, "priority exponent", min=0.0)
    per_beta: float = opt(0.4, "initial importance-sampling exponent (annealed to 1)", min=0.0,
                          max=1.0)
    loss: Literal["huber", "mse"] = opt("huber", "TD loss")
    max_grad_norm: float = opt(10.0, "gradient clipping (0 = off)", min=0.0)
    learning_starts: int = opt(20_000, "agent steps of random-policy data before learning", min=0)
    train_freq: int = opt(4, "agent steps between updates", min=1)
    gradient_steps: int = opt(1, "gradient steps per update", min=1)
    target_update: int = opt(1_000, "agent steps between hard target updates", min=1)
    tau: float = opt(1.0, "target update rate (1 = hard copy; <1 = Polyak every update)", min=0.0,
                     max=1.0, min_exclusive=True)
    epsilon: float = opt(1.0, "initial exploration rate", min=0.0, max=1.0)
    epsilon_end: float = opt(0.01, "final exploration rate", min=0.0, max=1.0)
    epsilon_steps: int = opt(100_000, "agent steps over which epsilon decays linearly", min=1)
    reward_clip: bool = opt(True, "learn from sign(reward) (scores are always reported raw)")
    # evaluation, logging, checkpoints
    eval_every: int = opt(50_000, "agent steps between evaluations", min=1, resumable=True)
    eval_episodes: int = opt(5, "episodes per evaluation", min=1, resumable=True)
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
    save_replay: bool = opt(False, "store the replay with each checkpoint, so --resume keeps it",
                            resumable=True)
    init_encoder: str | None = opt(None, "checkpoint whose backbone weights start the Q-network "
                                   "(a classifier's, another DQN's, ...)")
    freeze_encoder: bool = opt(False, "train the Q head only (needs --init-encoder)")
    amp: bool = opt(False, "bfloat16 autocast (CUDA, and CPUs with AMX or AVX512-BF16)")
    compile: bool = opt(False, "torch.compile the Q-network")
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0)

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

    def run_name(self) -> str:
        return f"{NAME}-{self.env.replace('/', '-')}"


# Presets by env family, applied under YAML and flags (like RL Zoo's per-env hyperparameters).
# Classic control: RL Zoo's tuned CartPole-v1 DQN (batch 64, 128 gradient steps every 256 env
# steps, target every 10 steps, epsilon to 0.04 over 16% of 100k steps), made steady by three
# changes measured here (experiments/results/dqn-cartpole.md): lr 1e-3 annealed to 0 instead of
# a constant 2.3e-3, a dueling head and 3-step returns. Without them the greedy policy swings
# between 500 and ~50 late in training.
CLASSIC_PRESET: dict[str, Any] = {
    "buffer_size": 100_000, "batch_size": 64, "lr": 1e-3, "lr_end": 0.0, "adam_eps": 1e-8,
    "n_step": 3, "dueling": True, "learning_starts": 1_000, "train_freq": 256,
    "gradient_steps": 128, "target_update": 10, "epsilon_end": 0.04, "epsilon_steps": 16_000,
    "reward_clip": False, "eval_every": 10_000, "eval_episodes": 10, "log_every": 1_000,
    "checkpoint_every": 10_000, "steps": 100_000, "eval_epsilon": 0.0, "record_every": 3,
    "final_eval_episodes": 20,
}


def defaults_for(layers: dict[str, Any]) -> dict[str, Any]:
    """Config defaults for the env being trained: Atari fields are the dataclass defaults."""
    env = layers.get("env", Config.env)
    return {} if is_atari(env) else CLASSIC_PRESET


def is_atari(env: str) -> bool:
    return atari_id(env) is not None


class QNetwork(nn.Module):
    """backbone + Q head; uint8 frames are scaled to [0, 1] on the device."""

    def __init__(self, backbone: nn.Module, n_actions: int, dueling: bool):
        super().__init__()
        self.backbone = backbone
        self.head = QHead(backbone.out_features, n_actions, dueling=dueling)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0 if obs.dtype == torch.uint8 else obs.float()
        return self.head(self.backbone(x))


def q_targets(q_next_target: torch.Tensor, q_next_online: torch.Tensor | None,
              returns: torch.Tensor, discounts: torch.Tensor) -> torch.Tensor:
    """y = R + discount * Q_target(s', a*), a* = argmax of the online net (Double DQN) or
    of the target net (classic DQN, when q_next_online is None)."""
    chooser = q_next_online if q_next_online is not None else q_next_target
    best = chooser.argmax(dim=1, keepdim=True)
    return returns + discounts * q_next_target.gather(1, best).squeeze(1)


def td_loss(q: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
            kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    q_sa = q.gather(1, actions[:, None]).squeeze(1)
    td = targets - q_sa
    per_sample = F.smooth_l1_loss(q_sa, targets, reduction="none") if kind == "huber" \
        else F.mse_loss(q_sa, targets, reduction="none")
    return (weights * per_sample).mean(), td.detach()


def atari_options(cfg: Config) -> AtariOptions:
    return AtariOptions(sticky_actions=cfg.sticky_actions, frame_stack=cfg.frame_stack,
                        terminal_on_life_loss=cfg.terminal_on_life_loss,
                        max_episode_steps=cfg.max_episode_steps or 27_000)


def encoder_name(cfg: Config, obs_shape: tuple[int, ...]) -> str:
    return cfg.encoder if cfg.encoder != "auto" else ("nature" if len(obs_shape) == 3 else "mlp")


def dueling_head(cfg: Config) -> bool:
    return cfg.dueling and cfg.impl == "ours"  # SB3's Q-network is encoder + one linear layer


def build_network(cfg: Config, obs_shape: tuple[int, ...], n_actions: int) -> QNetwork:
    return QNetwork(make_backbone(encoder_name(cfg, obs_shape), obs_shape), n_actions,
                    dueling_head(cfg))


def network_meta(cfg: Config, obs_shape: tuple[int, ...], n_actions: int) -> dict:
    return {"algo": NAME, "env": cfg.env, "obs_shape": list(obs_shape), "n_actions": n_actions,
            "encoder": encoder_name(cfg, obs_shape), "dueling": dueling_head(cfg)}


class Learner:
    """The networks, optimiser and one gradient step: everything the loop does not."""

    def __init__(self, cfg: Config, obs_shape: tuple[int, ...], n_actions: int, device: str):
        self.cfg, self.device = cfg, torch.device(device)
        self.q = build_network(cfg, obs_shape, n_actions)
        if cfg.init_encoder:
            load_encoder(self.q.backbone, Path(cfg.init_encoder))
        if cfg.freeze_encoder:
            self.q.backbone.freeze()
        self.q = self.q.to(self.device)
        self.channels_last = len(obs_shape) == 3
        if self.channels_last:  # oneDNN and cuDNN convolutions are faster in NHWC
            self.q = self.q.to(memory_format=torch.channels_last)
        # batch norm and dropout: statistics and masks only in the gradient step's forward pass;
        # acting, targets and evaluation see the network in eval mode (the target net always)
        self.target = copy.deepcopy(self.q).requires_grad_(False).eval()
        # fused Adam: one kernel for all parameters instead of a loop of small ops (~10% faster)
        trainable = [p for p in self.q.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr, eps=cfg.adam_eps, fused=True)
        self.forward = torch.compile(self.q) if cfg.compile else self.q
        self.amp = use_amp(cfg.amp, self.device)
        self.pin = self.device.type == "cuda"

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(array)
        if self.pin:
            t = t.pin_memory()
        t = t.to(self.device, non_blocking=True)
        if self.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    @torch.no_grad()
    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator,
            n_actions: int) -> np.ndarray:
        explore = rng.random(len(obs)) < epsilon
        actions = rng.integers(n_actions, size=len(obs))
        # the network only sees the envs that act greedily: early on, most steps need no forward
        if not explore.all():
            self.q.eval()
            greedy = ~explore
            actions[greedy] = self.forward(self.to_device(obs[greedy])).argmax(dim=1).cpu().numpy()
        return actions

    def update(self, batch: Batch, guard: LossGuard) -> tuple[float, float, np.ndarray] | None:
        """One gradient step; None if the guard skips a non-finite loss."""
        obs, next_obs = self.to_device(batch.obs), self.to_device(batch.next_obs)
        actions = torch.from_numpy(batch.actions).to(self.device)
        returns = torch.from_numpy(batch.returns).to(self.device)
        discounts = torch.from_numpy(batch.discounts).to(self.device)
        weights = torch.from_numpy(batch.weights).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            with torch.no_grad():
                self.q.eval()
                q_next_online = self.forward(next_obs) if self.cfg.double else None
                targets = q_targets(self.target(next_obs).float(),
                                    None if q_next_online is None else q_next_online.float(),
                                    returns, discounts)
            self.q.train()
            q = self.forward(obs).float()
            loss, td = td_loss(q, actions, targets, weights, self.cfg.loss)
        if not guard.ok(loss):
            return None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], self.cfg.max_grad_norm)
        self.opt.step()
        return loss.item(), q.detach().mean().item(), td.cpu().numpy()

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def sync_target(self) -> None:
        """Target <- online (Polyak at tau < 1); batch-norm statistics are copied as they are."""
        with torch.no_grad():
            for t, s in zip(self.target.parameters(), self.q.parameters()):
                t.lerp_(s, self.cfg.tau)
            for t, s in zip(self.target.buffers(), self.q.buffers()):
                t.copy_(s)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.q.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q.load_state_dict(state["model"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["optimizer"])


def can_render(env: Any) -> bool:
    """A recording must never fail a run: without a renderer (pygame for classic control) we
    warn once and evaluate without video."""
    import gymnasium as gym

    try:
        env.reset(seed=0)
        env.render()
        return True
    except gym.error.DependencyNotInstalled as e:
        global _warned_render
        if not _warned_render:
            print(f"warning: no videos: {e}", file=sys.stderr)
            _warned_render = True
        return False


_warned_render = False


def evaluate_episodes(learner: Learner, cfg: Config, episodes: int, seed: int,
                      epsilon: float, n_actions: int, video_dir: Any = None,
                      video_prefix: str = "eval", record: int = 1) -> np.ndarray:
    """Raw game scores of `episodes` episodes. With video_dir, the first `record` are recorded
    (gymnasium's RecordVideo, the full rendered frame) as <prefix>-episode-<i>-score-<s>.mp4."""
    env = make_single_env(cfg.env, atari_options(cfg),
                          render_mode="rgb_array" if video_dir else None,
                          max_episode_steps=cfg.max_episode_steps)
    if video_dir is not None and not can_render(env):
        env.close()
        env = make_single_env(cfg.env, atari_options(cfg), max_episode_steps=cfg.max_episode_steps)
        video_dir = None
    if video_dir is not None:
        from gymnasium.wrappers import RecordVideo

        with warnings.catch_warnings():  # one folder holds every evaluation's video
            warnings.simplefilter("ignore")
            env = RecordVideo(env, str(video_dir), episode_trigger=lambda ep: ep < record,
                              name_prefix=video_prefix, disable_logger=True)
    rng = np.random.default_rng(seed)
    scores = np.empty(episodes)
    obs, _ = env.reset(seed=seed)
    for i in range(episodes):
        total, done = 0.0, False
        while not done:
            action = learner.act(obs[None], epsilon, rng, n_actions)[0]
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        scores[i] = total
        obs, _ = env.reset()
    env.close()
    if video_dir is not None:  # the score a recording shows belongs in its name
        for i in range(min(record, episodes)):
            video = Path(video_dir) / f"{video_prefix}-episode-{i}.mp4"
            if video.exists():
                video.rename(video.with_name(f"{video.stem}-score-{scores[i]:g}.mp4"))
    return scores


class Actors:
    """The vector of envs: steps them (in subprocesses, while the learner trains, when async),
    writes each transition to the replay and counts episodes. The step after an episode ends
    (gymnasium's NEXT_STEP autoreset) never enters the replay."""

    def __init__(self, cfg: Config, replay: FrameReplay):
        atari = is_atari(cfg.env)
        self.asynchronous = cfg.vec_env == "async" or (cfg.vec_env == "auto" and atari
                                                       and cfg.num_envs > 1)
        self.envs = make_vector_env(cfg.env, cfg.num_envs, atari=atari_options(cfg),
                                    asynchronous=self.asynchronous,
                                    max_episode_steps=cfg.max_episode_steps)
        self.stacked = atari and cfg.frame_stack > 1
        self.cfg, self.replay = cfg, replay
        self.episodes = 0
        self.recent: deque[tuple[float, int]] = deque(maxlen=20)  # (return, length)
        self.autoreset = np.zeros(cfg.num_envs, dtype=bool)
        self.ep_return = np.zeros(cfg.num_envs)
        self.ep_len = np.zeros(cfg.num_envs, dtype=int)

    def frames(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, -1] if self.stacked else obs

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.envs.reset(seed=seed)
        self.replay.start(self.frames(obs))
        return obs

    def send(self, actions: np.ndarray) -> None:
        self.actions = actions
        if self.asynchronous:
            self.envs.step_async(actions)

    def receive(self) -> np.ndarray:
        if self.asynchronous:
            obs, rewards, terminated, truncated, _ = self.envs.step_wait()
        else:
            obs, rewards, terminated, truncated, _ = self.envs.step(self.actions)
        learn_rewards = np.sign(rewards) if self.cfg.reward_clip else rewards
        self.replay.add(self.actions, learn_rewards.astype(np.float32), terminated, truncated,
                        self.frames(obs), self.autoreset)
        live = ~self.autoreset
        self.ep_return[live] += rewards[live]
        self.ep_len[live] += 1
        self.autoreset = terminated | truncated
        for e in np.flatnonzero(self.autoreset):
            self.recent.append((float(self.ep_return[e]), int(self.ep_len[e])))
            self.episodes += 1
            self.ep_return[e], self.ep_len[e] = 0.0, 0
        return obs

    def mean_return(self) -> float | None:
        return float(np.mean([r for r, _ in self.recent])) if self.recent else None

    def mean_length(self) -> float | None:
        return float(np.mean([n for _, n in self.recent])) if self.recent else None

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "recent": [list(x) for x in self.recent]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = state["episodes"]
        self.recent.extend((r, n) for r, n in state["recent"])


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    if cfg.impl == "sb3":
        from agents.dqn_sb3 import train_sb3

        return train_sb3(cfg, run, opts, resume)
    obs_shape, n_actions = spaces(cfg)
    loop = Loop(run, opts, seed=cfg.seed, threads=cfg.threads,
                meta=network_meta(cfg, obs_shape, n_actions))
    learner = Learner(cfg, obs_shape, n_actions, opts.device)
    replay = make_replay(cfg, obs_shape)
    actors = Actors(cfg, replay)
    rng = np.random.default_rng(cfg.seed)
    step = 0
    if state := loop.restore(resume):
        learner.load_state_dict(state)
        actors.load_state_dict(state)
        step, rng.bit_generator.state = state["step"], state["rng"]
        torch.set_rng_state(state["torch_rng"])
        if "replay" in state:
            replay.load_state_dict(state["replay"])
    loop.begin(COLUMNS, total=cfg.steps, done=step, label=f"{NAME} {cfg.env}", plot=plot)
    epsilon_at = Linear(cfg.epsilon, cfg.epsilon_end, cfg.epsilon_steps)
    beta_at = Linear(cfg.per_beta, 1.0, max(cfg.steps - cfg.learning_starts, 1))
    lr_at = Linear(cfg.lr, cfg.lr if cfg.lr_end is None else cfg.lr_end, cfg.steps)

    def snapshot() -> dict[str, Any]:
        return {"meta": loop.meta, **learner.state_dict(), **actors.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                **({"replay": replay.state_dict()} if cfg.save_replay else {})}

    obs = actors.reset(seed=cfg.seed + step)  # a resumed run starts fresh episodes
    losses, qs, scores, t0, step0 = [], [], None, time.perf_counter(), step
    while loop.running(step):
        epsilon = epsilon_at(step) if step >= cfg.learning_starts else 1.0
        actions = learner.act(obs, epsilon, rng, n_actions)
        actors.send(actions)  # async envs step while the learner trains below
        if step >= cfg.learning_starts and replay.can_sample():
            learner.set_lr(lr_at(step))
            for _ in range(updates_due(cfg, step)):
                batch = replay.sample(cfg.batch_size, beta_at(step - cfg.learning_starts))
                if (result := learner.update(batch, run.guard)) is not None:
                    loss, q_mean, td = result
                    replay.update_priorities(batch.indices, td)
                    losses.append(loss)
                    qs.append(q_mean)
                    if cfg.tau < 1.0:
                        learner.sync_target()
        obs = actors.receive()
        prev, step = step, step + cfg.num_envs
        if cfg.tau >= 1.0 and crossed(step, prev, cfg.target_update):
            learner.sync_target()
        new_best = False
        if crossed(step, prev, cfg.eval_every):
            scores = evaluate_episodes(learner, cfg, cfg.eval_episodes, cfg.seed + 10_000,
                                       cfg.eval_epsilon, n_actions, **recording(cfg, run, step))
            new_best = loop.offer(step, float(scores.mean()))
        if crossed(step, prev, cfg.log_every) or step >= cfg.steps:
            loop.log(step, {"step": step, "episodes": actors.episodes,
                            "episode_return": actors.mean_return(),
                            "episode_length": actors.mean_length(), "epsilon": epsilon,
                            "loss": np.mean(losses) if losses else None,
                            "q_mean": np.mean(qs) if qs else None,
                            "eval_return": scores.mean() if scores is not None else None,
                            "eval_std": scores.std() if scores is not None else None,
                            "steps_per_s": (step - step0) / (time.perf_counter() - t0),
                            "replay_size": len(replay)})
            losses, qs, scores = [], [], None
        if crossed(step, prev, cfg.checkpoint_every) or new_best:
            loop.save(snapshot(), best=new_best)
        loop.progress(step, ret=actors.mean_return(), eps=epsilon,
                      best=loop.best_score if loop.best_step else None)
    actors.envs.close()
    loop.close(snapshot())
    if loop.stopped:
        return {}
    return {"algo": NAME, "env": cfg.env, "steps": step, "train_episodes": actors.episodes,
            "train_time_s": round(time.perf_counter() - t0, 1),
            "steps_per_s": round((step - step0) / (time.perf_counter() - t0), 1),
            **(final_figures(cfg, loop, learner, snapshot(), step, n_actions, run)
               if cfg.final_eval else {}),
            "replay_bytes_per_transition": round(replay.nbytes / (replay.C * replay.E), 1)}


def spaces(cfg: Config) -> tuple[tuple[int, ...], int]:
    """The observation shape and number of actions of the env, which must be Discrete."""
    env = make_single_env(cfg.env, atari_options(cfg), max_episode_steps=cfg.max_episode_steps)
    env.close()
    if not hasattr(env.action_space, "n"):
        raise UserError(f"{cfg.env} has continuous actions: DQN needs a Discrete action space")
    return tuple(env.observation_space.shape), int(env.action_space.n)


def make_replay(cfg: Config, obs_shape: tuple[int, ...]) -> FrameReplay:
    """Atari frames are stored once each and stacked at sample time (Dopamine's design)."""
    stacked = is_atari(cfg.env) and cfg.frame_stack > 1
    return FrameReplay(cfg.buffer_size, cfg.num_envs, obs_shape[1:] if stacked else obs_shape,
                       np.uint8 if is_atari(cfg.env) else np.float32,  # frames; vectors
                       stack=cfg.frame_stack if stacked else 1, n_step=cfg.n_step,
                       gamma=cfg.gamma, prioritized=cfg.prioritized, alpha=cfg.per_alpha,
                       seed=cfg.seed)


def updates_due(cfg: Config, step: int) -> int:
    """Gradient steps owed for the agent steps (step, step + num_envs]."""
    return ((step + cfg.num_envs) // cfg.train_freq - step // cfg.train_freq) * cfg.gradient_steps


def recording(cfg: Config, run: Run, step: int) -> dict[str, Any]:
    """Video of every --record-every-th evaluation, and of the trained agent at the end (by
    the final evaluation when there is one)."""
    last = step >= cfg.steps
    if not cfg.record_every or (last and cfg.final_eval):
        return {}
    if (step // cfg.eval_every - 1) % cfg.record_every == 0 or last:
        return {"video_dir": run.path / "videos", "video_prefix": f"step{step:09d}"}
    return {}


def final_figures(cfg: Config, loop: Loop, learner: Learner, state: dict[str, Any], step: int,
                  n_actions: int, run: Run) -> dict[str, Any]:
    """The final network and the best checkpoint on the same fresh episodes; the better one
    becomes best.pt and the summary's figures. The final network's first episode is recorded."""
    def figures(**video: Any) -> dict[str, Any]:
        scores = evaluate_episodes(learner, cfg, cfg.final_eval_episodes, cfg.seed + 20_000,
                                   cfg.eval_epsilon, n_actions, **video)
        return {**summarise_returns(scores), "eval_episodes": len(scores)}

    video = {"video_dir": run.path / "videos", "video_prefix": f"step{step:09d}"}
    final = figures(**(video if cfg.record_every else {}))

    def best() -> dict[str, Any]:
        learner.q.load_state_dict(loop.run.load("best")["model"])
        return figures()

    return loop.settle(step, final, best, state)


def plot(run: Run) -> None:
    plot_learning_curve(run.path / "metrics.csv", run.path / "learning_curve.png", PANELS,
                        title=f"DQN on {run.config.get('env')}")


def load_learner(run: Run, checkpoint: str, device: str = "cpu") -> tuple[Learner, Config, int]:
    cfg = saved_config(Config, run.config)
    obs_shape, n_actions = spaces(cfg)
    # the saved weights replace any encoder the run started from (it need not exist here)
    learner = Learner(replace(cfg, init_encoder=None, freeze_encoder=False), obs_shape,
                      n_actions, device)
    state = run.load(checkpoint)
    check_checkpoint_meta(run.checkpoint_path(checkpoint), state["meta"],
                          network_meta(cfg, obs_shape, n_actions))
    learner.q.load_state_dict(state["model"])  # evaluation needs the network alone
    return learner, cfg, n_actions


def evaluate(run: Run, args: Any) -> dict[str, Any]:
    """`rl eval DIR`: raw game scores of the saved agent."""
    learner, cfg, n_actions = load_learner(run, args.checkpoint)
    seed = cfg.seed + 30_000 if args.seed is None else args.seed
    scores = evaluate_episodes(learner, cfg, args.episodes, seed, cfg.eval_epsilon, n_actions)
    return {"algo": NAME, "env": cfg.env, "checkpoint": args.checkpoint,
            "step": run.load(args.checkpoint).get("step"), **summarise_returns(scores),
            "episodes": int(args.episodes), "min_return": float(scores.min()),
            "max_return": float(scores.max())}


def record(run: Run, args: Any) -> dict[str, Any]:
    """`rl record DIR`: play and record episodes of the saved agent (MP4, full game frames),
    named with the checkpoint, the seed and the score."""
    learner, cfg, n_actions = load_learner(run, args.checkpoint)
    seed = cfg.seed + 40_000 if args.seed is None else args.seed
    epsilon = cfg.eval_epsilon if args.epsilon is None else args.epsilon
    prefix = f"record-{Path(args.checkpoint).stem}-seed{seed}"
    scores = evaluate_episodes(learner, cfg, args.episodes, seed, epsilon, n_actions,
                               video_dir=run.path / "videos", video_prefix=prefix,
                               record=args.episodes)
    files = sorted(str(p) for p in (run.path / "videos").glob(f"{prefix}-*.mp4"))
    if not files:
        raise UserError(f"{cfg.env} cannot be rendered here (for classic control install "
                        "pygame), so nothing was recorded")
    return {"algo": NAME, "env": cfg.env, "checkpoint": args.checkpoint, "seed": seed,
            "epsilon": epsilon, "scores": scores.tolist(), "files": files}
