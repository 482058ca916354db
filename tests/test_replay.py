"""Replay correctness: every sampled stack, n-step return and next observation is checked against
what the (fake) envs actually produced, across episode starts, truncations and wrap-around."""
from collections import deque

import numpy as np
import pytest

from rl.replay import FrameReplay, SumTree

STACK, GAMMA = 4, 0.9


class FakeVectorEnv:
    """E streams of unique 2x2 frames (value = a global counter), random episode ends, and
    gymnasium's NEXT_STEP autoreset: the step after `done` ignores the action and resets."""

    def __init__(self, num_envs: int, seed: int):
        self.E, self.rng, self.counter = num_envs, np.random.default_rng(seed), 0
        self.stacks = [deque(maxlen=STACK) for _ in range(num_envs)]
        self.need_reset = np.zeros(num_envs, bool)

    def _frame(self) -> np.ndarray:
        self.counter += 1
        return np.full((2, 2), self.counter, dtype=np.int64)

    def _reset_env(self, e: int) -> None:
        f = self._frame()
        self.stacks[e].clear()
        self.stacks[e].extend([f] * STACK)  # FrameStackObservation pads with the reset frame

    def reset(self) -> np.ndarray:
        for e in range(self.E):
            self._reset_env(e)
        return self.obs()

    def obs(self) -> np.ndarray:
        return np.stack([np.stack(s) for s in self.stacks])

    def step(self):
        rewards = self.rng.normal(size=self.E).astype(np.float32)
        term = self.rng.random(self.E) < 0.04
        trunc = ~term & (self.rng.random(self.E) < 0.03)
        autoreset = self.need_reset.copy()
        for e in range(self.E):
            if autoreset[e]:
                self._reset_env(e)
                rewards[e], term[e], trunc[e] = 0.0, False, False
            else:
                self.stacks[e].append(self._frame())
        self.need_reset = term | trunc
        return self.obs(), rewards, term, trunc, autoreset


def fill(replay: FrameReplay, env: FakeVectorEnv, steps: int, rng) -> dict:
    """Drive the replay like the DQN loop and record the truth for every transition."""
    obs = env.reset()
    replay.start(obs[:, -1])
    pending = []  # (e, stamp, obs, action, [(reward, term, done, next_obs)])
    truth = {}
    for _ in range(steps):
        actions = rng.integers(6, size=env.E)
        stamps = replay.stamp[replay.pos].copy()
        next_obs, rewards, term, trunc, autoreset = env.step()
        replay.add(actions, rewards, term, trunc, next_obs[:, -1], autoreset)
        for e in range(env.E):
            if autoreset[e]:
                continue
            pending.append({"e": e, "stamp": stamps[e], "obs": obs[e], "action": actions[e],
                            "chain": []})
            for p in pending:
                if p["e"] == e and len(p["chain"]) < replay.n_step and \
                        not (p["chain"] and p["chain"][-1][2]):
                    p["chain"].append((rewards[e], term[e], term[e] or trunc[e], next_obs[e]))
        for p in [p for p in pending if len(p["chain"]) == replay.n_step or p["chain"][-1][2]]:
            ret = sum(GAMMA ** k * r for k, (r, _, _, _) in enumerate(p["chain"]))
            last = p["chain"][-1]
            truth[(p["e"], p["stamp"])] = (p["obs"], p["action"], ret, last[3],
                                           0.0 if last[1] else GAMMA ** len(p["chain"]))
            pending.remove(p)
        obs = next_obs
    return truth


@pytest.mark.parametrize("num_envs, n_step, prioritized", [
    (1, 1, False), (1, 3, False), (3, 3, False), (2, 3, True), (2, 1, True)])
def test_every_sample_matches_what_the_env_produced(num_envs, n_step, prioritized):
    rng = np.random.default_rng(0)
    replay = FrameReplay(capacity=60 * num_envs, num_envs=num_envs, frame_shape=(2, 2),
                         frame_dtype=np.int64, stack=STACK, n_step=n_step, gamma=GAMMA,
                         prioritized=prioritized, seed=1)
    env = FakeVectorEnv(num_envs, seed=2)
    truth = fill(replay, env, 500, rng)  # ~8 wrap-arounds of a 60-slot stream
    checked = 0
    for _ in range(40):
        batch = replay.sample(32)
        slot, e = batch.indices // num_envs, batch.indices % num_envs
        for b in range(32):
            obs, action, ret, next_obs, discount = truth[(e[b], replay.stamp[slot[b], e[b]])]
            np.testing.assert_array_equal(batch.obs[b], obs)
            np.testing.assert_array_equal(batch.next_obs[b], next_obs)
            assert batch.actions[b] == action
            assert batch.returns[b] == pytest.approx(ret, rel=1e-5, abs=1e-6)
            assert batch.discounts[b] == pytest.approx(discount)
            checked += 1
        if prioritized:
            replay.update_priorities(batch.indices, rng.random(32) * 3)
    assert checked == 40 * 32


def test_samples_cover_episode_starts_and_the_oldest_slots():
    """Stacks padded at episode starts and transitions right behind the write cursor do occur."""
    rng = np.random.default_rng(0)
    replay = FrameReplay(60, 1, (2, 2), np.int64, stack=STACK, n_step=1, gamma=GAMMA, seed=3)
    env = FakeVectorEnv(1, seed=4)
    fill(replay, env, 300, rng)
    padded = 0
    for _ in range(50):
        batch = replay.sample(32)
        padded += int((batch.obs[:, 0, 0, 0] == batch.obs[:, 1, 0, 0]).sum())
    assert padded > 0


def test_atari_memory_per_transition():
    replay = FrameReplay(10_000, 1, (84, 84), np.uint8, stack=4, n_step=3)
    assert replay.nbytes / 10_000 <= 7_200


def test_prioritized_sampling_follows_priorities():
    tree = SumTree(4)
    tree.update(np.arange(4), np.array([1.0, 0.0, 3.0, 0.0]))
    assert tree.total == 4.0
    hits = tree.find(np.random.default_rng(0).random(40_000) * 4.0)
    assert set(np.unique(hits)) == {0, 2}
    assert np.mean(hits == 2) == pytest.approx(0.75, abs=0.02)


def test_vector_observations_without_stacking():
    replay = FrameReplay(100, 2, (4,), np.float32, stack=1, n_step=1)
    obs = np.arange(8, dtype=np.float32).reshape(2, 4)
    replay.start(obs)
    for t in range(10):
        replay.add(np.array([0, 1]), np.ones(2, np.float32), np.zeros(2, bool), np.zeros(2, bool),
                   obs + t + 1, np.zeros(2, bool))
    batch = replay.sample(16)
    assert batch.obs.shape == (16, 4) and batch.next_obs.shape == (16, 4)
    np.testing.assert_allclose(batch.next_obs - batch.obs, 1.0)


def test_state_dict_round_trip():
    replay = FrameReplay(50, 1, (2, 2), np.int64, stack=STACK, n_step=2, prioritized=True)
    fill(replay, FakeVectorEnv(1, seed=0), 80, np.random.default_rng(0))
    copy = FrameReplay(50, 1, (2, 2), np.int64, stack=STACK, n_step=2, prioritized=True)
    copy.load_state_dict(replay.state_dict())
    a, b = replay.sample(8), copy.sample(8)
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.indices, b.indices)
