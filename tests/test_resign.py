"""Self-play resignation (agents/alphazero/resign.py): calibrated on games played out."""
from __future__ import annotations

import numpy as np
import pytest

from agents.alphazero.resign import CEILING, NEVER, GameWatch, calibrate, played_out_figures
from agents.alphazero.selfplay import PlaySettings, self_play
from agents.mcts import SearchConfig, uniform_evaluator
from envs.games import load_game


def test_a_player_resigns_after_two_of_its_moves_below_the_threshold():
    watch = GameWatch(allowed=True)
    assert not watch.resigns(0, -0.9, threshold=-0.8)  # one low value is not enough
    assert not watch.resigns(1, -0.95, threshold=-0.8)  # the other player's count is its own
    assert watch.resigns(0, -0.85, threshold=-0.8)
    assert watch.low[0] == -0.85


def test_resignation_never_fires_in_a_game_marked_resignation_off():
    watch = GameWatch(allowed=False)
    assert not any(watch.resigns(0, -1.0, threshold=-0.5) for _ in range(10))
    assert watch.low[0] == -1.0  # but it sees what the threshold would have done


@pytest.mark.parametrize("off_share, resigned", [(1.0, 0), (0.0, 6)])
def test_self_play_resigns_only_games_allowed_to(off_share: float, resigned: int):
    game = load_game("go5")
    # a threshold every value falls below: every game that may resign does, at once
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=0,
                        resign_threshold=0.99, resign_off_share=off_share)
    positions, stats, records = self_play(game, uniform_evaluator, play, 6,
                                          np.random.default_rng(0))
    assert stats["resigned"] == resigned and stats["played_out"] == 6 - resigned
    assert sum(r.score.endswith("+R") for r in records) == resigned
    if resigned:  # a resigned game has no final position: its score target is unknown
        assert np.isnan(positions.scores).all()


def test_the_threshold_lets_at_most_the_rate_of_winners_resign():
    lows = [-0.97, -0.9, -0.8, -0.7, -0.6, -0.4, -0.3, -0.2, -0.1, 0.0]
    threshold = calibrate(lows, rate=0.1)
    assert sum(low < threshold for low in lows) <= 1
    assert calibrate([0.5, 0.6], rate=0.05) == CEILING  # never resign a game not clearly lost
    assert calibrate([], rate=0.05) == NEVER


def test_false_resignations_are_counted_on_played_out_games():
    lost, won = GameWatch(allowed=False), GameWatch(allowed=False)
    lost.low, won.low = [-0.9, 0.5], [-0.9, 0.2]  # first player low in both games
    figures = played_out_figures([lost, won], [-1.0, 1.0], threshold=-0.8)
    assert figures["would_resign"] == 2 and figures["false_resign"] == 1
    assert sorted(figures["winner_lows"]) == [-0.9, 0.5]
