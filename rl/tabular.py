"""Tabular reinforcement learning: the textbook updates and value iteration, as plain functions.

Q is a float64 array [n_states, n_actions]. The model of an MDP is the pair of arrays
T[s, a, s'] (probability of a non-terminal transition to s') and R[s, a] (expected reward),
so value iteration is two vectorised lines per sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["qlearning", "sarsa", "expected_sarsa"]


@dataclass(frozen=True)
class Model:
    """T[s, a, s'] excludes transitions that terminate, so V(s') is not bootstrapped there."""

    T: np.ndarray
    R: np.ndarray

    @property
    def n_states(self) -> int:
        return self.T.shape[0]

    @property
    def n_actions(self) -> int:
        return self.T.shape[1]


def model_from_gym_P(P: dict[int, dict[int, list[tuple]]], n_states: int,
                     n_actions: int) -> Model:
    """Build the arrays from gymnasium's toy-text `env.unwrapped.P[s][a] = [(p, s', r, done)]`."""
    T = np.zeros((n_states, n_actions, n_states))
    R = np.zeros((n_states, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            for p, s2, r, done in P[s][a]:
                R[s, a] += p * r
                if not done:
                    T[s, a, s2] += p
    return Model(T, R)


def value_iteration(model: Model, gamma: float, tol: float = 1e-10,
                    max_sweeps: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Optimal (V, Q) by repeated Bellman optimality backups until the change is below `tol`."""
    V = np.zeros(model.n_states)
    for _ in range(max_sweeps):
        Q = model.R + gamma * model.T @ V
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return V_new, model.R + gamma * model.T @ V_new
        V = V_new
    return V, model.R + gamma * model.T @ V


def greedy(Q: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Greedy policy; ties (within tol) go to the lowest action so results are reproducible."""
    return np.argmax(Q >= Q.max(axis=1, keepdims=True) - tol, axis=1)


def epsilon_greedy_probs(q: np.ndarray, epsilon: float) -> np.ndarray:
    """Action probabilities of epsilon-greedy on one row of Q, ties sharing the greedy mass."""
    best = q == q.max()
    return epsilon / q.size + (1.0 - epsilon) * best / best.sum()


def td_target(Q: np.ndarray, reward: float, next_state: int, next_action: int, terminated: bool,
              gamma: float, method: Method, epsilon: float) -> float:
    """r + gamma * (what the method bootstraps from s'), or r at a terminal state.

    Truncation (a time limit) is not termination: we still bootstrap there.
    """
    if terminated:
        return reward
    q_next = Q[next_state]
    if method == "qlearning":
        bootstrap = q_next.max()
    elif method == "sarsa":
        bootstrap = q_next[next_action]
    else:  # expected SARSA: expectation under the epsilon-greedy behaviour policy
        bootstrap = float(epsilon_greedy_probs(q_next, epsilon) @ q_next)
    return reward + gamma * bootstrap


def td_update(Q: np.ndarray, state: int, action: int, target: float, lr: float) -> float:
    """Q[s, a] += lr * (target - Q[s, a]); returns the TD error."""
    error = target - Q[state, action]
    Q[state, action] += lr * error
    return error


def policy_value(model: Model, policy: np.ndarray, gamma: float,
                 horizon: int | None = None) -> np.ndarray:
    """Exact value of a deterministic policy: a linear solve, or `horizon` backups if given."""
    idx = np.arange(model.n_states)
    T_pi = model.T[idx, policy]
    R_pi = model.R[idx, policy]
    if horizon is None:
        return np.linalg.solve(np.eye(model.n_states) - gamma * T_pi, R_pi)
    V = np.zeros(model.n_states)
    for _ in range(horizon):
        V = R_pi + gamma * T_pi @ V
    return V
