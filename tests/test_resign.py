"""Self-play resignation (agents/alphazero/resign.py): calibrated on games played out."""
from __future__ import annotations

import numpy as np
import pytest

from agents.alphazero.resign import (
    CEILING,
    NEVER,
    WINDOW,
    Calibration,
    GameWatch,
    calibrate,
    played_out_figures,
)
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


def test_a_resigned_game_is_won_by_the_other_player_in_its_record_and_value_targets():
    game = load_game("go5")
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=0,
                        resign_threshold=0.99, resign_off_share=0.0)
    positions, _, records = self_play(game, uniform_evaluator, play, 4,
                                      np.random.default_rng(0))
    start = 0
    for record in records:
        resigner = len(record.moves) % 2  # the player to move when the game ended
        assert record.score == f"{'BW'[1 - resigner]}+R"
        assert record.result == (-1.0 if resigner == 0 else 1.0)
        values = positions.values[start:start + len(record.moves)]
        to_move = np.arange(len(values)) % 2
        assert (values[to_move == resigner] == -1.0).all()  # the loser's positions: lost
        assert (values[to_move != resigner] == 1.0).all()
        start += len(record.moves)


def test_the_threshold_lets_at_most_the_rate_of_winners_resign():
    lows = list(np.linspace(-0.99, 0.0, 40))
    threshold = calibrate(lows, rate=0.05)
    assert sum(low < threshold for low in lows) <= 2
    assert calibrate([0.5] * 40, rate=0.05) == CEILING  # never resign a game not clearly lost


def test_nobody_resigns_until_enough_games_were_played_out():
    # from a dozen winners the 5% quantile is their lowest value: too few to read it from
    assert calibrate([-0.9] * 39, rate=0.05) == NEVER
    assert calibrate([-0.9] * 40, rate=0.05) == -0.9


def test_the_calibration_reads_the_last_window_of_played_out_winners():
    calibration = Calibration(rate=0.05)
    calibration.update([-0.99] * WINDOW)  # an early value head, sure of losses it won
    assert calibration.threshold == -0.99
    calibration.update([-0.6] * WINDOW)
    assert calibration.threshold == -0.6
    restored = Calibration.restored(0.05, calibration.state_dict())
    assert restored.threshold == -0.6 and list(restored.lows) == list(calibration.lows)
    assert Calibration.restored(0.05, {"resign_threshold": -0.6}).threshold == NEVER


def test_false_resignations_are_counted_on_played_out_games():
    lost, won = GameWatch(allowed=False), GameWatch(allowed=False)
    lost.low, won.low = [-0.9, 0.5], [-0.9, 0.2]  # first player low in both games
    figures = played_out_figures([lost, won], [-1.0, 1.0], threshold=-0.8)
    assert figures["would_resign"] == 2 and figures["false_resign"] == 1
    assert sorted(figures["winner_lows"]) == [-0.9, 0.5]
