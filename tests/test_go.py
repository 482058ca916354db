"""Go: coordinates, SGF records from other programs, GTP both ways, engines that fail, and the
rules a player must respect (eyes, passes, superko, Tromp-Taylor scores)."""
import io
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sgfmill import sgf_properties

from agents.alphazero.learner import expert_positions
from agents.arena.gtp import EngineError, GtpPlayer, GtpServer, Referee
from agents.arena.match import Match
from agents.arena.players import RandomPlayer, SearchPlayer
from agents.mcts import Node, SearchConfig, uniform_evaluator
from conftest import ROOT, pass_loving_evaluator, rl, rl_popen
from envs import go
from envs.games import load_game
from envs.records import GameRecord, read_records
from envs.sgf import write_sgf
from rl.errors import UserError

DATA = Path(__file__).parent / "data"
FAKE = f"{sys.executable} {Path(__file__).parent / 'fake_gtp_engine.py'}"
GNUGO = shutil.which("gnugo") or shutil.which("gnugo", path="/usr/games")
needs_gnugo = pytest.mark.skipif(GNUGO is None, reason="GNU Go is not installed "
                                 "(apt-get install gnugo; .ci/run does so as root)")
AGENT = ROOT / "experiments" / "agents" / "go9"


def play(moves: list[str], size: int = 9):
    game = load_game(f"go{size}")
    state = game.new_state()
    for vertex in moves:
        state.apply_action(go.parse_vertex(vertex, size))
    return game, state


def test_all_82_actions_round_trip_through_open_spiel_gtp_and_sgf():
    game = load_game("go9")
    state = game.new_state()
    for action in range(82):
        vertex = go.vertex(action, 9)
        assert go.parse_vertex(vertex, 9) == action
        # open_spiel names moves 'B a1' ... 'B j9', 'B PASS': the same letters, no I
        assert state.action_to_string(0, action).split()[1].lower() == vertex.lower()
        point = go.to_point(action, 9)
        sgf = sgf_properties.serialise_go_point(point, 9)
        assert go.from_point(sgf_properties.interpret_go_point(sgf, 9), 9) == action
    # SGF counts rows from the top and does not skip I; GTP counts from the bottom, skips I
    assert sgf_properties.serialise_go_point(go.to_point(go.parse_vertex("A9", 9), 9), 9) == b"aa"
    assert sgf_properties.serialise_go_point(go.to_point(go.parse_vertex("J1", 9), 9), 9) == b"ii"
    assert go.vertex(81, 9) == "pass" and go.to_point(81, 9) is None
    assert go.from_point(sgf_properties.interpret_go_point(b"tt", 9), 9) == 81
    for bad in ("I5", "K1", "A10", "Z", "", "pass please"):
        with pytest.raises(ValueError):
            go.parse_vertex(bad, 9)


def test_a_file_from_another_program_reads_its_main_line_with_notes():
    report = read_records(DATA / "cgoban-9x9.sgf", load_game("go9"))
    record = report.records[0]
    vertices = [go.vertex(a, 9) for a in record.moves]
    assert vertices == ["E5", "G7", "C3", "G3", "C7", "pass", "pass"]  # not the variation
    assert record.result == 1 and record.players == ("bob", "alice")
    notes = dict(report.notes)
    assert notes["comments"] >= 2 and notes["variations (main line read)"] == 1
    assert notes["komi 6.5"] == 1 and notes["rules Japanese"] == 1


def test_handicap_and_other_sizes_are_skipped_in_folders_refused_alone(tmp_path: Path):
    game = load_game("go9")
    for name in ("cgoban-9x9.sgf", "handicap-9x9.sgf", "board-19x19.sgf"):
        shutil.copy(DATA / name, tmp_path / name)
    report = read_records(tmp_path, game)
    assert len(report.records) == 1 and report.files == 3
    assert report.skipped == {"handicap or setup stones": 1, "board size 19x19": 1}
    assert "skipped 2" in report.describe()
    with pytest.raises(UserError, match="board size 19x19, so it cannot be read as go9"):
        read_records(DATA / "board-19x19.sgf", game)


@pytest.mark.parametrize("name, message", [
    ("illegal-9x9.sgf", r"move 2 \(W E5\) is illegal there"),
    ("offboard-9x9.sgf", "move 2 is not a point on a 9x9 board"),
])
def test_a_malformed_file_is_one_line_naming_file_and_move(name: str, message: str):
    with pytest.raises(UserError, match=message):
        read_records(DATA / name, load_game("go9"))


def test_a_malformed_file_stops_pretraining_with_exit_2_and_no_run_dir(tmp_path: Path):
    proc = rl("train", "alphazero", "--game", "go9", "--pretrain",
              str(DATA / "illegal-9x9.sgf"), "--run-dir", "run", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "illegal-9x9.sgf: move 2" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_written_sgf_reads_back_with_players_komi_and_result(tmp_path: Path):
    game = load_game("go9")
    moves = [go.parse_vertex(v, 9) for v in ("E5", "C3", "pass", "G7", "pass", "pass")]
    write_sgf(tmp_path / "g.sgf", game, GameRecord(moves, -1.0, ("rl", "GNU Go"), "W+12.5"))
    text = (tmp_path / "g.sgf").read_text()
    for prop in ("PB[rl]", "PW[GNU Go]", "KM[7.5]", "RU[Chinese]", "RE[W+12.5]", "DT[", "B[]"):
        assert prop in text
    record = read_records(tmp_path / "g.sgf", game).records[0]
    assert record.moves == moves and record.result == -1.0


def test_tromp_taylor_scores_as_open_spiel_does():
    rng = np.random.default_rng(0)
    game = load_game("go9")
    for _ in range(5):
        state = game.new_state()
        while not state.is_terminal():
            state.apply_action(int(rng.choice(state.legal_actions())))
        if not game.is_superko(state):
            assert np.sign(game.score(state)) == state.returns()[0]


def test_a_player_never_fills_its_own_true_eye():
    # Black owns the lower-left corner: A1 and B2 are eyes, C1 is not (White's C2 diagonal)
    game, state = play(["A2", "J9", "B1", "J8", "B3", "J7", "C2", "J6", "A3", "H9", "C3", "H8",
                        "C1", "D2"])
    moves = game.inputs(state)[1]
    assert not moves[go.parse_vertex("B2", 9)]
    assert moves[go.parse_vertex("E5", 9)] and moves[game.pass_action]
    eyes = go.true_eyes(go.board(state, 9) == 1, go.board(state, 9) == -1)
    assert eyes[0, 0] and eyes[1, 1]



def test_liberty_planes_count_each_groups_liberties():
    # Black A1 (one liberty: A2) and C1 (two: D1, C2) around White's B1 (one: B2); White J9
    # in the far corner (two). Black is to move, so Black's stones are the "own" planes.
    game, state = play(["A1", "B1", "C1", "J9"])
    planes = game.inputs(state)[0]
    where = {name: set(zip(*np.nonzero(planes[i]))) for i, name in enumerate(go.PLANES)}
    assert where["own 1 liberty"] == {(0, 0)} and where["own 2 liberties"] == {(0, 2)}
    assert where["opponent 1 liberty"] == {(0, 1)} and where["opponent 2 liberties"] == {(8, 8)}
    assert not where["own 3+ liberties"] and not where["opponent 3+ liberties"]


def test_positions_computed_together_are_each_computed_alone():
    game = load_game("go9")
    lone = np.zeros((2, 9, 9), dtype=bool)
    lone[:, 0, 0] = True  # a stone on A1 of two boards: two groups of two liberties, not one
    assert go.liberties(lone, ~lone)[:, 0, 0].tolist() == [2, 2]
    states = [play(moves)[1] for moves in (["A1", "B1", "C1", "J9"], ["A1"], [], ["E5", "E6"])]
    planes, moves = game.inputs_many(states)
    for i, state in enumerate(states):
        alone = game.inputs(state)
        assert np.array_equal(planes[i], alone[0]) and np.array_equal(moves[i], alone[1])


def test_search_follows_an_opponent_who_fills_its_own_eye():
    # Black's B2 is its own eye, a move our search never considers, but GNU Go may play it
    game, state = play(["A2", "J9", "B1", "J8", "B3", "J7", "C2", "J6", "A3", "H9", "C3", "H8",
                        "C1"])
    player = SearchPlayer(game, uniform_evaluator, SearchConfig(simulations=8), seed=0)
    player.new_game(0)
    for action in state.history():
        player.observe(0, action)
    [reply] = player.choose([0])  # White; its tree keeps the searched subtree below the reply
    player.observe(0, reply)
    player.observe(0, go.parse_vertex("B2", 9))
    assert player.choose([0])[0] in player.roots[0].state.legal_actions()


def test_search_passes_when_the_opponent_passed_and_passing_wins():
    # White has more area on the board and komi: after Black's pass, passing wins for White
    game, state = play(["A1", "E5", "pass"])
    player = SearchPlayer(game, uniform_evaluator, SearchConfig(simulations=16), seed=0)
    player.new_game(0)
    for action in state.history():
        player.observe(0, action)
    assert player.choose([0]) == [game.pass_action]


def test_search_never_passes_first_while_it_has_other_moves():
    # a pass lets an opponent play into our area unanswered (GNU Go did): pass only to answer one
    game, state = play(["E5", "D4"])
    player = SearchPlayer(game, pass_loving_evaluator, SearchConfig(simulations=16), seed=0)
    player.new_game(0)
    for action in state.history():
        player.observe(0, action)
    [move] = player.choose([0])
    assert move != game.pass_action
    player.observe(0, move)
    player.observe(0, game.pass_action)
    assert player.choose([0]) == [game.pass_action]  # answering a pass: the network's choice


# a random 5x5 game whose last move, C4, repeats an earlier position (open_spiel: a draw)
SUPERKO = ("C4 D1 E3 A5 B5 D4 D3 C2 E1 D5 C1 E2 D2 E4 E1 A4 A3 A2 A1 B1 C3 A1 B4 B3 D1 A4 C5 A3 "
           "E5 B2 E2 D4 A5 B1 A1 A2 B3 D5 B2 A1 A4 E4 A3 A1 E5 B1 E4 D5 D4 pass D5 pass C2 A2 "
           "C4 E1 A5 D1 D2 B5 B2 A3 C3 D4 C5 A4 E4 B3 B4 C2 E3 C1 A5 D5 B5 E2 D3 E5 B5 C3 E3 "
           "B4 D3 C5 E4 A5 pass B5 pass B2 pass D2 D3 E3 pass D3 pass E4 C4").split()


def test_a_move_that_repeats_a_position_is_never_chosen():
    game, before = play(SUPERKO[:-1], size=5)
    repeat = go.parse_vertex(SUPERKO[-1], 5)
    assert repeat in before.legal_actions() and game.is_superko(before.child(repeat))
    player = SearchPlayer(game, uniform_evaluator, SearchConfig(simulations=1), seed=0)
    root = Node(before.clone())
    root.expand(np.ones(game.num_actions), game.inputs(before)[1])
    root.N[:] = 1
    root.N[np.flatnonzero(root.actions == repeat)] = 100  # the search's favourite
    player.hopeless[0] = 0
    assert player.pick(0, root, repeat) != repeat


def serve(lines: str, server: GtpServer) -> str:
    out = io.StringIO()
    server.serve(io.StringIO(lines), out)
    return out.getvalue()


def random_server() -> GtpServer:
    return GtpServer(lambda komi: load_game("go9", komi), lambda game: RandomPlayer(game, 0))


def test_gtp_server_answers_bad_commands_and_keeps_running():
    out = serve("protocol_version\n1 name\nfoo\nboardsize 19\nplay b Z9\nplay b E5\n"
                "play b E5\nplay x E6\nknown_command genmove\nundo\nundo\nshowboard\nquit\n"
                "name\n", random_server())
    answers = out.split("\n\n")[:-1]
    assert answers[0] == "= 2" and answers[1] == "=1 rl"
    assert answers[2] == "? unknown command" and answers[3] == "? unacceptable size"
    assert answers[4] == "? illegal move" and answers[5] == "="
    assert answers[6] == "? illegal move"  # E5 is taken
    assert answers[7].startswith("? invalid color") and answers[8] == "= true"
    assert answers[9] == "=" and answers[10] == "? cannot undo"
    assert "A B C D E F G H J" in answers[11]
    assert len(answers) == 13  # nothing after quit


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_rl_gtp_searches_in_the_precision_asked_for(precision, capsys):
    import torch

    from agents.alphazero.watch import gtp_server
    from rl.precision import bf16_native

    server = gtp_server(AGENT, 4, 0, precision)
    answer = serve("genmove b\n", server).split("\n\n")[0]
    assert go.parse_vertex(answer[2:], 9) is not None
    assert server.player.evaluator.bf16 == (precision == "bf16")
    emulated = precision == "bf16" and not bf16_native(torch.device("cpu"))
    assert ("bf16 is emulated" in capsys.readouterr().err) == emulated


def test_gtp_server_takes_two_moves_of_one_colour_and_scores():
    server = random_server()
    out = serve("komi 6.5\nplay b E5\nplay b D4\ngenmove w\nfinal_score\n", server)
    answers = out.split("\n\n")[:-1]
    assert answers[:3] == ["=", "=", "="]
    assert go.parse_vertex(answers[3][2:], 9) is not None
    assert server.moves[:3] == [go.parse_vertex("E5", 9), 81, go.parse_vertex("D4", 9)]
    assert server.game.komi == 6.5 and answers[4][2:3] in "BW0"


@pytest.mark.parametrize("mode, message", [
    ("crash", r"exited \(status 3\) while answering 'genmove [bw]': fake engine: simulated crash"),
    ("hang", r"did not answer 'genmove [bw]' within 2 s"),
    ("garbage", "is not GTP: 'I am not speaking GTP'"),
    ("offboard", "answered genmove with 'z99', not a vertex"),
])
def test_a_failing_engine_is_one_clear_error_naming_it(mode: str, message: str):
    game = load_game("go9")
    engine = GtpPlayer(game, f"{FAKE} {mode}", timeout=2)
    with pytest.raises(EngineError, match=message) as error:
        Match(game, engine, RandomPlayer(game, 0)).play(2)
    assert "fake_gtp_engine.py" in str(error.value)
    engine.close()


def test_a_failing_engine_keeps_the_finished_games(tmp_path: Path):
    proc = rl("eval", str(AGENT), "--opponent", f"gtp:{FAKE} crash", "--games", "2",
              "--simulations", "2", "--save-games", "saved", "--json", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "simulated crash" in proc.stderr and "0 games had finished" in proc.stderr


@needs_gnugo
def test_rl_gtp_plays_a_whole_game_against_gnugo_through_the_match_runner(tmp_path: Path):
    game = load_game("go9")
    ours = GtpPlayer(game, f"{sys.executable} -m rl.cli gtp {AGENT} --simulations 4",
                     timeout=120)
    gnugo = GtpPlayer(game, "gnugo --mode gtp --level 1 --chinese-rules --capture-all-dead "
                      "--positional-superko")
    referee = Referee(game, "gnugo --mode gtp --chinese-rules --capture-all-dead")
    try:
        result = Match(game, ours, gnugo, referee=referee, save_dir=tmp_path).play(1)
    finally:
        for p in (ours, gnugo, referee):
            p.close()
    record = result.records[0]
    assert len(record.moves) >= 10 and record.score[:2] in ("B+", "W+")
    assert record.players[0].endswith("--simulations 4")
    assert read_records(tmp_path / "game-00000.sgf", game).records[0].moves == record.moves


@needs_gnugo
def test_gnugo_generates_expert_games_as_sgf_with_random_openings(tmp_path: Path):
    out = rl("games", "generate", "--game", "go9", "--expert",
             "gtp:gnugo --mode gtp --level 1 --chinese-rules --capture-all-dead", "--games", "4",
             "--random-moves", "3", "--out", "games", cwd=tmp_path, check=True)
    assert '"games": 4' in out.stdout
    game = load_game("go9")
    records = read_records(tmp_path / "games", game).records
    assert len(records) == 4 and len({tuple(r.moves) for r in records}) == 4
    assert all(0 <= r.opening <= 3 for r in records) and any(r.opening for r in records)
    positions = expert_positions(game, records)[0]  # random moves teach no policy
    assert (positions.policy_weight == 0).sum() == sum(r.opening for r in records)


@needs_gnugo
def test_expert_games_killed_midway_go_on_to_the_games_an_unbroken_run_plays(tmp_path: Path):
    args = ["games", "generate", "--game", "go9", "--expert", "gtp:gnugo --mode gtp --level 1",
            "--games", "4", "--parallel", "1"]
    rl(*args, "--out", "unbroken", cwd=tmp_path, check=True)
    proc, killed = rl_popen(*args, "--out", "killed", cwd=tmp_path), tmp_path / "killed"
    deadline = time.monotonic() + 60
    while not list(killed.glob("game-*.sgf")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    kept = {p.name: p.stat().st_mtime_ns for p in killed.glob("game-*.sgf")}
    assert 1 <= len(kept) < 4
    again = rl(*args, "--out", "killed", cwd=tmp_path, check=True)
    assert f"{len(kept)} of the 4 games are there already" in again.stderr
    assert all((killed / name).stat().st_mtime_ns == t for name, t in kept.items())
    game = load_game("go9")
    for name in (f"game-{k:05d}.sgf" for k in range(4)):
        assert read_records(killed / name, game).records[0].moves == \
            read_records(tmp_path / "unbroken" / name, game).records[0].moves


def test_the_score_target_matches_gnugos_final_score_on_recorded_games():
    """KataGo's score target, from the final position (area scoring, komi 7.5), equals the
    score GNU Go gave as referee (RE) in the ladder's recorded games against level 10."""
    game = load_game("go9")
    records = read_records(ROOT / "experiments/results/go9/run-2026-11-24/games", game).records
    assert len(records) == 4
    for record in records:
        positions, _ = expert_positions(game, [record])
        gnugo = float(record.score[2:]) * (1 if record.score[0] == "B" else -1)
        black_to_move = np.arange(len(positions)) % 2 == 0
        assert positions.scores[black_to_move] == pytest.approx(gnugo)
        assert positions.scores[~black_to_move] == pytest.approx(-gnugo)


def test_the_score_head_learns_where_the_end_is_known_and_ignores_resignations():
    import torch

    from agents.alphazero.config import Config
    from agents.alphazero.learner import LossWeights, augmented_batch, train_step
    from agents.alphazero.net import build_net
    from rl.run import LossGuard

    game = load_game("go5")
    net = build_net(Config(game="go5", backbone="resnet-board", score_weight=1.0), game)
    record = GameRecord([game.pass_action, game.pass_action], -1.0, ("a", "b"))
    positions, _ = expert_positions(game, [record])
    played_out = augmented_batch(game, positions, np.arange(len(positions)),
                                 np.random.default_rng(0))
    assert len(net(torch.zeros(1, *game.obs_shape))) == 4  # logits, value, ownership, score
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    losses = train_step(net, opt, LossGuard(), played_out, torch.device("cpu"),
                        LossWeights(score=1.0))
    assert losses is not None and losses[3] > 0
    played_out.scores[:] = np.nan  # a resignation: no final position to score
    losses = train_step(net, opt, LossGuard(), played_out, torch.device("cpu"),
                        LossWeights(score=1.0))
    assert losses is not None and losses[3] == 0


def test_self_play_can_start_from_the_shipped_supervised_network(tmp_path: Path):
    tiny = ["--iterations", "1", "--games-per-iteration", "2", "--simulations", "2",
            "--fast-simulations", "0", "--train-steps", "2", "--batch-size", "16",
            "--eval-every", "0", "--workers", "1", "--no-progress", "--threads", "1"]
    rl("train", "alphazero", "--game", "go9", "--init-model", str(AGENT), *tiny, "--run-dir",
       "run", cwd=tmp_path, check=True)  # the agent has no score head: it starts fresh
    wrong = rl("train", "alphazero", "--game", "go9", "--init-model",
               str(ROOT / "experiments/agents/tic_tac_toe"), *tiny, cwd=tmp_path)
    assert wrong.returncode == 2 and "game='tic_tac_toe'" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_a_head_to_head_opens_each_pair_of_games_alike_with_colours_swapped(tmp_path: Path):
    """Two nearly deterministic networks repeat whole games: --random-moves opens games 2k and
    2k+1 with the same random moves, the agent first in one and second in the other."""
    proc = rl("eval", str(AGENT), "--opponent", str(AGENT), "--games", "4", "--simulations",
              "4", "--random-moves", "4", "--referee", "none", "--save-games", "g", "--json",
              cwd=tmp_path, check=True)
    assert '"games": 4' in proc.stdout and '"random_moves": 4' in proc.stdout
    game = load_game("go9")
    records = [read_records(tmp_path / "g" / f"game-{k:05d}.sgf", game).records[0]
               for k in range(4)]
    openings = [tuple(r.moves[:r.opening]) for r in records]
    assert openings[0] == openings[1] and openings[2] == openings[3]
    assert openings[0] != openings[2] and any(openings)
