"""`rl train dqn --impl sb3`: stable-baselines3's DQN learning with our encoders, in our run
directory (config, metrics.csv, checkpoints in our safe format, plots, summary)."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from envs import make_single_env
from rl.errors import UserError
from rl.run import Run, RunOptions
from rl.tracking import Trackers

# options of ours that SB3's DQN does not have: they are reported, not silently dropped
UNSUPPORTED = {"double": False, "dueling": False, "prioritized": False, "num_envs": 1,
               "tau": 1.0, "save_replay": False, "init_encoder": None, "freeze_encoder": False}


def train_sb3(cfg: Any, run: Run, opts: RunOptions, resume: bool, *, atari_options: Callable,
              encoder: str, meta: dict, plot: Callable) -> dict[str, Any]:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rl.sb3 import dqn_weights_to_ours, policy_kwargs, silent_logger

    if resume:
        raise UserError("--resume is not supported with --impl sb3 (SB3 checkpoints are pickles, "
                        "which we never load): start a new run")
    ignored = [k for k, v in UNSUPPORTED.items() if getattr(cfg, k) != v]
    if ignored:
        print(f"note: --impl sb3 ignores {', '.join('--' + k.replace('_', '-') for k in ignored)} "
              "(SB3's DQN has no such option)", file=sys.stderr)
    from stable_baselines3.common.monitor import Monitor

    # Monitor records episode returns for SB3's statistics and evaluation
    make = lambda: Monitor(make_single_env(cfg.env, atari_options(cfg),
                                           max_episode_steps=cfg.max_episode_steps))
    venv = DummyVecEnv([make])
    model = DQN("CnnPolicy" if len(venv.observation_space.shape) == 3 else "MlpPolicy", venv,
                learning_rate=cfg.lr, buffer_size=cfg.buffer_size, learning_starts=cfg.learning_starts,
                batch_size=cfg.batch_size, gamma=cfg.gamma, train_freq=cfg.train_freq,
                gradient_steps=cfg.gradient_steps, n_steps=cfg.n_step,
                target_update_interval=cfg.target_update, exploration_initial_eps=cfg.epsilon,
                exploration_final_eps=cfg.epsilon_end,
                exploration_fraction=min(cfg.epsilon_steps / cfg.steps, 1.0),
                max_grad_norm=cfg.max_grad_norm or 1e9, policy_kwargs=policy_kwargs(encoder),
                seed=cfg.seed, device=opts.device, verbose=0)
    model.set_logger(silent_logger())
    metrics = run.open_metrics(["step", "episodes", "episode_return", "epsilon", "eval_return",
                                "eval_std", "steps_per_s"])
    trackers = Trackers(run.path, run.config, tensorboard=opts.tensorboard, wandb=opts.wandb)
    eval_env = make()
    state = {"best": -np.inf, "episodes": 0}

    def save(best: bool) -> None:
        weights = dqn_weights_to_ours(model.q_net.state_dict())
        run.save({"meta": meta, "model": weights, "step": model.num_timesteps}, best=best)

    class Logger(BaseCallback):
        def _on_step(self) -> bool:
            step = self.num_timesteps
            state["episodes"] += int(np.sum(self.locals.get("dones", [])))
            if step % cfg.eval_every == 0 or step % cfg.log_every == 0:
                scores = None
                if step % cfg.eval_every == 0:
                    scores = np.asarray(evaluate_policy(model, eval_env, cfg.eval_episodes,
                                                        return_episode_rewards=True)[0])
                recent = [ep["r"] for ep in model.ep_info_buffer] if model.ep_info_buffer else []
                row = {"step": step, "episodes": state["episodes"],
                       "episode_return": float(np.mean(recent)) if recent else None,
                       "epsilon": model.exploration_rate,
                       "eval_return": float(scores.mean()) if scores is not None else None,
                       "eval_std": float(scores.std()) if scores is not None else None,
                       "steps_per_s": step / (time.perf_counter() - t0)}
                metrics.write(row)
                trackers.log(step, row)
                new_best = scores is not None and scores.mean() > state["best"]
                if new_best:
                    state["best"] = float(scores.mean())
                if new_best or step % cfg.checkpoint_every == 0:
                    save(best=new_best)
            return not run.stop

    run.stop.install()
    t0 = time.perf_counter()
    model.learn(cfg.steps, callback=Logger())
    save(best=False)
    plot(run)
    trackers.close()
    if run.stop:
        return {}
    scores = np.asarray(evaluate_policy(model, eval_env, cfg.eval_episodes,
                                        return_episode_rewards=True)[0])
    venv.close()
    return {"algo": "dqn", "impl": "sb3", "env": cfg.env, "encoder": encoder,
            "steps": model.num_timesteps, "train_episodes": state["episodes"],
            "train_time_s": round(time.perf_counter() - t0, 1),
            "best_eval_return": state["best"] if state["best"] > -np.inf else None,
            "mean_return": float(scores.mean()), "std_return": float(scores.std()),
            "eval_episodes": cfg.eval_episodes}
