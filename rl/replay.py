"""Replay memory that stores each frame once (Dopamine's design), uniform or prioritized.

Each of the E parallel envs writes its own circular stream of C slots (array axis 1 is the env).
A slot holds the newest frame of one observation and, once the agent has acted there, the
action, reward and how the step ended. A frame-stacked observation is rebuilt at sample time
from the slot and the slots before it; a next observation is simply a later slot. An episode's
final observation gets a slot of its own with no action, so truncated episodes bootstrap from
their true last frame, and the autoreset observation gymnasium's vector API returns on the step
after `done` starts a new stream segment instead of entering the replay as a transition.

Every slot carries a write stamp (how many slots its stream had written before it). A stack or
an n-step window is valid only where stamps are consecutive: that one check rules out frames
overwritten at the write cursor and windows that reach past it, with no per-sample Python.

Bytes per Atari transition: 84*84 frame + 4 action + 4 reward + 4 flags + 8 stamp = 7,076.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Batch:
    obs: np.ndarray         # [B, *obs_shape]
    actions: np.ndarray     # [B]
    returns: np.ndarray     # [B] n-step discounted reward sum
    next_obs: np.ndarray    # [B, *obs_shape] observation to bootstrap from
    discounts: np.ndarray   # [B] gamma**k, or 0 where the episode terminated within the window
    weights: np.ndarray     # [B] importance weights (ones for uniform replay)
    indices: np.ndarray     # [B] flat slot ids, for update_priorities


class SumTree:
    """Binary tree of priorities with vectorised update and prefix-sum search."""

    def __init__(self, n: int):
        self.leaves = 1 << max(n - 1, 1).bit_length()
        self.tree = np.zeros(2 * self.leaves)

    def update(self, idx: np.ndarray, values: np.ndarray) -> None:
        node = np.asarray(idx) + self.leaves
        self.tree[node] = values
        node = np.unique(node // 2)
        while node.size and node[0] >= 1:
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]
            if node[0] == 1:
                break
            node = np.unique(node // 2)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, idx: np.ndarray) -> np.ndarray:
        return self.tree[np.asarray(idx) + self.leaves]

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf ids whose cumulative-priority interval contains each value of `mass`."""
        node = np.ones(len(mass), dtype=np.int64)
        mass = mass.copy()
        while node[0] < self.leaves:
            left = 2 * node
            go_right = mass >= self.tree[left]
            mass = np.where(go_right, mass - self.tree[left], mass)
            node = np.where(go_right, left + 1, left)
        return node - self.leaves


class FrameReplay:
    """Replay for E parallel streams; `stack` > 1 rebuilds frame stacks at sample time."""

    def __init__(self, capacity: int, num_envs: int, frame_shape: tuple[int, ...],
                 frame_dtype: Any = np.uint8, stack: int = 1, n_step: int = 1,
                 gamma: float = 0.99, prioritized: bool = False, alpha: float = 0.5,
                 eps: float = 1e-6, seed: int = 0):
        self.C = max(capacity // num_envs, stack + n_step + 1)
        self.E = num_envs
        self.stack, self.n_step, self.gamma = stack, n_step, gamma
        self.frame_shape = tuple(frame_shape)
        self.obs_shape = (stack, *frame_shape) if stack > 1 else self.frame_shape
        C, E = self.C, self.E
        self.frames = np.zeros((C, E, *frame_shape), dtype=frame_dtype)
        self.actions = np.zeros((C, E), dtype=np.int32)
        self.rewards = np.zeros((C, E), dtype=np.float32)
        self.terminated = np.zeros((C, E), dtype=bool)  # the step from this slot terminated
        self.done = np.zeros((C, E), dtype=bool)        # ... terminated or was truncated
        self.acted = np.zeros((C, E), dtype=bool)       # a transition starts at this slot
        self.first = np.zeros((C, E), dtype=bool)       # this frame starts an episode
        self.stamp = np.full((C, E), -(2 ** 62), dtype=np.int64)
        self.pos = -1                                   # slot of the current observation
        self.written = 0                                # slots written per stream
        self.rng = np.random.default_rng(seed)
        self.prioritized, self.alpha, self.eps = prioritized, alpha, eps
        self.tree = SumTree(C * E) if prioritized else None
        self.max_priority = 1.0

    # -- writing ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return min(self.written, self.C) * self.E

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.actions, self.rewards, self.terminated,
                                      self.done, self.acted, self.first, self.stamp))

    def _write_frame(self, frames: np.ndarray, first: np.ndarray) -> None:
        self.pos = (self.pos + 1) % self.C
        p = self.pos
        self.frames[p] = frames
        self.first[p] = first
        self.acted[p] = False
        self.done[p] = self.terminated[p] = False
        self.stamp[p] = self.written
        self.written += 1
        if self.tree is not None:  # this slot and those whose history it overwrote
            rows = (p + np.arange(self.stack)) % self.C
            self.tree.update((rows[:, None] * self.E + np.arange(self.E)).ravel(), 0.0)

    def start(self, frames: np.ndarray) -> None:
        """The first observations of all streams (after env.reset)."""
        self._write_frame(frames, np.ones(self.E, dtype=bool))

    def add(self, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            truncated: np.ndarray, next_frames: np.ndarray, autoreset: np.ndarray) -> None:
        """One vector-env step. Where `autoreset` is set, that env ignored the action and
        returned a reset observation: it begins an episode and is no transition."""
        p, acted = self.pos, ~autoreset
        self.actions[p, acted] = actions[acted]
        self.rewards[p, acted] = rewards[acted]
        self.terminated[p, acted] = terminated[acted]
        self.done[p, acted] = (terminated | truncated)[acted]
        self.acted[p, acted] = True
        self._write_frame(next_frames, autoreset.copy())
        if self.tree is not None:
            leaves = p * self.E + np.flatnonzero(acted)
            self.tree.update(leaves, np.full(leaves.size, self.max_priority ** self.alpha))

    # -- reading ----------------------------------------------------------------------------
    def _stack(self, slot: np.ndarray, env: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observations at (slot, env) and whether their whole history is still in memory.
        Frames before an episode's first frame repeat it, as gymnasium's FrameStack pads."""
        k = self.stack
        offsets = np.arange(k - 1, -1, -1)                    # oldest ... newest
        rows = (slot[:, None] - offsets) % self.C             # [B, k]
        cols = env[:, None]
        first = self.first[rows, cols]
        # position of the most recent episode start inside the window (0 if none)
        last_first = np.where(first.any(1), k - 1 - np.argmax(first[:, ::-1], axis=1), 0)
        src = np.maximum(np.arange(k)[None, :], last_first[:, None])
        ok_stamp = self.stamp[rows, cols] == self.stamp[slot, env][:, None] - offsets[None, :]
        valid = (ok_stamp | (np.arange(k)[None, :] < last_first[:, None])).all(1)
        frames = self.frames[np.take_along_axis(rows, src, 1), cols]
        obs = frames if k > 1 else frames[:, 0]
        return obs, valid

    def _window(self, slot: np.ndarray, env: np.ndarray) -> dict[str, np.ndarray]:
        """n-step returns from each slot, stopping at an episode end."""
        n = self.n_step
        steps = np.arange(n)
        rows = (slot[:, None] + steps) % self.C
        cols = env[:, None]
        contiguous = self.stamp[rows, cols] == self.stamp[slot, env][:, None] + steps
        alive = np.cumprod(contiguous & self.acted[rows, cols], axis=1).astype(bool)
        done = self.done[rows, cols]
        ended_before = np.concatenate([np.zeros((len(slot), 1), bool),
                                       np.cumsum(done, axis=1)[:, :-1] > 0], axis=1)
        used = alive & ~ended_before
        k = used.sum(1)
        ended = (used & done).any(1)
        terminated = (used & self.terminated[rows, cols]).any(1)
        returns = (used * self.gamma ** steps * self.rewards[rows, cols]).sum(1)
        return {"k": k, "valid": (k >= 1) & ((k == n) | ended), "returns": returns,
                "discounts": np.where(terminated, 0.0, self.gamma ** k),
                "next_slot": (slot + k) % self.C}

    def _candidates(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if self.tree is None:
            return self.rng.integers(min(self.written, self.C), size=size), \
                self.rng.integers(self.E, size=size)
        total = self.tree.total
        mass = (np.arange(size) + self.rng.random(size)) * (total / size)  # stratified
        leaves = self.tree.find(np.minimum(mass, total * (1 - 1e-12)))
        return leaves // self.E, leaves % self.E

    def sample(self, batch_size: int, beta: float = 0.4) -> Batch:
        if not self.can_sample():
            raise RuntimeError("replay has no complete transition yet")
        slot, env = self._candidates(batch_size)
        for _ in range(1000):
            obs, ok_hist = self._stack(slot, env)
            win = self._window(slot, env)
            ok = ok_hist & win["valid"] & self.acted[slot, env]
            if ok.all():
                break
            bad = ~ok  # a handful near the write cursor: draw those again
            s2, e2 = self._candidates(int(bad.sum()))
            slot, env = slot.copy(), env.copy()
            slot[bad], env[bad] = s2, e2
        else:
            raise RuntimeError("could not sample valid transitions; is the buffer tiny?")
        next_obs, _ = self._stack(win["next_slot"], env)
        flat = slot * self.E + env
        weights = np.ones(batch_size, dtype=np.float32)
        if self.tree is not None:
            probs = self.tree.get(flat) / self.tree.total
            weights = (len(self) * probs) ** (-beta)
            weights = (weights / weights.max()).astype(np.float32)
        return Batch(obs, self.actions[slot, env].astype(np.int64),
                     win["returns"].astype(np.float32), next_obs,
                     win["discounts"].astype(np.float32), weights, flat)

    def can_sample(self) -> bool:
        return self.written > self.stack + self.n_step

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        if self.tree is None:
            return
        priorities = np.abs(td_errors) + self.eps
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(indices, priorities ** self.alpha)

    # -- persistence (--save-replay) --------------------------------------------------------
    ARRAYS = ("frames", "actions", "rewards", "terminated", "done", "acted", "first", "stamp")

    def state_dict(self) -> dict[str, Any]:
        import torch

        state: dict[str, Any] = {k: torch.from_numpy(getattr(self, k)) for k in self.ARRAYS}
        state.update(pos=self.pos, written=self.written, max_priority=self.max_priority,
                     rng=self.rng.bit_generator.state)
        if self.tree is not None:
            state["tree"] = torch.from_numpy(self.tree.tree)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.ARRAYS:
            if tuple(state[k].shape) != getattr(self, k).shape:
                raise ValueError(f"saved replay {k} has shape {tuple(state[k].shape)}, "
                                 f"this run needs {getattr(self, k).shape}")
            getattr(self, k)[...] = state[k].numpy()
        self.pos, self.written = int(state["pos"]), int(state["written"])
        self.max_priority = float(state["max_priority"])
        self.rng.bit_generator.state = state["rng"]
        if self.tree is not None and "tree" in state:
            self.tree.tree[...] = state["tree"].numpy()
