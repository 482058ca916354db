"""`rl train dqn --impl sb3`: stable-baselines3's DQN learning with our encoders, in our run
directory (config, metrics.csv, checkpoints in our safe format, plots, summary)."""
from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from envs import make_single_env
from rl.errors import UserError
from rl.loop import Loop
from rl.run import Run, RunOptions
from rl.stats import summarise_returns

COLUMNS = ["step", "episodes", "episode_return", "epsilon", "eval_return", "eval_std",
           "steps_per_s"]

# options of ours that SB3's DQN does not have: they are reported, not silently dropped
UNSUPPORTED = {"double": False, "dueling": False, "prioritized": False, "num_envs": 1,
               "tau": 1.0, "save_replay": False, "init_encoder": None, "freeze_encoder": False,
               "init": "torch"}


def train_sb3(cfg: Any, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.dqn.config import atari_options, encoder_name
    from agents.dqn.network import network_meta
    from agents.dqn.train import plot, spaces
    from rl.sb3 import dqn_weights_to_ours, dqn_weights_to_sb3

    if resume:
        raise UserError("--resume is not supported with --impl sb3 (SB3 checkpoints are pickles, "
                        "which we never load): start a new run")
    ignored = [k for k, v in UNSUPPORTED.items() if getattr(cfg, k) != v]
    if ignored:
        print(f"note: --impl sb3 ignores {', '.join('--' + k.replace('_', '-') for k in ignored)} "
              "(SB3's DQN has no such option)", file=sys.stderr)
    obs_shape, n_actions = spaces(cfg)
    loop = Loop(run, opts, seed=cfg.seed, meta=network_meta(cfg, obs_shape, n_actions))
    # Monitor records episode returns for SB3's statistics and evaluation
    make = lambda: Monitor(make_single_env(cfg.env, atari_options(cfg),
                                           max_episode_steps=cfg.max_episode_steps))
    venv = DummyVecEnv([make])
    model = sb3_dqn(cfg, venv, obs_shape, opts.device)
    loop.begin(COLUMNS, total=cfg.steps, done=0, label=f"dqn (sb3) {cfg.env}", plot=plot)
    eval_env = make()
    episodes = [0]

    def snapshot() -> dict[str, Any]:
        return {"meta": loop.meta, "model": dqn_weights_to_ours(model.q_net.state_dict()),
                "step": model.num_timesteps}

    def scores(episodes: int) -> np.ndarray:
        return np.asarray(evaluate_policy(model, eval_env, episodes,
                                          return_episode_rewards=True)[0], dtype=np.float64)

    class Logger(BaseCallback):
        def _on_step(self) -> bool:
            step = self.num_timesteps
            episodes[0] += int(np.sum(self.locals.get("dones", [])))
            if step % cfg.eval_every == 0 or step % cfg.log_every == 0:
                evaluated = scores(cfg.eval_episodes) if step % cfg.eval_every == 0 else None
                recent = [ep["r"] for ep in model.ep_info_buffer] if model.ep_info_buffer else []
                loop.log(step, {"step": step, "episodes": episodes[0],
                                "episode_return": float(np.mean(recent)) if recent else None,
                                "epsilon": model.exploration_rate,
                                "eval_return": evaluated.mean() if evaluated is not None else None,
                                "eval_std": evaluated.std() if evaluated is not None else None,
                                "steps_per_s": step / (time.perf_counter() - t0)})
                new_best = evaluated is not None and loop.offer(step, float(evaluated.mean()))
                if new_best or step % cfg.checkpoint_every == 0:
                    loop.save(snapshot(), best=new_best)
            loop.progress(step)
            return not loop.stopped

    t0 = time.perf_counter()
    model.learn(cfg.steps, callback=Logger())
    loop.close(snapshot())
    if loop.stopped:
        return {}
    final = {**summarise_returns(scores(cfg.final_eval_episodes)),
             "eval_episodes": cfg.final_eval_episodes}

    def best() -> dict[str, Any]:
        model.q_net.load_state_dict(dqn_weights_to_sb3(loop.run.load("best")["model"]))
        return {**summarise_returns(scores(cfg.final_eval_episodes)),
                "eval_episodes": cfg.final_eval_episodes}

    chosen = loop.settle(model.num_timesteps, final, best, snapshot())
    venv.close()
    return {"algo": "dqn", "impl": "sb3", "env": cfg.env, "encoder": encoder_name(cfg, obs_shape),
            "steps": model.num_timesteps, "train_episodes": episodes[0],
            "train_time_s": round(time.perf_counter() - t0, 1), **chosen}


def sb3_dqn(cfg: Any, venv: Any, obs_shape: tuple[int, ...], device: str) -> Any:
    """SB3's DQN with our settings and our encoder as its features extractor."""
    from stable_baselines3 import DQN

    from agents.dqn.config import encoder_name
    from rl.sb3 import policy_kwargs, silent_logger

    model = DQN("CnnPolicy" if len(obs_shape) == 3 else "MlpPolicy", venv,
                learning_rate=cfg.lr, buffer_size=cfg.buffer_size,
                learning_starts=cfg.learning_starts,
                batch_size=cfg.batch_size, gamma=cfg.gamma, train_freq=cfg.train_freq,
                gradient_steps=cfg.gradient_steps, n_steps=cfg.n_step,
                target_update_interval=cfg.target_update, exploration_initial_eps=cfg.epsilon,
                exploration_final_eps=cfg.epsilon_end,
                exploration_fraction=min(cfg.epsilon_steps / cfg.steps, 1.0),
                max_grad_norm=cfg.max_grad_norm or 1e9,
                policy_kwargs=policy_kwargs(encoder_name(cfg, obs_shape)),
                seed=cfg.seed, device=device, verbose=0)
    model.set_logger(silent_logger())
    return model
