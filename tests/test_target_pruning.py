"""Policy target pruning (KataGo): the visits root noise alone bought leave the PUCT target."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from agents.alphazero.selfplay import PlaySettings, self_play
from agents.mcts import Node, SearchConfig, pruned_policy, uniform_evaluator
from conftest import rl
from envs.games import load_game


def test_moves_the_clean_prior_would_not_have_visited_so_often_lose_those_visits():
    game = load_game("connect_four")
    root = Node(game.new_state())
    root.expand(np.ones(7), np.ones(7, dtype=bool))
    root.clean_prior = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02])
    root.N = np.array([50.0, 20, 10, 10, 5, 3, 1])
    root.W = np.array([0.2, 0.1, -0.5, 0.15, 0.0, 0.0, 0.0]) * root.N
    root.visits = 99
    # c_puct sqrt(100) = 15; the most visited move's PUCT value 0.2 + 15 x 0.5 / 51 = 0.347;
    # move 1 keeps floor(15 x 0.2 / (0.347 - 0.1)) = 12 visits, move 3 floor(7.6) = 7,
    # move 4 floor(2.2) = 2; moves 2 and 5 would keep one visit (dropped), move 6 none
    kept = np.array([50, 12, 0, 7, 2, 0, 0]) / 71
    assert np.allclose(pruned_policy(root, 7, 1.5), kept, atol=1e-6)


def test_pruning_changes_the_targets_and_not_the_games():
    game = load_game("tic_tac_toe")
    play = PlaySettings(SearchConfig(simulations=32, noise_eps=0.5), temperature_moves=2)
    games = [self_play(game, uniform_evaluator, p, 4, np.random.default_rng(0))
             for p in (play, dataclasses.replace(play, target_pruning=True))]
    (plain, _, records), (pruned, _, pruned_records) = games
    assert [r.moves for r in records] == [r.moves for r in pruned_records]
    assert np.array_equal(plain.policies.argmax(1), pruned.policies.argmax(1))
    assert np.allclose(pruned.policies.sum(1), 1)
    assert (pruned.policies == 0).sum() > (plain.policies == 0).sum()


def test_self_play_prunes_its_targets_through_the_command(workdir: Path):
    summary = json.loads(rl("train", "alphazero", "--game", "tic_tac_toe", "--target-pruning",
                            "--iterations", "1", "--games-per-iteration", "4", "--simulations",
                            "8", "--train-steps", "2", "--batch-size", "16", "--eval-every", "0",
                            "--no-progress", "--threads", "1", "--run-dir", "p", cwd=workdir,
                            check=True).stdout)
    assert summary["iterations"] == 1
    assert "target_pruning: true" in (workdir / "p/config.yaml").read_text()


def test_pruning_is_refused_with_gumbel_search(workdir: Path):
    out = rl("train", "alphazero", "--game", "tic_tac_toe", "--search", "gumbel",
             "--target-pruning", "--no-progress", cwd=workdir)
    assert out.returncode == 2 and out.stderr.strip() == (
        "rl: error: --target-pruning prunes PUCT's visit counts; --search gumbel's targets are "
        "already its completed-Q policy")
    assert not (workdir / "runs").exists()
