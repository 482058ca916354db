"""Every user mistake: one line on stderr naming the problem, exit status 2, nothing written."""
from pathlib import Path

import pytest

from conftest import rl

CASES = [
    (["train", "dqnn"], "unknown algorithm 'dqnn'"),
    (["train"], "name an algorithm"),
    (["train", "qlearning", "--env", "FrozenLak-v1"], "did you mean 'FrozenLake-v1'"),
    (["train", "qlearning", "--env", "CartPole-v1"], "needs Discrete"),
    (["train", "qlearning", "--lr", "-0.1"], "--lr must be > 0.0"),
    (["train", "qlearning", "--lr", "abc"], "invalid float value"),
    (["train", "qlearning", "--gamma", "1.5"], "--gamma must be <= 1.0"),
    (["train", "qlearning", "--steps", "0"], "--steps must be >= 1"),
    (["train", "qlearning", "--method", "sarsaa"], "did you mean 'sarsa'"),
    (["train", "qlearning", "--lrr", "0.1"], "did you mean '--lr'"),
    (["train", "qlearning", "--config", "missing.yaml"], "config file missing.yaml not found"),
    (["train", "qlearning", "--config", "bad.yaml"], "not valid YAML"),
    (["train", "qlearning", "--config", "unknown.yaml"], "unknown option 'gama'"),
    (["train", "qlearning", "--env-kwargs", "map_name=9x9"], "9x9"),
    (["train", "qlearning", "--resume", "nowhere"], "not a run directory"),
    (["eval", "nowhere"], "not a run directory"),
    (["eval", "corrupt", "--json"], "corrupt or truncated"),
    (["train", "qlearning", "--resume", "corrupt"], "corrupt or truncated"),
    (["train", "classifier", "--backbone", "resnet19"], "did you mean 'resnet18'"),
    (["train", "classifier", "--dataset", "mnist10k"], "did you mean 'mnist-10k'"),
    (["train", "classifier", "--data-dir", "nowhere"], "t10k-images-idx3-ubyte.gz not found"),
    (["train", "classifier", "--freeze-encoder"], "needs --init-encoder"),
    (["train", "dqn", "--batch-size", "64", "--buffer-size", "32"], "larger than --buffer-size"),
    (["train", "dqn", "--env", "Pongg"], "did you mean"),
    (["train", "dqn", "--env", "Pendulum-v1", "--steps", "10"], "Discrete action space"),
    (["train", "dqn", "--encoder", "natrue"], "did you mean 'nature'"),
    (["train", "dqn", "--env", "CartPole-v1", "--resume", "corrupt"], "is a qlearning run"),
    (["bench", "qq"], "choose from dqn"),
    (["bench", "selfplay", "--threads", "1"], "unknown option --threads (see"),  # not --help
    (["train", "alphazero", "--game", "connect4x"], "did you mean 'connect4'"),
    (["train", "alphazero", "--pretrain", "missing.txt"], "missing.txt not found"),
    (["train", "alphazero", "--pretrain", "bad.yaml"], "expected 'ACTION ACTION ... : RESULT'"),
    (["train", "alphazero", "--pretrain", "illegal.txt"], "move 4 is illegal there"),
    (["train", "alphazero", "--eval-opponents", "random,gnugo"], "unknown opponent 'gnugo'"),
    (["eval", "corrupt", "--opponent", "random"], "--opponent is for alphazero runs"),
    (["eval", "corrupt", "corrupt"], "an ensemble, which is for classifier runs only"),
    (["games", "generate", "--game", "chess", "--out", "x.txt"], "unknown game 'chess'"),
    (["games", "generate", "--game", "ttt", "--expert", "random", "--out", "x.txt"],
     "--expert 'random'"),
    (["games", "generate", "--game", "ttt", "--expert", "mcts:many", "--out", "x.txt"],
     "must be an integer"),
    (["play", "corrupt"], "is a qlearning run, not a self-play agent"),
]


@pytest.fixture
def files(workdir: Path) -> Path:
    (workdir / "bad.yaml").write_text("steps: [1, 2\n")
    (workdir / "unknown.yaml").write_text("gama: 0.9\n")
    (workdir / "illegal.txt").write_text("# game: tic_tac_toe\n4 4 : 0\n")
    run = workdir / "corrupt"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("algo: qlearning\nenv: FrozenLake-v1\n")
    (run / "checkpoints" / "latest.pt").write_bytes(b"PK\x03\x04 not really a zip")
    (run / "checkpoints" / "best.pt").write_bytes(b"")
    return workdir


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input(files: Path, args, message):
    before = sorted(p.relative_to(files) for p in files.rglob("*"))
    proc = rl(*args, cwd=files, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rl: error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr
    assert sorted(p.relative_to(files) for p in files.rglob("*")) == before  # nothing written


def test_existing_run_dir_is_not_overwritten(workdir: Path):
    (workdir / "run").mkdir()
    (workdir / "run" / "config.yaml").write_text("algo: qlearning\n")
    proc = rl("train", "qlearning", "--run-dir", "run", cwd=workdir)
    assert proc.returncode == 2 and "--resume run" in proc.stderr
    assert (workdir / "run" / "config.yaml").read_text() == "algo: qlearning\n"


def test_run_dir_that_cannot_be_created(workdir: Path):
    (workdir / "afile").write_text("not a folder")  # fails even for root, unlike a chmod
    proc = rl("train", "qlearning", "--run-dir", "afile/run", "--steps", "10", cwd=workdir)
    assert proc.returncode == 2 and "cannot create run directory afile/run" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert (workdir / "afile").read_text() == "not a folder"
