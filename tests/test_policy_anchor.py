"""--policy-kl: self-play's policy held near the supervised start by a KL term."""
import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.alphazero.config import Config
from agents.alphazero.learner import PolicyAnchor, expert_positions, train_step
from agents.alphazero.net import build_net
from agents.arena.match import generate_games
from agents.arena.players import MinimaxPlayer
from conftest import rl
from envs.games import load_game
from rl.run import LossGuard


def tic_tac_toe_batch():
    game = load_game("tic_tac_toe")
    positions = expert_positions(game, generate_games(game, [MinimaxPlayer(game, 0)], 2))[0]
    return game, dataclasses.replace(positions, planes=positions.planes.astype(np.float32))


def kl_to(anchor: torch.nn.Module, net: torch.nn.Module, planes: np.ndarray) -> float:
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(planes)
        return float(PolicyAnchor(anchor, 1.0).loss(x, net(x)[0]))


def test_the_kl_is_zero_where_the_network_is_its_anchor_and_grows_as_it_moves():
    game, batch = tic_tac_toe_batch()
    torch.manual_seed(0)
    net = build_net(Config(), game)
    anchor = copy.deepcopy(net)
    assert kl_to(anchor, net, batch.planes) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    assert kl_to(anchor, net, batch.planes) > 1e-3


def test_training_with_the_kl_term_stays_nearer_its_anchor():
    game, batch = tic_tac_toe_batch()
    torch.manual_seed(0)
    start = build_net(Config(), game)
    after = {}
    for weight in (0.0, 10.0):
        net = copy.deepcopy(start)
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        anchor = PolicyAnchor(copy.deepcopy(start), weight) if weight else None
        for _ in range(20):
            train_step(net, opt, LossGuard(), batch, torch.device("cpu"), policy_anchor=anchor)
        after[weight] = kl_to(start, net, batch.planes)
    assert after[10.0] < after[0.0] / 2


def test_a_run_with_the_kl_term_resumes_against_its_start(workdir: Path):
    rl("games", "generate", "--game", "tic_tac_toe", "--expert", "minimax", "--games", "10",
       "--out", "expert.txt", cwd=workdir, check=True)
    tiny = ["--games-per-iteration", "4", "--simulations", "8", "--train-steps", "5",
            "--batch-size", "16", "--eval-every", "0", "--no-progress", "--threads", "1"]
    rl("train", "alphazero", "--game", "tic_tac_toe", "--iterations", "1", "--pretrain",
       "expert.txt", "--pretrain-epochs", "1", "--policy-kl", "0.5", *tiny, "--run-dir", "run",
       cwd=workdir, check=True)
    resumed = json.loads(rl("train", "alphazero", "--resume", "run", "--iterations", "2",
                            "--no-progress", cwd=workdir, check=True).stdout)
    assert resumed["iterations"] == 2
    alone = rl("train", "alphazero", "--game", "tic_tac_toe", "--policy-kl", "0.5", *tiny,
               cwd=workdir)
    assert alone.returncode == 2 and alone.stderr.strip() == (
        "rl: error: --policy-kl needs --pretrain GAMES (its anchor is the supervised start, kept "
        "as checkpoints/pretrained.pt)")


def test_a_resumed_run_anchors_to_the_network_it_began_from(tmp_path: Path):
    from types import SimpleNamespace

    from agents.alphazero.train import start_network
    from rl.files import save_checkpoint

    game, cfg = load_game("tic_tac_toe"), Config()
    began, trained = build_net(cfg, game), build_net(cfg, game)  # two random initialisations
    save_checkpoint(tmp_path / "pretrained.pt", {"meta": {}, "best_model": began.state_dict()})
    run = SimpleNamespace(checkpoint_path=lambda name: tmp_path / f"{name}.pt")
    for resumed, expected in ((True, began), (False, trained)):
        start = start_network(cfg, game, SimpleNamespace(run=run, resumed=resumed), trained,
                              torch.device("cpu"))
        for a, b in zip(start.state_dict().values(), expected.state_dict().values()):
            assert torch.equal(a, b)
        assert not any(p.requires_grad for p in start.parameters())
