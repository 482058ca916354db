"""Gumbel AlphaZero's search (Danihelka et al., "Policy improvement by planning with Gumbel",
ICLR 2022), in our batched trees: a policy improvement that holds with few simulations.

At the root, Gumbel-top-k samples up to `considered` moves (Gumbel noise g added to the prior
logits), and sequential halving shares the simulations among them: each phase visits every
remaining move equally, then keeps the better half by g + logits + sigma(completed Q). Below
the root, the move is the deterministic one whose visit share lags most behind the improved
policy. The move played is the best survivor; the policy target is softmax(logits +
sigma(completed Q)) over every legal move, so moves never visited are trained too.

Formulas and constants follow DeepMind's mctx (`gumbel_muzero_policy`,
`qtransform_completed_by_mix_value`, `seq_halving`): sigma(q) = (c_visit + max_b N(b)) *
c_scale * q, with Q rescaled to [0, 1] over the node's moves and unvisited moves completed by
the mixed value (the network's value and the visited moves' Q, weighted by their priors).
Our default c_scale is mctx's 0.1: with 1.0 the improved policy is nearly the argmax of
noisy Q values, and on Connect Four at 16 simulations it learned far more slowly
(experiments/results/alphazero.md).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from agents.mcts import Evaluator, Node, SearchConfig, evaluate_leaves, simulate
from envs.games import Game


@lru_cache(maxsize=256)
def considered_visits(considered: int, simulations: int) -> tuple[int, ...]:
    """The visit count a root move must have to be chosen at each simulation (mctx's
    `get_sequence_of_considered_visits`): phases of equal visits, halving the moves each time."""
    if considered <= 1:
        return tuple(range(simulations))
    log2max = math.ceil(math.log2(considered))
    sequence: list[int] = []
    visits = [0] * considered
    left = considered
    while len(sequence) < simulations:
        extra = max(1, int(simulations / (log2max * left)))
        for _ in range(extra):
            sequence.extend(visits[:left])
            for i in range(left):
                visits[i] += 1
        left = max(2, left // 2)
    return tuple(sequence[:simulations])


def logits(node: Node) -> np.ndarray:
    """The prior's logits over the node's moves (log-probabilities, shifted to a max of 0)."""
    prior = node.clean_prior
    return np.log(np.maximum(prior, 1e-30) / prior.max())


def completed_values(node: Node) -> np.ndarray:
    """Q over the node's moves for the player to move there, the unvisited ones completed by
    mctx's mixed value. (Few whole-array operations: this runs at every node of every descent.)"""
    if node.visits == 0:
        return np.full(len(node.N), node.value)
    visited = node.N > 0
    q = node.W / np.maximum(node.N, 1)
    weights = node.clean_prior * visited  # the network's value and the visited moves' Q
    total = weights.sum()
    weighted = weights @ q / total if total > 0 else q[visited].mean()
    mixed = (node.value + node.visits * weighted) / (node.visits + 1)
    return np.where(visited, q, mixed)


def completed_q(node: Node, cfg: SearchConfig) -> np.ndarray:
    """sigma(completed Q) over the node's moves, for the player to move there."""
    completed = completed_values(node)
    low, high = completed.min(), completed.max()
    scale = (cfg.c_visit + node.N.max()) * cfg.c_scale / max(high - low, 1e-8)
    return (completed - low) * scale


def interior_move(node: Node, cfg: SearchConfig) -> int:
    """Below the root: the move whose visits lag most behind the improved policy."""
    improved = softmax(logits(node) + completed_q(node, cfg))
    return int(np.argmax(improved - node.N / (1 + node.visits)))


def root_move(node: Node, gumbel: np.ndarray, cfg: SearchConfig, simulations: int) -> int:
    """At the root: among the moves sequential halving keeps at this simulation (those with the
    visit count its table asks for), the best by g + logits + sigma(completed Q)."""
    considered = min(cfg.considered, len(node.actions))
    table = considered_visits(considered, simulations)
    wanted = table[min(node.visits, simulations - 1)]
    return _best(node, gumbel, cfg, node.N == wanted)


def _best(node: Node, gumbel: np.ndarray, cfg: SearchConfig, allowed: np.ndarray) -> int:
    score = np.maximum(-1e9, gumbel + logits(node) + completed_q(node, cfg))
    return int(np.argmax(np.where(allowed, score, -np.inf)))


def descend(root: Node, gumbel: np.ndarray, cfg: SearchConfig, simulations: int
            ) -> tuple[list[tuple[Node, int]], Node]:
    """Root move by sequential halving, then the deterministic interior rule, to a leaf; each
    step adds a virtual loss as PUCT's descent does."""
    path: list[tuple[Node, int]] = []
    node, i = root, root_move(root, gumbel, cfg, simulations)
    while True:
        node.N[i] += 1
        node.visits += 1
        node.W[i] -= 1  # virtual loss, replaced by the value in the backup
        path.append((node, i))
        node = node.child(i)
        if node.pending or not node.expanded or node.terminal:
            return path, node
        i = interior_move(node, cfg)


def search(game: Game, roots: Sequence[Node], evaluator: Evaluator, cfg: SearchConfig,
           rng: np.random.Generator | None = None, budgets: Sequence[int] | None = None,
           noisy: Sequence[bool] | None = None) -> dict[int, np.ndarray]:
    """cfg.simulations (or budgets[i]) simulations in each tree, from fresh root statistics
    (sequential halving counts its phases from zero). With rng, the roots where noisy[i] get
    Gumbel noise (self-play); the others none (the strongest move). Returns each root's noise,
    keyed by id, for `chosen`."""
    fresh = [r for r in roots if not r.expanded and not r.terminal]
    evaluate_leaves(game, fresh, evaluator)
    budgets = [cfg.simulations] * len(roots) if budgets is None else budgets
    noisy = [True] * len(roots) if noisy is None else noisy
    noise: dict[int, np.ndarray] = {}
    for root, noise_on in zip(roots, noisy):
        if root.terminal:
            continue
        root.N[:] = 0
        root.W[:] = 0
        root.visits = 0
        root.prior = root.clean_prior
        root.children = [None] * len(root.actions)
        noise[id(root)] = (rng.gumbel(size=len(root.actions)) if noise_on and rng is not None
                           else np.zeros(len(root.actions)))
    remaining = {id(r): b for r, b in zip(roots, budgets) if not r.terminal}
    simulations = dict(remaining)
    simulate(game, roots, remaining, evaluator, cfg.leaves_per_tree,
             lambda root: descend(root, noise[id(root)], cfg, simulations[id(root)]))
    return noise


def chosen(root: Node, gumbel: np.ndarray, cfg: SearchConfig) -> int:
    """The move to play: the best survivor of sequential halving (most visited), as an action."""
    return int(root.actions[_best(root, gumbel, cfg, root.N == root.N.max())])


def policy_target(root: Node, cfg: SearchConfig, num_actions: int) -> np.ndarray:
    """softmax(logits + sigma(completed Q)) over the legal moves: the improved policy."""
    out = np.zeros(num_actions, dtype=np.float32)
    out[root.actions] = softmax(logits(root) + completed_q(root, cfg))
    return out


def root_value(root: Node, cfg: SearchConfig) -> float:
    """The search's value of the root for its side to move (value targets, resignation).
    PUCT's is the mean over the root's simulations, which its visits make the value of the
    moves it prefers. Under sequential halving that mean counts the visits forced on every
    considered move, the worst ones included, so Gumbel's is the value of the improved policy:
    its expected completed Q."""
    if cfg.kind != "gumbel":
        return root.mean_value()
    improved = softmax(logits(root) + completed_q(root, cfg))
    return float(improved @ completed_values(root))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()
