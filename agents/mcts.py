"""PUCT Monte-Carlo tree search guided by a policy-value network (AlphaGo Zero / AlphaZero).

Leaf evaluations are batched. `search` advances many trees at once (one per game being
played) and, within each tree, descends `leaves_per_tree` times under virtual loss, then asks
the network about every new leaf in one call. Popular Python implementations evaluate one
position at a time and leave the network idle between tiny calls; here a move of 32 parallel
games costs `simulations` network calls, not 32 x `simulations`.

Values are from the point of view of the player to move at a node; `W[i]` sums the values of
child i for the player choosing at that node, so selection maximises Q + U at every level.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from envs.games import Game

# (planes [B, C, H, W], legal masks [B, A]) -> (priors [B, A], values [B] for the side to move)
Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class SearchConfig:
    simulations: int = 100
    c_puct: float = 1.5
    dirichlet_alpha: float = 10.0  # divided by the number of legal moves (0.3 in chess, 0.03 in go)
    noise_eps: float = 0.25
    leaves_per_tree: int = 1  # > 1: several leaves per tree and network call, under virtual loss
    kind: str = "puct"  # or "gumbel": agents/gumbel.py (Danihelka et al. 2022)
    considered: int = 16  # gumbel: most root moves sampled (Gumbel-top-k), then halved
    c_visit: float = 50.0  # gumbel: sigma(q) = (c_visit + max visits) * c_scale * q
    c_scale: float = 0.1  # mctx's default; 1.0 learned worse (experiments/results/alphazero.md)


class Node:
    __slots__ = ("state", "player", "actions", "prior", "clean_prior", "N", "W", "visits",
                 "children", "returns", "pending", "value")

    def __init__(self, state) -> None:  # noqa: ANN001 (a pyspiel.State)
        self.state = state
        self.player = state.current_player()
        self.returns = np.asarray(state.returns()) if state.is_terminal() else None
        self.actions: np.ndarray | None = None  # set on expansion
        self.prior = self.clean_prior = self.N = self.W = None
        self.children: list[Node | None] = []
        self.visits = 0  # N.sum(), kept as a number: select() runs at every level of every descent
        self.pending = False
        self.value = 0.0  # the network's value for the side to move, set on expansion

    @property
    def expanded(self) -> bool:
        return self.actions is not None

    @property
    def terminal(self) -> bool:
        return self.returns is not None

    def expand(self, priors: np.ndarray, moves: np.ndarray) -> None:
        """Children for the candidate moves (a boolean mask over actions), with priors."""
        self.actions = np.flatnonzero(moves)
        self.clean_prior = self.prior = normalised(priors[self.actions].astype(np.float64))
        self.N = np.zeros(len(self.actions))
        self.W = np.zeros(len(self.actions))
        self.children = [None] * len(self.actions)

    def add_noise(self, cfg: SearchConfig, rng: np.random.Generator) -> None:
        alpha = cfg.dirichlet_alpha / len(self.actions)
        noise = rng.dirichlet(np.full(len(self.actions), alpha))
        self.prior = (1 - cfg.noise_eps) * self.clean_prior + cfg.noise_eps * noise

    def select(self, c_puct: float) -> int:
        """argmax of Q + U; an unvisited child has W = 0, so Q = 0 (even) until it is tried."""
        n = self.N
        u = (c_puct * math.sqrt(self.visits + 1)) * self.prior / (1 + n)
        return int((self.W / np.maximum(n, 1) + u).argmax())

    def child(self, i: int) -> Node:
        if self.children[i] is None:
            state = self.state.clone()
            state.apply_action(int(self.actions[i]))
            self.children[i] = Node(state)
        return self.children[i]

    def value_for(self, player: int, leaf_value: float) -> float:
        """The value of this (leaf) position for `player`; zero-sum, so the opponent's is -v."""
        if self.terminal:
            return float(self.returns[player])
        return leaf_value if player == self.player else -leaf_value

    def mean_value(self) -> float:
        """The search's value of this position for the side to move: the mean over its
        simulations (a lower-variance estimate than one game's result)."""
        return float(self.W.sum() / max(self.visits, 1)) if self.expanded else 0.0

    def policy(self, num_actions: int) -> np.ndarray:
        """Visit counts as a distribution over all actions (the search's improved policy)."""
        out = np.zeros(num_actions, dtype=np.float32)
        out[self.actions] = self.N / max(self.N.sum(), 1)
        return out


def normalised(p: np.ndarray) -> np.ndarray:
    """Priors over a node's moves summing to one (uniform where the network gave them none)."""
    total = p.sum()
    return p / total if total > 0 else np.full(len(p), 1.0 / len(p))


def evaluate_leaves(game: Game, leaves: Sequence[Node], evaluator: Evaluator) -> np.ndarray:
    """Expand every leaf with one network call; returns each leaf's value for its side to move."""
    if not leaves:
        return np.zeros(0)
    planes, masks = game.inputs_many([n.state for n in leaves])
    priors, values = evaluator(planes, masks)
    values = np.asarray(values, dtype=np.float64)
    for node, p, m, v in zip(leaves, priors, masks, values):
        node.expand(p, m)
        node.value = float(v)
    return values


def search(game: Game, roots: Sequence[Node], evaluator: Evaluator, cfg: SearchConfig,
           rng: np.random.Generator | None = None, budgets: Sequence[int] | None = None,
           noisy: Sequence[bool] | None = None) -> None:
    """Run simulations in every tree: cfg.simulations each, or budgets[i] in tree i. With rng,
    roots get Dirichlet noise (those where noisy[i], when given)."""
    fresh = [r for r in roots if not r.expanded and not r.terminal]
    evaluate_leaves(game, fresh, evaluator)
    budgets = [cfg.simulations] * len(roots) if budgets is None else budgets
    noisy = [True] * len(roots) if noisy is None else noisy
    remaining = {id(r): b for r, b in zip(roots, budgets) if not r.terminal}
    for root, noise in zip(roots, noisy):
        if root.expanded and not root.terminal:
            if noise and rng is not None:
                root.add_noise(cfg, rng)
            else:  # a reused subtree's root may carry noise from an earlier search
                root.prior = root.clean_prior
    simulate(game, roots, remaining, evaluator, cfg.leaves_per_tree,
             lambda root: descend(root, cfg.c_puct))


def simulate(game: Game, roots: Sequence[Node], remaining: dict[int, int], evaluator: Evaluator,
             leaves_per_tree: int,
             to_leaf: Callable[[Node], tuple[list[tuple[Node, int]], Node]]) -> None:
    """Spend each root's remaining simulations (keyed by id): up to `leaves_per_tree` descents
    per tree, then one network call for every new leaf, then the backups. `to_leaf(root)`
    chooses the path (PUCT here, Gumbel's in agents/gumbel.py) and adds its virtual loss."""
    live = [r for r in roots if remaining.get(id(r), 0) > 0]
    while live:
        paths: list[tuple[list[tuple[Node, int]], Node]] = []
        leaves: list[Node] = []
        for root in live:
            k = min(leaves_per_tree, remaining[id(root)])
            remaining[id(root)] -= k
            for _ in range(k):
                path, leaf = to_leaf(root)
                paths.append((path, leaf))
                if not leaf.terminal and not leaf.expanded and not leaf.pending:
                    leaf.pending = True
                    leaves.append(leaf)
        values = evaluate_leaves(game, leaves, evaluator)
        value_of = {id(n): v for n, v in zip(leaves, values)}
        for path, leaf in paths:
            leaf.pending = False
            v = value_of.get(id(leaf), 0.0)  # terminal leaves carry their own returns
            for node, i in path:  # the visit is counted already; replace the virtual loss
                node.W[i] += 1 + leaf.value_for(node.player, v)
        live = [r for r in live if remaining[id(r)] > 0]


def descend(root: Node, c_puct: float) -> tuple[list[tuple[Node, int]], Node]:
    """Follow PUCT to a leaf, adding a virtual loss on the way so that the next descent in the
    same batch prefers another path."""
    path: list[tuple[Node, int]] = []
    node = root
    while node.expanded and not node.terminal:
        i = node.select(c_puct)
        node.N[i] += 1
        node.visits += 1
        node.W[i] -= 1  # virtual loss: look like a lost game until the real value arrives
        path.append((node, i))
        node = node.child(i)
        if node.pending:
            break
    return path, node


def choose(root: Node, num_actions: int, temperature: float,
           rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """A move from the visit counts: sampled at temperature 1, the most visited at 0."""
    policy = root.policy(num_actions)
    if temperature > 0:
        p = policy.astype(np.float64) ** (1.0 / temperature)
        action = int(rng.choice(num_actions, p=p / p.sum()))
    else:
        best = np.flatnonzero(root.N == root.N.max())
        action = int(root.actions[rng.choice(best)])
    return action, policy


def pruned_policy(root: Node, num_actions: int, c_puct: float) -> np.ndarray:
    """The visit counts less the visits the final values do not justify (after KataGo's policy
    target pruning): each move but the most visited keeps only the visits after which PUCT,
    with the clean prior and the values the search ended with, would still have preferred it
    to the most visited move, and a move left with one visit is dropped. What root noise
    pushed onto weak moves goes, and so do the visits a move had before the best move's
    value was known (KataGo takes only its forced playouts): the target is sharper than the
    visits, never reordered at the top."""
    n = root.N.astype(np.float64)
    best = int(n.argmax())
    q = root.W / np.maximum(n, 1)
    scale = c_puct * math.sqrt(root.visits + 1)
    bar = q[best] + scale * root.clean_prior[best] / (1 + n[best])
    with np.errstate(divide="ignore"):
        earned = np.where(q < bar, np.floor(scale * root.clean_prior / (bar - q)), n)
    kept = np.minimum(n, earned)
    kept[kept <= 1] = 0
    kept[best] = n[best]
    out = np.zeros(num_actions, dtype=np.float32)
    out[root.actions] = kept / kept.sum()
    return out


def unrepeated(game: Game, root: Node, action: int) -> int:
    """`action`, unless it repeats a position (open_spiel ends the game as a draw; under
    positional superko, GNU Go's and ours against it, it is illegal): then the most visited
    move that does not, else a pass."""
    for a in [action, *map(int, root.actions[np.argsort(-root.N, kind="stable")])]:
        if not game.is_superko(root.state.child(a)):
            return a
    return game.pass_action


def drop_move(node: Node, action: int) -> None:
    """Take `action` out of an expanded node's moves, with its statistics, unless it is the
    only one (a search player's rule at its root, e.g. no first pass in Go)."""
    keep = node.actions != action
    if keep.all() or not keep.any():
        return
    node.actions, node.N, node.W = node.actions[keep], node.N[keep], node.W[keep]
    node.clean_prior = node.prior = normalised(node.clean_prior[keep])
    node.children = [c for c, k in zip(node.children, keep) if k]
    node.visits = int(node.N.sum())


def no_first_pass(game: Game, roots: Sequence[Node], evaluator: Evaluator) -> None:
    """Go: take the pass out of each root's moves unless it answers a pass (or is all that is
    left), so the player keeps answering moves played into its area; fresh roots are expanded
    first. A pass while the opponent plays on is what GNU Go exploits (go9.md, "Passing first")."""
    evaluate_leaves(game, [r for r in roots if not r.expanded and not r.terminal], evaluator)
    passing = game.pass_action
    for root in roots:
        if not root.terminal and root.state.history()[-1:] != [passing]:
            drop_move(root, passing)


def advance(root: Node, action: int) -> Node:
    """The subtree under the move played: its statistics are kept for the next search. A move
    the search never considers (in Go, an opponent filling its own eye) starts a fresh tree."""
    found = np.flatnonzero(root.actions == action) if root.expanded else []
    if len(found) == 0:
        state = root.state.clone()
        state.apply_action(action)
        return Node(state)
    return root.child(int(found[0]))


def uniform_evaluator(planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """No knowledge: uniform priors and even values (search alone, for tests and baselines)."""
    priors = masks / masks.sum(1, keepdims=True)
    return priors, np.zeros(len(planes))
