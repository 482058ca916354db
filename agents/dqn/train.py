"""DQN's training loop, in the order of the paper's pseudocode: act epsilon-greedily, store the
transition, sample a minibatch, take a gradient step, now and then copy the target network,
evaluate, log and checkpoint. Env steps run in subprocesses while the learner trains
(`step_async` -> gradient steps -> `step_wait`) when there are several envs."""
from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

from agents.dqn.config import NAME, Config, atari_options, is_atari
from agents.dqn.learner import Learner
from agents.dqn.network import network_meta
from agents.dqn.play import Actors, evaluate_episodes
from envs import make_single_env
from rl.errors import UserError
from rl.loop import Loop, crossed
from rl.plots import plot_learning_curve
from rl.replay import FrameReplay
from rl.run import LossGuard, Run, RunOptions
from rl.schedules import Linear
from rl.stats import summarise_returns

COLUMNS = ["step", "episodes", "episode_return", "episode_length", "epsilon", "loss", "q_mean",
           "eval_return", "eval_std", "steps_per_s", "replay_size"]
PANELS = [("episode_return", "eval_return"), ("loss",), ("q_mean",), ("epsilon",)]
REPLAY_SAVE_LIMIT = 4 << 30  # bytes: past this a checkpoint would strain memory and disk


class Schedules:
    """Epsilon, the learning rate and PER's beta as functions of the agent step."""

    def __init__(self, cfg: Config):
        start = cfg.learning_starts if cfg.epsilon_from_learning_starts else 0
        self.cfg, self.epsilon_start = cfg, start
        self._epsilon = Linear(cfg.epsilon, cfg.epsilon_end, cfg.epsilon_steps)
        self.beta = Linear(cfg.per_beta, cfg.per_beta_end, max(cfg.steps - cfg.learning_starts, 1))
        self.lr = Linear(cfg.lr, cfg.lr if cfg.lr_end is None else cfg.lr_end, cfg.steps)

    def epsilon(self, step: int) -> float:
        if step < self.cfg.learning_starts:
            return 1.0  # the replay's first steps are a random policy's
        return self._epsilon(step - self.epsilon_start)


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    """Our DQN (`--impl ours`); agents/dqn/__init__.py sends `--impl sb3` to sb3.py."""
    obs_shape, n_actions = spaces(cfg)
    loop = Loop(run, opts, seed=cfg.seed, threads=cfg.threads,
                meta=network_meta(cfg, obs_shape, n_actions))
    learner = Learner(cfg, obs_shape, n_actions, opts.device)
    replay = make_replay(cfg, obs_shape)
    actors = Actors(cfg, replay)
    rng = np.random.default_rng(cfg.seed)
    keep_replay = cfg.save_replay and replay.nbytes <= REPLAY_SAVE_LIMIT
    step, learn_from, note, final_row = 0, cfg.learning_starts, "", None
    if state := loop.restore(resume):
        step, learn_from, note = restore(state, cfg, learner, actors, replay, rng)
        final_row = state.get("final_row")  # the step whose final evaluation was logged
    loop.begin(COLUMNS, total=cfg.steps, done=step, label=f"{NAME} {cfg.env}", plot=plot)
    if learn_from >= cfg.steps > step:
        note += (f"note: --steps {cfg.steps:,} ends before learning starts (step "
                 f"{learn_from:,}): this run collects random-policy data and never learns\n")
    print(note, end="", file=sys.stderr)
    at = Schedules(cfg)

    def snapshot() -> dict[str, Any]:
        return {"meta": loop.meta, **learner.state_dict(), **actors.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "learn_from": learn_from, "final_row": final_row,
                **({"replay": replay.state_dict()} if keep_replay else {})}

    obs = actors.reset(seed=cfg.seed + step)  # a resumed run starts fresh episodes
    stats, scores, step0 = Stats(), None, step

    def log_row(scores: np.ndarray | None) -> None:
        loop.log(step, {"step": step, "episodes": actors.episodes,
                        "episode_return": actors.mean_return(),
                        "episode_length": actors.mean_length(), "epsilon": at.epsilon(step),
                        **stats.pop(), **eval_columns(scores),
                        "steps_per_s": (step - step0) / loop.leg_time(),
                        "replay_size": len(replay)})

    while loop.running(step):
        epsilon = at.epsilon(step)
        actions = learner.act(obs, epsilon, rng, n_actions, noise=cfg.noisy)
        actors.send(actions)  # async envs step while the learner trains below
        if step >= learn_from and replay.can_sample():
            learn(cfg, learner, replay, at, step, run.guard, stats)
        obs = actors.receive()
        prev, step = step, step + cfg.num_envs
        if cfg.tau >= 1.0 and crossed(step, prev, cfg.target_update):
            learner.sync_target()
        last = step >= cfg.steps and cfg.final_eval  # the final evaluation makes the last row
        new_best = False
        if crossed(step, prev, cfg.eval_every) and not last:
            scores = evaluate_episodes(learner, cfg, cfg.eval_episodes, cfg.seed + 10_000,
                                       cfg.eval_epsilon, n_actions, **recording(cfg, run, step))
            new_best = loop.offer(step, float(scores.mean()))
        if (crossed(step, prev, cfg.log_every) or step >= cfg.steps) and not last:
            log_row(scores)
            scores = None
        if crossed(step, prev, cfg.checkpoint_every) or new_best:
            loop.save(snapshot(), best=new_best)
        loop.progress(step, ret=actors.mean_return(), eps=epsilon,
                      best=loop.best_score if loop.best_step else None)
    actors.envs.close()
    final = None
    if cfg.final_eval and step >= cfg.steps and not loop.stopped:
        final = final_scores(learner, cfg, step, n_actions, run)
        if final_row != step:  # once: a resume with nothing left to train adds no second row
            log_row(final)
            final_row = step
    loop.close(snapshot())
    if loop.stopped:
        return {}
    return {"algo": NAME, "env": cfg.env, "steps": step, "train_episodes": actors.episodes,
            "train_time_s": round(loop.train_time(), 1),  # all legs of a resumed run
            "steps_per_s": round(step / loop.train_time(), 1),
            **(final_figures(cfg, loop, learner, snapshot(), step, n_actions, final)
               if final is not None else {}),
            "replay_bytes_per_transition": round(replay.nbytes / (replay.C * replay.E), 1)}


def learn(cfg: Config, learner: Learner, replay: Any, at: Schedules, step: int,
          guard: LossGuard, stats: Stats) -> None:
    """The gradient updates due at this step, on prioritised samples whose priorities they
    refresh; a soft target (tau < 1) follows every update."""
    learner.set_lr(at.lr(step))
    for _ in range(updates_due(cfg, step)):
        batch = replay.sample(cfg.batch_size, at.beta(step - cfg.learning_starts))
        if (result := learner.update(batch, guard)) is not None:
            replay.update_priorities(batch.indices, result[2])
            stats.add(*result[:2])
            if cfg.tau < 1.0:
                learner.sync_target()


class Stats:
    """Losses and Q means of the updates since the last metrics row."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.qs: list[float] = []

    def add(self, loss: float, q_mean: float) -> None:
        self.losses.append(loss)
        self.qs.append(q_mean)

    def pop(self) -> dict[str, float | None]:
        row = {"loss": np.mean(self.losses) if self.losses else None,
               "q_mean": np.mean(self.qs) if self.qs else None}
        self.losses, self.qs = [], []
        return row


def eval_columns(scores: np.ndarray | None) -> dict[str, float | None]:
    if scores is None:
        return {"eval_return": None, "eval_std": None}
    return {"eval_return": scores.mean(), "eval_std": scores.std()}


def restore(state: dict[str, Any], cfg: Config, learner: Learner, actors: Actors,
            replay: FrameReplay, rng: np.random.Generator) -> tuple[int, int, str]:
    """Take back a checkpoint's learner, counters and generators, and its replay if it holds
    one; without it, learning waits until --learning-starts fresh steps refill the replay.
    Returns (step, the step learning resumes at, a line saying which)."""
    learner.load_state_dict(state)
    actors.load_state_dict(state)
    step, rng.bit_generator.state = state["step"], state["rng"]
    torch.set_rng_state(state["torch_rng"])
    learn_from = state.get("learn_from", cfg.learning_starts)
    if "replay" in state:
        replay.load_state_dict(state["replay"])
        return step, learn_from, (f"resumed at step {step:,} with its replay ({len(replay):,} "
                                  "transitions)\n")
    if step < learn_from:
        return step, learn_from, f"resumed at step {step:,}, before learning starts\n"
    return step, step + cfg.learning_starts, (
        f"resumed at step {step:,} without a saved replay: refilling it for "
        f"{cfg.learning_starts:,} steps before learning again\n")


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


def final_scores(learner: Learner, cfg: Config, step: int, n_actions: int,
                 run: Run) -> np.ndarray:
    """The final network on --final-eval-episodes fresh episodes; its first is recorded."""
    video = {"video_dir": run.path / "videos", "video_prefix": f"step{step:09d}"}
    return evaluate_episodes(learner, cfg, cfg.final_eval_episodes, cfg.seed + 20_000,
                             cfg.eval_epsilon, n_actions, **(video if cfg.record_every else {}))


def final_figures(cfg: Config, loop: Loop, learner: Learner, state: dict[str, Any], step: int,
                  n_actions: int, final: np.ndarray) -> dict[str, Any]:
    """The final network (`final`, its scores) and the best checkpoint on the same fresh
    episodes; the better one becomes best.pt and the summary's figures."""
    def figures(scores: np.ndarray) -> dict[str, Any]:
        return {**summarise_returns(scores), "eval_episodes": len(scores)}

    def best() -> dict[str, Any]:
        learner.q.load_state_dict(loop.run.load("best")["model"])
        return figures(evaluate_episodes(learner, cfg, cfg.final_eval_episodes,
                                         cfg.seed + 20_000, cfg.eval_epsilon, n_actions))

    return loop.settle(step, figures(final), best, state)


def plot(run: Run) -> None:
    plot_learning_curve(run.path / "metrics.csv", run.path / "learning_curve.png", PANELS,
                        title=f"DQN on {run.config.get('env')}")
