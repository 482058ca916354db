"""DQN in its envs: the training actors that fill the replay, and evaluation episodes."""
from __future__ import annotations

import sys
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from agents.dqn.config import Config, atari_options, is_atari
from agents.dqn.learner import Learner
from envs import make_single_env, make_vector_env
from rl.replay import FrameReplay

_warned_render = False


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


def eval_env(cfg: Config, video_dir: Any = None, video_prefix: str = "eval",
             record: int = 0) -> tuple[Any, bool]:
    """One evaluation env; with video_dir, its first `record` episodes are recorded (gymnasium's
    RecordVideo, the full rendered frame). Returns the env and whether it records."""
    make = lambda mode=None: make_single_env(cfg.env, atari_options(cfg), render_mode=mode,  # noqa: E731
                                             max_episode_steps=cfg.max_episode_steps)
    if video_dir is None:
        return make(), False
    env = make("rgb_array")
    if not can_render(env):
        env.close()
        return make(), False
    from gymnasium.wrappers import RecordVideo

    with warnings.catch_warnings():  # one folder holds every evaluation's video
        warnings.simplefilter("ignore")
        return RecordVideo(env, str(video_dir), episode_trigger=lambda ep: ep < record,
                           name_prefix=video_prefix, disable_logger=True), True


def evaluate_episodes(learner: Learner, cfg: Config, episodes: int, seed: int,
                      epsilon: float, n_actions: int, video_dir: Any = None,
                      video_prefix: str = "eval", record: int = 1) -> np.ndarray:
    """Raw game scores of `episodes` episodes, played by up to --eval-envs envs at once with
    one network call per step. Each env plays a fixed share, so the result is the same set of
    episodes a single env would average, not the first ones to finish (short ones). With
    video_dir, the first env's first `record` episodes are recorded as
    <prefix>-episode-<i>-score-<s>.mp4."""
    n = min(cfg.eval_envs, episodes)
    quota = [episodes // n + (i < episodes % n) for i in range(n)]
    envs, recording = zip(*[eval_env(cfg, video_dir if i == 0 else None, video_prefix, record)
                            for i in range(n)])
    rng = np.random.default_rng(seed)
    obs = [env.reset(seed=seed + 1_000 * i)[0] for i, env in enumerate(envs)]
    scores: list[list[float]] = [[] for _ in range(n)]
    totals = np.zeros(n)
    active = [i for i in range(n) if quota[i]]
    while active:
        actions = learner.act(np.stack([obs[i] for i in active]), epsilon, rng, n_actions)
        for i, action in zip(list(active), actions):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            totals[i] += float(reward)
            if terminated or truncated:
                scores[i].append(totals[i])
                totals[i] = 0.0
                if len(scores[i]) == quota[i]:
                    active.remove(i)
                else:
                    obs[i], _ = envs[i].reset()
    for env in envs:
        env.close()
    if recording[0]:  # the score a recording shows belongs in its name
        for i, score in enumerate(scores[0][:record]):
            video = Path(video_dir) / f"{video_prefix}-episode-{i}.mp4"
            if video.exists():
                video.rename(video.with_name(f"{video.stem}-score-{score:g}.mp4"))
    return np.array([s for env_scores in scores for s in env_scores])


class Actors:
    """The vector of envs: steps them (in subprocesses, while the learner trains, when async),
    writes each transition to the replay and counts episodes. The step after an episode ends
    (gymnasium's NEXT_STEP autoreset) never enters the replay. With --learn-life-loss a lost
    life is stored as terminal while the game plays on, and returns count whole games."""

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
        self.lives: np.ndarray | None = None

    def frames(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, -1] if self.stacked else obs

    def reset(self, seed: int) -> np.ndarray:
        obs, infos = self.envs.reset(seed=seed)
        self.lives = infos.get("lives")
        self.replay.start(self.frames(obs))
        return obs

    def send(self, actions: np.ndarray) -> None:
        self.actions = actions
        if self.asynchronous:
            self.envs.step_async(actions)

    def life_lost(self, infos: dict[str, Any]) -> np.ndarray:
        """Envs whose last step cost a life without ending the game (--learn-life-loss)."""
        lives = infos.get("lives")
        lost = np.zeros(self.cfg.num_envs, dtype=bool)
        if self.cfg.learn_life_loss and lives is not None and self.lives is not None:
            lost = (lives < self.lives) & ~self.autoreset
        self.lives = lives
        return lost

    def receive(self) -> np.ndarray:
        if self.asynchronous:
            obs, rewards, terminated, truncated, infos = self.envs.step_wait()
        else:
            obs, rewards, terminated, truncated, infos = self.envs.step(self.actions)
        learn_rewards = np.sign(rewards) if self.cfg.reward_clip else rewards
        self.replay.add(self.actions, learn_rewards.astype(np.float32),
                        terminated | self.life_lost(infos), truncated, self.frames(obs),
                        self.autoreset)
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
