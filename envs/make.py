"""Build gymnasium environments from the names people type."""
from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

# classic-control rendering uses pygame: no window and no sound device, ever
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import gymnasium as gym

from rl.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from envs.atari import AtariOptions

# Gymnasium 1.3 renamed Taxi-v3 to Taxi-v4 when it fixed the optional rainy/fickle modes;
# with those off (the default) the dynamics are the same, and v3 is what tutorials cite.
ALIASES = {"Taxi-v3": "Taxi-v4", "CliffWalking-v0": "CliffWalking-v1"}


def resolve_env_id(name: str) -> str:
    """The registered gymnasium id for `name`, or a UserError with the closest match."""
    name = ALIASES.get(name, name)
    if name in gym.registry:
        return name
    from envs.atari import atari_games

    ids = sorted(gym.registry) + atari_games()  # short Atari names (Pong) are what people type
    raise UserError(f"unknown environment {name!r}{did_you_mean(name, ids)}; "
                    "see `rl envs` for the list")


# Envs registered without a time limit (CliffWalking) get this one, so that a policy that walks
# into a wall forever cannot hang training or evaluation.
DEFAULT_MAX_EPISODE_STEPS = 1000


def make_env(name: str, *, render_mode: str | None = None, max_episode_steps: int | None = None,
             **kwargs: Any) -> gym.Env:
    env_id = resolve_env_id(name)
    if max_episode_steps is None and gym.spec(env_id).max_episode_steps is None:
        max_episode_steps = DEFAULT_MAX_EPISODE_STEPS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return gym.make(env_id, render_mode=render_mode, max_episode_steps=max_episode_steps,
                            **kwargs)
    except (TypeError, KeyError, ValueError, AssertionError) as e:
        if not kwargs:
            raise
        given = " ".join(f"{k}={v}" for k, v in kwargs.items())
        raise UserError(f"{env_id} rejects --env-kwargs {given} "
                        f"({type(e).__name__}: {str(e)[:100]})") from None
    except gym.error.Error as e:
        raise UserError(f"cannot make {env_id}: {e}") from None


def make_single_env(name: str, atari: AtariOptions | None = None,
                    render_mode: str | None = None,
                    max_episode_steps: int | None = None) -> gym.Env:
    """An Atari game (by short or full name) with DQN preprocessing, or any gymnasium env."""
    from envs.atari import AtariOptions, atari_id, make_atari

    full = atari_id(name)
    if full is not None:
        return make_atari(full, atari or AtariOptions(), render_mode=render_mode)
    return make_env(name, render_mode=render_mode, max_episode_steps=max_episode_steps)


def make_vector_env(name: str, num_envs: int, *, atari: AtariOptions | None = None,
                    asynchronous: bool = False,
                    max_episode_steps: int | None = None) -> gym.vector.VectorEnv:
    """N copies stepped together. Async runs them in subprocesses, so the learner can train
    while they step; gymnasium's default NEXT_STEP autoreset is assumed by the replay."""
    make_single_env(name, atari, max_episode_steps=max_episode_steps).close()  # errors here, once
    fns = [lambda: make_single_env(name, atari, max_episode_steps=max_episode_steps)] * num_envs
    if asynchronous:
        return gym.vector.AsyncVectorEnv(fns)
    return gym.vector.SyncVectorEnv(fns)
