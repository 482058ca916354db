"""Self-play: search finds forced wins, targets have the right sign, symmetries map policies
with the board, and the whole train -> eval -> resume -> play cycle works through the command."""
import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.alphazero.config import Config
from agents.alphazero.learner import Learner
from agents.alphazero.net import NetEvaluator, build_net
from agents.alphazero.selfplay import Joined, PlaySettings, Positions, self_play
from agents.arena.match import Match, generate_games
from agents.arena.players import MinimaxPlayer, RandomPlayer
from agents.mcts import Node, SearchConfig, search, uniform_evaluator
from conftest import pass_loving_evaluator, rl
from envs.games import load_game
from envs.records import read_records, write_records
from rl.cli import main
from rl.errors import UserError


def position(game_name: str, moves: list[int]):
    game = load_game(game_name)
    state = game.new_state()
    for a in moves:
        state.apply_action(a)
    return game, state


@pytest.mark.parametrize("leaves_per_tree", [1, 8])
def test_search_finds_forced_wins(leaves_per_tree: int):
    cfg = SearchConfig(simulations=400, leaves_per_tree=leaves_per_tree)
    # tic-tac-toe, x to move: 2 wins at once
    ttt, win_now = position("tic_tac_toe", [0, 3, 1, 4])
    # tic-tac-toe, x (0, 4) to move against o (1, 8): no win in one, but a fork wins in three
    _, fork = position("tic_tac_toe", [0, 1, 4, 8])
    values = MinimaxPlayer(ttt, 0).values(fork)
    winning = {a for a, v in values.items() if v == 1}
    assert winning and len(winning) < len(values)
    # connect four, x to move: column 3 completes four on the bottom row
    c4, four = position("connect_four", [0, 0, 1, 1, 2, 2])
    roots = [Node(win_now.clone()), Node(fork.clone())]
    search(ttt, roots, uniform_evaluator, cfg)  # two trees, one batch
    best = [int(r.actions[r.N.argmax()]) for r in roots]
    assert best[0] == 2
    assert best[1] in winning
    root = Node(four.clone())
    search(c4, [root], uniform_evaluator, cfg)
    assert int(root.actions[root.N.argmax()]) == 3
    assert root.W[root.N.argmax()] / root.N.max() > 0.9  # the search knows it is won


@pytest.mark.parametrize("name", ["tic_tac_toe", "go5"])
def test_value_targets_are_the_result_for_the_side_to_move(name: str):
    game = load_game(name)
    decisive = 0
    for seed in range(6):
        data, stats, _ = self_play(game, uniform_evaluator,
                                   PlaySettings(SearchConfig(simulations=4), temperature_moves=100),
                                   games=1, rng=np.random.default_rng(seed))
        first_result = 1.0 if stats["first_player_wins"] else 0.0 if stats["draws"] else -1.0
        to_move = data.planes[:, -1, 0, 0]  # the side-to-move plane: 0 first player, 1 second
        assert np.all(data.values[to_move == 0] == first_result)
        assert np.all(data.values[to_move == 1] == -first_result)
        assert np.allclose(data.policies.sum(1), 1.0)
        decisive += first_result != 0
    assert decisive >= 2


def first_passers(moves: list[int], passing: int) -> set[int]:
    """The players who passed while the other had not just passed (0 Black, 1 White)."""
    return {i % 2 for i, m in enumerate(moves) if m == passing and moves[i - 1:i] != [passing]}


@pytest.mark.parametrize("pass_first, expected", [("both", {0}), ("one", {0, 1})])
def test_self_play_can_keep_one_player_from_passing_first(pass_first: str, expected: set[int]):
    # a network that loves passing ends every game with Black's first-move pass; with
    # pass_first="one" the player drawn per game passes only to answer a pass, so in some
    # games White is left to pass first (then Black answers)
    game = load_game("go5")
    play = PlaySettings(SearchConfig(simulations=8), temperature_moves=0, pass_first=pass_first)
    _, _, records = self_play(game, pass_loving_evaluator, play, games=8,
                              rng=np.random.default_rng(0))
    passers = [first_passers(r.moves, game.pass_action) for r in records]
    assert all(len(p) == 1 for p in passers)  # in each game only one player passes first
    assert set().union(*passers) == expected


def test_value_targets_can_mix_in_the_search_value():
    game = load_game("connect_four")

    def targets(q: float):
        play = PlaySettings(SearchConfig(simulations=16), temperature_moves=100, value_target_q=q)
        return self_play(game, uniform_evaluator, play, games=2, rng=np.random.default_rng(3))[0]

    result, searched, half = targets(0.0), targets(1.0), targets(0.5)
    assert np.array_equal(result.planes, searched.planes)  # the weight changes targets, not play
    assert set(np.unique(result.values)) <= {-1.0, 0.0, 1.0}
    assert np.all(np.abs(searched.values) <= 1) and not np.array_equal(result.values,
                                                                          searched.values)
    np.testing.assert_allclose(half.values, (result.values + searched.values) / 2, atol=1e-6)


def test_learning_rate_decays_by_cosine_to_its_end_share():
    cfg = Config(iterations=10, lr=1e-3, lr_end=0.1)
    rates = [cfg.lr_at(i) for i in range(11)]
    assert rates[0] == pytest.approx(1e-3) and rates[5] == pytest.approx(5.5e-4)
    assert rates[10] == pytest.approx(1e-4) and np.all(np.diff(rates) < 0)
    assert Config(iterations=10).lr_at(7) == Config().lr  # lr_end 1: constant


@pytest.mark.parametrize("name, moves", [("tic_tac_toe", [0, 1, 5]), ("connect_four", [0, 0, 1, 3]),
                                         ("go5", [0, 1, 7, 13, 3])])
def test_symmetries_move_the_policy_with_the_board(name: str, moves: list[int]):
    game, state = position(name, moves)  # positions without symmetry of their own
    planes = game.encode(state)
    h, w = game.board
    # a "policy" whose mass marks the first player's stones: it must travel with them
    cells = planes[1 if name == "tic_tac_toe" else 0].reshape(-1)
    extra = np.arange(game.num_actions - h * w, dtype=np.float32) + 7  # go's pass stays put
    policy = np.concatenate([cells, extra]) if game.action_layout != "columns" else \
        planes[0].sum(0)  # connect four: stones per column
    seen = set()
    for sym in game.symmetries:  # a symmetry maps planes and the policy together
        p2, pi2 = sym(planes, policy)
        assert p2.shape == planes.shape and pi2.shape == policy.shape
        if game.action_layout == "columns":
            np.testing.assert_array_equal(pi2, p2[0].sum(0))
        else:
            plane = p2[1 if name == "tic_tac_toe" else 0].reshape(-1)
            np.testing.assert_array_equal(pi2[: h * w], plane)
            np.testing.assert_array_equal(pi2[h * w:], extra)
        seen.add(p2.tobytes())
    assert len(seen) == len(game.symmetries) == (2 if name == "connect_four" else 8)


def test_minimax_is_exact_and_records_round_trip(tmp_path: Path):
    game = load_game("tic_tac_toe")
    r = Match(game, MinimaxPlayer(game, 0), MinimaxPlayer(game, 1)).play(10).summary()
    assert r["draws"] == 10  # perfect play draws
    r = Match(game, MinimaxPlayer(game, 0), RandomPlayer(game, 1)).play(40).summary()
    assert r["losses"] == 0 and r["wins"] >= 30
    assert r["score_ci95"][0] > 0.5 and r["elo"] > 0  # the interval excludes an even match
    records = generate_games(game, [MinimaxPlayer(game, 2)], 5)
    write_records(tmp_path / "g.txt", game, records)
    assert [(r.moves, r.result) for r in read_records(tmp_path / "g.txt", game).records] == \
        [(r.moves, r.result) for r in records]
    with pytest.raises(UserError, match="holds tic_tac_toe games, not connect_four"):
        read_records(tmp_path / "g.txt", load_game("connect_four"))
    (tmp_path / "short.txt").write_text("4 0 : 1\n")
    with pytest.raises(UserError, match="does not end with result 1"):
        read_records(tmp_path / "short.txt", game)


TINY = ["--games-per-iteration", "4", "--simulations", "8", "--train-steps", "5",
        "--batch-size", "16", "--eval-games", "2", "--no-progress", "--threads", "1"]


def test_train_eval_resume_play_through_the_command(workdir: Path):
    out = rl("games", "generate", "--game", "tic_tac_toe", "--expert", "minimax", "--games",
             "30", "--out", "expert.txt", cwd=workdir, check=True)
    assert json.loads(out.stdout)["draws"] == 30
    summary = json.loads(rl("train", "alphazero", "--game", "tic_tac_toe", "--iterations", "2",
                            "--pretrain", "expert.txt", "--pretrain-epochs", "2", *TINY,
                            "--run-dir", "run", cwd=workdir, check=True).stdout)
    assert summary["iterations"] == 2 and 0 <= summary["pretrain_move_accuracy"] <= 1
    assert (workdir / "run/strength.png").stat().st_size > 5_000
    ev = json.loads(rl("eval", "run", "--opponent", "minimax", "--games", "4", "--json",
                       cwd=workdir, check=True).stdout)
    assert ev["wins"] + ev["draws"] + ev["losses"] == ev["games"] == 4
    assert ev["as_first"]["wins"] + ev["as_first"]["draws"] + ev["as_first"]["losses"] == 2

    resumed = json.loads(rl("train", "alphazero", "--resume", "run", "--iterations", "3",
                            "--no-progress", cwd=workdir, check=True).stdout)
    assert resumed["iterations"] == 3 and resumed["games"] == 12
    rows = (workdir / "run/metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]  # no gap, no duplicate

    # transfer: a new agent starts from this one's trunk and trains its heads only
    rl("train", "alphazero", "--game", "tic_tac_toe", "--iterations", "1", *TINY, "--run-dir",
       "heads", "--init-encoder", "run/checkpoints/latest.pt", "--freeze-encoder", cwd=workdir,
       check=True)
    source = torch.load(workdir / "run/checkpoints/latest.pt", weights_only=True)["model"]
    target = torch.load(workdir / "heads/checkpoints/latest.pt", weights_only=True)["model"]
    trunk = [k for k in source if k.startswith("backbone.")]
    assert trunk and all(torch.equal(source[k], target[k]) for k in trunk)
    assert not torch.equal(source["head.policy.weight"], target["head.policy.weight"])

    # a person who types nonsense, an occupied cell, a name, then gives up
    proc = subprocess.run([sys.executable, "-m", "rl.cli", "play", "run", "--game", "ttt"],
                          input="hello\n9\n\nx(1,1)\n4\nquit\n", cwd=workdir,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "'hello' is not a legal move here" in proc.stdout
    assert "'9' is not a legal move here" in proc.stdout
    assert "agent plays" in proc.stdout and "game abandoned" in proc.stdout



def test_a_run_killed_after_pretraining_resumes_without_pretraining_again(workdir: Path):
    rl("games", "generate", "--game", "tic_tac_toe", "--expert", "minimax", "--games", "20",
       "--out", "expert.txt", cwd=workdir, check=True)
    first = json.loads(rl("train", "alphazero", "--game", "tic_tac_toe", "--iterations", "1",
                          "--pretrain", "expert.txt", "--pretrain-epochs", "1", *TINY,
                          "--run-dir", "run", cwd=workdir, check=True).stdout)
    checkpoints = workdir / "run/checkpoints"
    for name in ("latest.pt", "best.pt"):  # as if killed in the first strength evaluation
        (checkpoints / name).unlink()
    kept = (checkpoints / "pretrained.pt").stat().st_mtime_ns
    resumed = json.loads(rl("train", "alphazero", "--resume", "run", "--no-progress",
                            cwd=workdir, check=True).stdout)
    assert (checkpoints / "pretrained.pt").stat().st_mtime_ns == kept  # not pretrained again
    assert resumed["pretrain_s"] == first["pretrain_s"] and resumed["iterations"] == 1

def test_a_stop_in_pretraining_leaves_no_network_a_resume_would_take_as_pretrained(
        workdir: Path, monkeypatch: pytest.MonkeyPatch):
    rl("games", "generate", "--game", "tic_tac_toe", "--expert", "minimax", "--games", "20",
       "--out", "expert.txt", cwd=workdir, check=True)
    fit = Learner.fit

    def fit_then_stop(self: Learner, *args: object) -> list:
        os.kill(os.getpid(), signal.SIGTERM)  # SIGTERM after the first 100 batches
        return fit(self, *args)

    monkeypatch.setattr(Learner, "fit", fit_then_stop)
    monkeypatch.chdir(workdir)
    code = main(["train", "alphazero", "--game", "tic_tac_toe", "--pretrain", "expert.txt",
                 "--pretrain-epochs", "20", "--iterations", "1", *TINY, "--run-dir", "run"])
    assert code == 128 + signal.SIGTERM
    assert not any((workdir / "run/checkpoints").iterdir())  # a resume pretrains from scratch
    monkeypatch.undo()
    resumed = json.loads(rl("train", "alphazero", "--resume", "run", "--no-progress",
                            cwd=workdir, check=True).stdout)
    assert resumed["iterations"] == 1 and (workdir / "run/checkpoints/pretrained.pt").exists()


def test_self_play_workers_and_gating(workdir: Path):
    summary = json.loads(rl("train", "alphazero", "--game", "connect_four", "--iterations", "1",
                            "--workers", "2", "--gate-games", "2", "--eval-every", "0", *TINY,
                            "--run-dir", "w", cwd=workdir, check=True).stdout)
    assert summary["games"] == 4
    with open(workdir / "w/metrics.csv") as f:
        row = list(csv.DictReader(f))[-1]
    assert int(row["positions"]) >= 4 * 7  # a connect-four game lasts at least 7 moves
    assert 0 <= float(row["gate_score"]) <= 1


def test_bench_selfplay_reports_all_three():
    from agents.bench import bench_selfplay

    r = bench_selfplay("tic_tac_toe", simulations=8, games=8, seconds=0.3)
    assert min(r["batched_positions_per_s"], r["one_at_a_time_positions_per_s"],
               r["openspiel_mcts_positions_per_s"]) > 0
    batched, single = r["batched_positions_per_s"], r["one_at_a_time_positions_per_s"]
    # both rates are rounded to 0.1, the ratio from the unrounded ones (and to 0.001)
    assert (batched - 0.05) / (single + 0.05) - 1e-3 <= r["batched_vs_one_at_a_time"] \
        <= (batched + 0.05) / (single - 0.05) + 1e-3


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_selfplay_times_the_precision_asked_for(precision: str):
    """Both precisions on any CPU: an emulated bf16 is what an AVX2-only machine measures."""
    from agents.bench import bench_selfplay

    r = bench_selfplay("tic_tac_toe", simulations=4, games=2, seconds=0.05, precision=precision)
    assert r["search_precision"] == precision


def test_search_in_bfloat16_keeps_the_network_s_preferences():
    game = load_game("go9")
    net = build_net(Config(game="go9", backbone="resnet-go"), game)
    planes, masks = map(np.stack, zip(*(game.inputs(game.new_state()) for _ in range(4))))
    priors, values = NetEvaluator(net, torch.device("cpu"))(planes, masks)
    priors16, values16 = NetEvaluator(net, torch.device("cpu"), bf16=True)(planes, masks)
    assert np.allclose(priors16.sum(1), 1) and np.abs(priors16 - priors).max() < 0.02
    assert np.abs(values16 - values).max() < 0.05


def test_a_prior_temperature_flattens_or_sharpens_the_search_s_priors():
    game = load_game("connect_four")
    net = build_net(Config(game="connect_four"), game)
    planes, masks = map(np.stack, zip(*(game.inputs(game.new_state()) for _ in range(2))))
    net.eval()

    def entropy(t: float) -> float:
        p = NetEvaluator(net, torch.device("cpu"), prior_temperature=t)(planes, masks)[0]
        return float(-(p * np.log(p)).sum(1).mean())

    assert entropy(0.5) < entropy(1.0) < entropy(2.0) < np.log(7)


def test_the_search_evaluates_in_inference_mode_after_training_steps():
    game = load_game("connect_four")
    net = build_net(Config(game="connect_four"), game)
    planes, masks = map(np.stack, zip(*(game.inputs(game.new_state()) for _ in range(2))))
    net.eval()
    before = NetEvaluator(net, torch.device("cpu"))(planes, masks)
    net.train()  # as the learner leaves it; batch statistics would change the answer
    after = NetEvaluator(net, torch.device("cpu"))(planes[:1], masks[:1])
    assert not net.training and np.allclose(after[0], before[0][:1], atol=1e-6)


def test_gumbel_search_trains_and_plays_through_the_command(workdir: Path):
    summary = json.loads(rl("train", "alphazero", "--game", "tic_tac_toe", "--search", "gumbel",
                            "--iterations", "2", "--resign-rate", "0.05", *TINY, "--run-dir",
                            "g", cwd=workdir, check=True).stdout)
    assert summary["iterations"] == 2 and summary["games"] == 8
    rows = list(csv.DictReader((workdir / "g/metrics.csv").open()))
    assert float(rows[1]["resign_threshold"]) == -1.0  # nobody resigns before calibration
    assert float(rows[2]["resign_threshold"]) <= -0.5  # then only clearly lost games
    ev = json.loads(rl("eval", "g", "--opponent", "random", "--games", "2", "--json",
                       cwd=workdir, check=True).stdout)
    assert ev["games"] == 2 and ev["simulations"] == 8


def anchored_learner(monkeypatch, seen: list):
    """A learner whose window's values are +1 and whose expert anchor's are -1 (to tell the
    two apart in a batch), a quarter of each batch of 16 from the anchor; its train_step
    records each batch's values and value weights instead of learning."""
    from agents.alphazero import learner as learner_module
    from agents.alphazero.config import Config
    from agents.alphazero.learner import Learner, LossWeights, expert_positions
    from agents.alphazero.net import build_net

    game = load_game("tic_tac_toe")
    positions, _ = expert_positions(game, generate_games(game, [MinimaxPlayer(game, 0)], 4))
    window, anchor = positions.take(np.arange(len(positions))), positions
    window.values[:], anchor.values[:] = 1.0, -1.0
    net = build_net(Config(), game)
    learner = Learner(net, torch.optim.SGD(net.parameters(), lr=0.0), game, 2, 16,
                      LossWeights(), torch.device("cpu"), np.random.default_rng(0), Path("."),
                      writes=False)
    learner.anchor, learner.anchor_share = anchor, 0.25
    monkeypatch.setattr(learner_module, "train_step",
                        lambda net, opt, guard, batch, device, weights, policy_anchor=None:
                        seen.append((batch.values, batch.value_weight)) or None)
    return learner, window


def test_an_expert_share_puts_that_share_of_expert_positions_in_every_batch(monkeypatch):
    from rl.run import LossGuard

    seen = []
    learner, window = anchored_learner(monkeypatch, seen)
    learner.fit(window, 3, LossGuard())
    assert [int((values < 0).sum()) for values, _ in seen] == [4, 4, 4]


def test_a_self_play_value_weight_of_zero_leaves_the_value_to_the_experts_positions(
        monkeypatch):
    from rl.run import LossGuard

    game = load_game("tic_tac_toe")
    play = PlaySettings(SearchConfig(simulations=4), temperature_moves=100,
                        selfplay_value_weight=0.0)
    played = self_play(game, uniform_evaluator, play, 2, np.random.default_rng(0))[0]
    assert played.value_weight.tolist() == [0.0] * len(played)
    seen = []
    learner, window = anchored_learner(monkeypatch, seen)
    window.value_weight[:] = 0.0  # as self-play's, above
    learner.fit(window, 2, LossGuard())
    for values, weight in seen:
        assert weight[values > 0].tolist() == [0.0] * 12 and weight[values < 0].tolist() == [1] * 4


def test_a_weighted_value_loss_averages_the_weighted_positions_alone():
    from agents.alphazero.config import Config
    from agents.alphazero.learner import expert_positions, train_step
    from agents.alphazero.net import build_net
    from rl.run import LossGuard

    game = load_game("tic_tac_toe")
    positions = expert_positions(game, generate_games(game, [MinimaxPlayer(game, 0)], 1))[0]
    batch = dataclasses.replace(positions, planes=positions.planes.astype(np.float32))
    net = build_net(Config(), game)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    batch.value_weight[:] = 0.0
    batch.value_weight[0] = 1.0
    torch.manual_seed(0)
    _, only_first, _, _ = train_step(net, opt, LossGuard(), batch, torch.device("cpu"))
    with torch.no_grad():  # lr 0: the same network, in the same (training) mode
        net.train()
        v = net(torch.from_numpy(batch.planes))[1]
    assert only_first == pytest.approx(float((v[0] - batch.values[0]) ** 2), rel=1e-4)


def test_expert_positions_can_anchor_self_play_without_pretraining_again(workdir: Path):
    rl("games", "generate", "--game", "tic_tac_toe", "--expert", "minimax", "--games", "10",
       "--out", "expert.txt", cwd=workdir, check=True)
    summary = json.loads(rl("train", "alphazero", "--game", "tic_tac_toe", "--iterations", "1",
                            "--pretrain", "expert.txt", "--pretrain-epochs", "0",
                            "--expert-share", "0.5", *TINY, "--run-dir", "anchored",
                            cwd=workdir, check=True).stdout)
    assert summary["pretrain_steps"] == 0 and 0 <= summary["move_accuracy"] <= 1
    assert "pretrain_policy_loss" not in summary  # no steps: no losses, rather than NaN
    alone = rl("train", "alphazero", "--game", "tic_tac_toe", "--expert-share", "0.5", *TINY,
               cwd=workdir)
    assert alone.returncode == 2 and "--expert-share needs --pretrain" in alone.stderr
    unanchored = rl("train", "alphazero", "--game", "tic_tac_toe", "--selfplay-value-weight",
                    "0", *TINY, cwd=workdir)
    assert unanchored.returncode == 2 and "needs --expert-share" in unanchored.stderr


def test_the_go9_preset_anchors_to_expert_games_only_when_there_are_some():
    from agents.alphazero.config import defaults_for

    assert defaults_for({"game": "go9", "pretrain": "data/go9"})["expert_share"] == 0.25
    assert "expert_share" not in defaults_for({"game": "go9"})  # self-play alone still runs


def test_joined_positions_sample_as_their_concatenation_would():
    rng = np.random.default_rng(0)
    parts = [Positions(rng.integers(0, 2, (n, 3, 2, 2), dtype=np.uint8),
                       rng.random((n, 5), dtype=np.float32), rng.random(n, dtype=np.float32),
                       np.ones(n, np.float32), np.zeros((n, 4), np.int8),
                       np.where(rng.random(n) < 0.5, np.nan, 1.0).astype(np.float32),
                       rng.random(n, dtype=np.float32))
             for n in (7, 1, 12)]
    idx = rng.integers(20, size=64)
    joined, whole = Joined(parts).take(idx), Positions.concat(parts).take(idx)
    assert len(Joined(parts)) == 20
    for name in ("planes", "policies", "values", "policy_weight", "ownership", "scores",
                 "value_weight"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))
