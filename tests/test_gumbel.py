"""Gumbel AlphaZero's root (agents/gumbel.py) on cases small enough to check by hand: a bandit
whose every move ends the game with a known value, so each move's Q is exactly that value."""
from __future__ import annotations

import numpy as np
import pytest

from agents import gumbel
from agents.mcts import Node, SearchConfig

Q = np.array([0.1, 0.9, -0.5, 0.4])  # the first player's result after each move
PRIOR = np.array([0.7, 0.1, 0.1, 0.1])  # a prior that favours a poor move
ROOT_VALUE = 0.2


class Bandit:
    """One move, then the game is over with result Q[move]."""

    def __init__(self, move: int | None = None):
        self.move = move

    def current_player(self) -> int:
        return 0 if self.move is None else -4  # open_spiel's terminal player id

    def is_terminal(self) -> bool:
        return self.move is not None

    def returns(self) -> list[float]:
        q = float(Q[self.move])
        return [q, -q]

    def clone(self) -> Bandit:
        return Bandit(self.move)

    def apply_action(self, action: int) -> None:
        self.move = action


class BanditGame:
    num_actions = len(Q)

    def inputs_many(self, states: list[Bandit]) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(states), 1, 1, 1), np.float32), np.ones((len(states), len(Q)), bool)


def evaluator(planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(PRIOR, (len(planes), 1)), np.full(len(planes), ROOT_VALUE)


def searched(simulations: int, considered: int = 16) -> tuple[Node, SearchConfig, np.ndarray]:
    cfg = SearchConfig(simulations=simulations, kind="gumbel", considered=considered,
                       c_scale=1.0)  # large enough that Q outweighs the prior: easy by hand
    root = Node(Bandit())
    noise = gumbel.search(BanditGame(), [root], evaluator, cfg)[id(root)]
    return root, cfg, noise


def test_the_halving_schedule_is_mctx_sequence():
    # 4 moves, 8 simulations: one visit each (log2 4 = 2 phases of 8 / (2 * 4) = 1 round),
    # then the better 2 get 8 / (2 * 2) = 2 rounds each
    assert gumbel.considered_visits(4, 8) == (0, 0, 0, 0, 1, 1, 2, 2)
    assert gumbel.considered_visits(2, 5) == (0, 0, 1, 1, 2)
    assert gumbel.considered_visits(1, 3) == (0, 1, 2)


def test_sequential_halving_finds_the_best_move_despite_the_prior():
    root, cfg, noise = searched(simulations=8)
    # phase 1 visits all four; sigma(q) (51 x rescaled Q) outweighs the prior's logits, so the
    # best two by Q (moves 1 and 3) survive and take the last four simulations
    assert root.N.tolist() == [1, 3, 1, 3]
    assert gumbel.chosen(root, noise, cfg) == 1


def test_the_policy_target_is_softmax_of_logits_plus_sigma_of_completed_q():
    root, cfg, _ = searched(simulations=8)
    logits = np.log(PRIOR) - np.log(PRIOR).max()
    sigma = (50 + 3) * 1.0 * (Q - Q.min()) / (Q.max() - Q.min())
    expected = np.exp(logits + sigma) / np.exp(logits + sigma).sum()
    np.testing.assert_allclose(gumbel.policy_target(root, cfg, 4), expected, rtol=1e-5)


def test_the_root_value_is_the_improved_policys_not_the_mean_of_forced_visits():
    root, cfg, _ = searched(simulations=8)
    # the mean over the simulations counts halving's one visit to each move, -0.5 included:
    # (0.1 + 3 x 0.9 - 0.5 + 3 x 0.4) / 8; the improved policy is all but sure of move 1
    assert root.mean_value() == pytest.approx((Q[0] + 3 * Q[1] + Q[2] + 3 * Q[3]) / 8)
    target = gumbel.policy_target(root, cfg, 4)
    assert gumbel.root_value(root, cfg) == pytest.approx(target @ Q) == pytest.approx(0.9)
    puct = SearchConfig(simulations=8)  # PUCT's visits follow its preferences: their mean
    assert gumbel.root_value(root, puct) == root.mean_value()


def test_unvisited_moves_are_completed_by_the_mixed_value():
    root, cfg, _ = searched(simulations=2, considered=2)
    assert root.N.tolist() == [1, 1, 0, 0]  # the two of highest prior (ties: the first)
    visited_mean = (PRIOR[0] * Q[0] + PRIOR[1] * Q[1]) / (PRIOR[0] + PRIOR[1])
    mixed = (ROOT_VALUE + 2 * visited_mean) / 3
    completed = np.array([Q[0], Q[1], mixed, mixed])
    sigma = (50 + 1) * (completed - completed.min()) / (completed.max() - completed.min())
    np.testing.assert_allclose(gumbel.completed_q(root, cfg), sigma, rtol=1e-6)
    target = gumbel.policy_target(root, cfg, 4)
    assert target[2] > 0 and target[3] > 0  # moves never searched are trained too


def test_gumbel_noise_samples_moves_but_enough_simulations_still_find_the_best():
    cfg = SearchConfig(simulations=16, kind="gumbel", c_scale=1.0)
    rng = np.random.default_rng(0)
    roots = [Node(Bandit()) for _ in range(20)]
    noise = gumbel.search(BanditGame(), roots, evaluator, cfg, rng)
    assert len({tuple(noise[id(r)].round(6)) for r in roots}) == 20  # a draw per game
    assert all(gumbel.chosen(r, noise[id(r)], cfg) == 1 for r in roots)


def test_the_selfplay_benchmark_times_the_gumbel_search_too():
    from agents.bench import bench_selfplay

    result = bench_selfplay("tic_tac_toe", simulations=4, games=2, seconds=0.1, search="gumbel")
    assert result["search"] == "gumbel" and result["batched_positions_per_s"] > 0
