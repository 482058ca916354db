"""Atari through ALE and gymnasium's own wrappers: 84x84 grayscale, frame skip 4 with max-pooling,
no-op starts, 4 stacked frames, uint8 all the way to the network.

Gymnasium 1.x facts this module gets right: ale_py must be registered; AtariPreprocessing needs
the base env made with frameskip=1 (it skips frames itself); ALE/*-v5 defaults to sticky actions
0.25, the classic DQN results used none; AtariPreprocessing neither clips rewards (the learner
does, so scores stay raw) nor presses FIRE on reset (SB3's FireResetEnv does).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import gymnasium as gym

from rl.errors import UserError, did_you_mean

_registered = False


def register() -> None:
    global _registered
    if not _registered:
        import ale_py

        gym.register_envs(ale_py)
        _registered = True


def atari_games() -> list[str]:
    register()
    return sorted({k[4:].split("-")[0] for k in gym.registry
                   if k.startswith("ALE/") and k.endswith("-v5")})


def atari_id(name: str) -> str | None:
    """'Pong' -> 'ALE/Pong-v5'; full ids pass through; None if `name` is no Atari game."""
    register()
    if name.startswith("ALE/") or "NoFrameskip" in name:
        if name in gym.registry:
            return name
        raise UserError(f"unknown Atari env {name!r}"
                        f"{did_you_mean(name, [k for k in gym.registry if 'ALE/' in k])}")
    full = f"ALE/{name}-v5"
    return full if full in gym.registry else None


@dataclass(frozen=True)
class AtariOptions:
    sticky_actions: float = 0.0
    noop_max: int = 30
    frame_skip: int = 4
    frame_stack: int = 4
    terminal_on_life_loss: bool = False
    max_episode_steps: int = 27_000  # 108k frames, the standard cap (Machado et al. 2018)


def make_atari(env_id: str, opts: AtariOptions, render_mode: str | None = None) -> gym.Env:
    from stable_baselines3.common.atari_wrappers import FireResetEnv

    register()
    kwargs = {"frameskip": 1, "repeat_action_probability": opts.sticky_actions,
              "max_num_frames_per_episode": opts.max_episode_steps * opts.frame_skip}
    if env_id.startswith("ALE/"):
        kwargs["full_action_space"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=opts.noop_max, frame_skip=opts.frame_skip,
                                          screen_size=84, grayscale_obs=True,
                                          terminal_on_life_loss=opts.terminal_on_life_loss)
    if "FIRE" in env.unwrapped.get_action_meanings()[1:2]:
        env = FireResetEnv(env)
        if not opts.terminal_on_life_loss:  # then a life lost is a reset, which fires
            env = FireOnLifeLoss(env)
    return gym.wrappers.FrameStackObservation(env, opts.frame_stack)


class FireOnLifeLoss(gym.Wrapper):
    """Press FIRE once after a life is lost, in games that need it to serve (Breakout).

    Why: a greedy agent that never learnt to serve waits out the 27,000-step cap after its
    first lost life; an evaluation of an untrained Breakout agent then takes minutes of
    nothing. This does for every life what SB3's FireResetEnv does at reset (and what
    SB3's AtariWrapper gets by ending episodes at a lost life). Training and evaluation use
    the same rule, in every game with FIRE and lives; elsewhere it does nothing.
    """

    def reset(self, **kwargs):  # noqa: ANN003, ANN201
        obs, info = self.env.reset(**kwargs)
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info

    def step(self, action):  # noqa: ANN001, ANN201
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.env.unwrapped.ale.lives()
        if lives < self.lives and not (terminated or truncated):
            obs, more, terminated, truncated, info = self.env.step(1)  # FIRE
            reward += more
        self.lives = lives
        return obs, reward, terminated, truncated, info
