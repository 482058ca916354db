"""`rl eval` and `rl record` of a DQN run: the saved Q-network playing fresh episodes."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.dqn.config import NAME, Config, EvalConfig, RecordConfig
from agents.dqn.learner import Learner
from agents.dqn.network import network_meta
from agents.dqn.play import evaluate_episodes
from agents.dqn.train import spaces
from rl.config import saved_config
from rl.errors import UserError
from rl.files import check_checkpoint_meta
from rl.run import Run
from rl.stats import summarise_returns


def load_learner(run: Run, checkpoint: str, device: str = "cpu"
                 ) -> tuple[Learner, Config, int, int | None]:
    """The saved Q-network, the run's config, its action count and the checkpoint's step (one
    read: a latest.pt may hold the replay, 0.7 GB on Atari)."""
    cfg = saved_config(Config, run.config)
    obs_shape, n_actions = spaces(cfg)
    # the saved weights replace any encoder the run started from (it need not exist here)
    learner = Learner(replace(cfg, init_encoder=None, freeze_encoder=False), obs_shape,
                      n_actions, device)
    state = run.load(checkpoint)
    check_checkpoint_meta(run.checkpoint_path(checkpoint), state["meta"],
                          network_meta(cfg, obs_shape, n_actions))
    learner.q.load_state_dict(state["model"])  # evaluation needs the network alone
    return learner, cfg, n_actions, state.get("step")


def evaluate(run: Run, checkpoint: str, ev: EvalConfig, progress: bool = False
             ) -> dict[str, Any]:
    """`rl eval DIR`: raw game scores of the saved agent."""
    learner, cfg, n_actions, step = load_learner(run, checkpoint)
    seed = cfg.seed + 30_000 if ev.seed is None else ev.seed
    epsilon = cfg.eval_epsilon if ev.epsilon is None else ev.epsilon
    scores = evaluate_episodes(learner, cfg, ev.episodes, seed, epsilon, n_actions)
    return {"algo": NAME, "env": cfg.env, "checkpoint": checkpoint,
            "step": step, "epsilon": epsilon,
            **summarise_returns(scores),
            "episodes": ev.episodes, "min_return": float(scores.min()),
            "max_return": float(scores.max())}


def record(run: Run, checkpoint: str, rec: RecordConfig) -> dict[str, Any]:
    """`rl record DIR`: play and record episodes of the saved agent (MP4, full game frames),
    named with the checkpoint, the seed and the score."""
    learner, cfg, n_actions, _ = load_learner(run, checkpoint)
    seed = cfg.seed + 40_000 if rec.seed is None else rec.seed
    epsilon = cfg.eval_epsilon if rec.epsilon is None else rec.epsilon
    prefix = f"record-{Path(checkpoint).stem}-seed{seed}"
    scores = evaluate_episodes(learner, cfg, rec.episodes, seed, epsilon, n_actions,
                               video_dir=run.path / "videos", video_prefix=prefix,
                               record=rec.episodes)
    files = sorted(str(p) for p in (run.path / "videos").glob(f"{prefix}-*.mp4"))
    if not files:
        raise UserError(f"{cfg.env} cannot be rendered here (for classic control install "
                        "pygame), so nothing was recorded")
    return {"algo": NAME, "env": cfg.env, "checkpoint": checkpoint, "seed": seed,
            "epsilon": epsilon, "scores": scores.tolist(), "files": files}
