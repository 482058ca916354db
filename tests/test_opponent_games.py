"""Self-play with an opponent: a share of the games seats another player (an external GTP
engine in `rl train alphazero --opponent-engine`) at one side. Its moves are learnt as one-hot
targets, its games always teach the value, and the network never resigns in them."""
import shutil

import numpy as np
import pytest

from agents.alphazero.resign import NEVER
from agents.alphazero.selfplay import PlaySettings, play_games, self_play
from agents.arena.players import RandomPlayer
from agents.arena.protocol import RESIGN
from agents.mcts import SearchConfig, uniform_evaluator
from conftest import rl
from envs.games import load_game

GNUGO = shutil.which("gnugo") or shutil.which("gnugo", path="/usr/games")


def test_the_opponent_s_moves_are_played_and_learnt_as_one_hot_targets():
    game = load_game("connect_four")
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=100, opponent_share=1.0)
    data, stats, records = self_play(game, uniform_evaluator, play, 4,
                                     np.random.default_rng(0), RandomPlayer(game, 0))
    assert stats["opponent_games"] == 4
    start = 0
    for record in records:
        seat = record.players.index("random")
        for ply, move in enumerate(record.moves):
            if ply % 2 == seat:  # the opponent's move: the target is the move it played
                assert data.policies[start + ply].tolist() == np.eye(game.num_actions)[move]\
                    .tolist()
        start += len(record.moves)
    assert start == len(data)


def test_games_against_the_opponent_teach_the_value_whatever_self_play_s_weight():
    game = load_game("tic_tac_toe")
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=100,
                        selfplay_value_weight=0.0, opponent_share=0.5)
    done = list(play_games(game, uniform_evaluator, play, 16, np.random.default_rng(1),
                           RandomPlayer(game, 1)))
    against = [g for g in done if g.opponent_seat >= 0]
    assert 0 < len(against) < 16
    for g in done:
        assert set(g.positions.value_weight) == {1.0 if g.opponent_seat >= 0 else 0.0}


class Resigner(RandomPlayer):
    """Resigns at its second move."""

    def choose(self, keys):
        return [RESIGN if len(self.states[k].history()) >= 2 else self.move(self.states[k])
                for k in keys]


def test_the_network_never_resigns_against_the_opponent_and_wins_when_it_resigns():
    game = load_game("tic_tac_toe")
    # a threshold above every value: every self-play game resigns at its second chance
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=100,
                        resign_threshold=1.5, resign_off_share=0.0, opponent_share=0.5)
    done = list(play_games(game, uniform_evaluator, play, 12, np.random.default_rng(2),
                           Resigner(game, 2)))
    assert play.resign_threshold > NEVER
    for g in done:
        if g.opponent_seat >= 0:
            assert not g.watch.allowed and g.resigned  # the opponent resigned: we won
            ours = 1 - g.opponent_seat
            assert g.record.result == (1.0 if ours == 0 else -1.0)
        else:
            assert g.resigned and g.watch.allowed


def test_the_opponent_is_closed_when_the_games_end():
    game = load_game("tic_tac_toe")
    opponent = RandomPlayer(game, 3)
    play = PlaySettings(SearchConfig(simulations=2), temperature_moves=0, opponent_share=1.0)
    self_play(game, uniform_evaluator, play, 3, np.random.default_rng(3), opponent)
    assert opponent.states == {}


def test_against_the_opponent_the_network_never_repeats_a_position(monkeypatch):
    # GNU Go refuses a move that repeats a position (positional superko); here every move to
    # the centre counts as one, and the network must take another, in the opponent's games
    game = load_game("go5")
    centre = 12
    monkeypatch.setattr(game, "is_superko", lambda state: state.history()[-1:] == [centre])
    play = PlaySettings(SearchConfig(simulations=8), temperature_moves=0, opponent_share=1.0)
    _, _, records = self_play(game, uniform_evaluator, play, 6, np.random.default_rng(4),
                              RandomPlayer(game, 4))
    for record in records:
        ours = 1 - record.players.index("random")
        assert centre not in record.moves[ours::2]


@pytest.mark.skipif(GNUGO is None, reason="GNU Go is not installed (apt-get install gnugo)")
def test_self_play_against_gnu_go_through_the_command(workdir):
    out = rl("train", "alphazero", "--game", "go5", "--iterations", "1",
             "--games-per-iteration", "4", "--simulations", "4", "--train-steps", "2",
             "--batch-size", "16", "--eval-every", "0", "--backbone", "resnet-board",
             "--opponent-engine", "gnugo --mode gtp --level 1", "--opponent-share", "0.5",
             "--run-dir", "vs-gnugo", cwd=workdir, check=True)
    assert out.returncode == 0
    header, *_, row = (workdir / "vs-gnugo" / "metrics.csv").read_text().splitlines()
    figures = dict(zip(header.split(","), row.split(",")))
    assert int(figures["opponent_games"]) >= 1 and 0 <= float(figures["opponent_win_rate"]) <= 1


@pytest.mark.parametrize("args, says", [
    (["--opponent-share", "0.5"], "go together"),
    (["--opponent-engine", "no-such-engine-here", "--opponent-share", "0.5"], "not found"),
    (["--game", "tic_tac_toe", "--opponent-engine", "gnugo", "--opponent-share", "0.5"],
     "play Go"),
])
def test_a_wrong_opponent_is_one_line_and_exit_2(workdir, args, says):
    out = rl("train", "alphazero", "--game", "go5", "--iterations", "1", *args, cwd=workdir)
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr
