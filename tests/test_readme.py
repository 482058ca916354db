"""The README's quick commands, each run as written with a tiny budget appended (a smoke test of
the documentation, not of learning). A command added to the README without a budget here fails
the first test, so the two cannot drift apart.

The commands run in order in one folder holding a copy of experiments/agents, as a newcomer's
clone would: later ones use the runs earlier ones wrote (`runs/<algo>-<env>-<timestamp>`).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SHARED, forking, launcher

PONG = ["--steps", "300", "--learning-starts", "100", "--buffer-size", "1000",
        "--max-episode-steps", "200", "--final-eval-episodes", "1", "--eval-envs", "1",
        "--no-progress"]
TINY_100K = ["--steps", "200", "--learning-starts", "100", "--final-eval-episodes", "1",
             "--eval-envs", "1", "--max-episode-steps", "100", "--buffer-size", "1000",
             "--batch-size", "8"]
SELFPLAY = ["--iterations", "1", "--games-per-iteration", "4", "--simulations", "8",
            "--train-steps", "5", "--batch-size", "16", "--eval-games", "2", "--no-progress"]
CLASSIFIER = ["--epochs", "1", "--labels", "500", "--no-progress"]

# README command (its start) -> (flags appended, substitutions, standard input)
BUDGETS: dict[str, tuple[list[str], dict[str, str], str | None]] = {
    "rl --help": ([], {}, None),
    "rl train qlearning --help": ([], {}, None),
    "rl train qlearning --env FrozenLake-v1": (["--steps", "3000", "--final-eval-episodes",
                                                "50", "--no-progress"], {}, None),
    "rl eval runs/qlearning-FrozenLake-v1": (["--episodes", "20"], {}, None),
    "rl train dqn --env CartPole-v1": (["--steps", "600", "--learning-starts", "200",
                                        "--final-eval-episodes", "2", "--no-progress"], {}, None),
    "rl train dqn --env Pong": (PONG, {}, None),
    "rl train dqn --resume runs/dqn-Pong": (["--steps", "400", "--no-progress"], {}, None),
    "rl bench dqn --env Pong --json": (["--steps", "100", "--learning-starts", "100",
                                       "--buffer-size", "1000"], {}, None),
    "rl bench dqn --env Pong --amp": (["--steps", "100", "--learning-starts", "100",
                                      "--buffer-size", "1000"], {}, None),
    "rl train dqn --env Breakout --preset drq_eps": (TINY_100K + ["--no-progress"], {}, None),
    "rl suite atari100k": (["--games", "Pong", "--run-dir", "suite", "--", *TINY_100K], {}, None),
    "rl bench update": (["--seconds", "0.5"], {}, None),
    "rl eval experiments/agents/pong": (["--episodes", "1"], {}, None),
    "rl record experiments/agents/pong": ([], {}, None),
    "rl train classifier --backbone deepcnn": (CLASSIFIER, {}, None),
    "rl bench classifier": (["--epochs", "1", "--backbone", "mlp"], {}, None),
    "torchrun": (["--backbone", "mlp", *CLASSIFIER], {}, None),
    "rl train classifier --dataset fashion-mnist": (CLASSIFIER + ["--validation", "0.01"], {},
                                                    None),
    # a shell leaves the ~ in folder:~/photos to rl (tilde expansion is for a word's start)
    "rl train classifier --dataset folder:": (["--epochs", "1", "--no-progress"], {}, None),
    "rl predict runs/classifier-": ([], {}, None),
    "rl train alphazero --game tic_tac_toe": (SELFPLAY, {}, None),
    "rl eval runs/alphazero-tic_tac_toe": (["--games", "2"], {}, None),
    "rl play runs/alphazero-tic_tac_toe": ([], {}, "quit\n"),
    "rl games generate --game connect_four": (["--games", "2"], {"mcts:1000": "mcts:20"}, None),
    "rl bench selfplay": (["--seconds", "0.5", "--games", "4", "--simulations", "8"], {}, None),
    "rl eval experiments/agents/connect_four": (["--games", "2", "--simulations", "8"],
                                                {"mcts:1000": "mcts:20"}, None),
    "rl play experiments/agents/connect_four": ([], {}, "quit\n"),
    "rl eval experiments/agents/go9": (["--games", "2", "--simulations", "4"], {}, None),
    "rl gtp experiments/agents/go9": (["--simulations", "4"], {}, "genmove b\nquit\n"),
    "rl train qlearning --env Taxi-v3": (["--steps", "2000", "--final-eval-episodes", "20",
                                          "--no-progress"], {}, None),
    "rl compare runs/taxi/seed*": ([], {}, None),
    "rl export runs/<run>": ([], {"runs/<run>": "runs/taxi/seed0"}, None),
}
NEEDS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
         "gnugo": Path(shutil.which("gnugo", path="/usr/games:" + os.environ.get("PATH", ""))
                       or "/nonexistent")}


def readme_commands() -> list[str]:
    """The quick commands: the code block after 'After `make install`', comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("After `make install`")[1].split("```bash\n")[1].split("```")[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def budget_for(command: str) -> tuple[list[str], dict[str, str], str | None]:
    matches = [k for k in BUDGETS if command.startswith(k)]
    assert matches, f"README command without a smoke-test budget: {command}"
    return BUDGETS[max(matches, key=len)]


def test_every_readme_command_has_a_budget():
    for command in readme_commands():
        budget_for(command)


def resolve(command: str, cwd: Path) -> list[str]:
    """The README's placeholders and globs, as a shell user would fill them in."""
    for pattern in re.findall(r"runs/[\w.-]+-<[^>]+>", command):
        found = sorted(cwd.glob(pattern.split("<")[0] + "*"))
        assert found, f"no run for {pattern}: an earlier README command should have made it"
        command = command.replace(pattern, str(found[0].relative_to(cwd)))
    argv = []
    for word in shlex.split(command):
        expanded = sorted(cwd.glob(word)) if "*" in word else []
        argv += [str(p.relative_to(cwd)) for p in expanded] or [word]
    return argv


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like a fresh clone: experiments/agents, ../shared, photos, images."""
    root = tmp_path_factory.mktemp("readme")
    work = root / "clone"
    shutil.copytree(ROOT / "experiments" / "agents", work / "experiments" / "agents",
                    ignore=shutil.ignore_patterns("videos"))
    if SHARED.exists():
        (root / "shared").symlink_to(SHARED)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label, base in (("cats", 60), ("dogs", 190)):
            folder = root / "home" / "photos" / split / label
            folder.mkdir(parents=True)
            for i in range(6):
                pixels = np.clip(base + rng.normal(0, 20, (40, 40, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    Image.fromarray(np.full((40, 40, 3), 70, np.uint8)).save(work / "cat.jpg")
    Image.fromarray(np.full((40, 40, 3), 180, np.uint8)).save(work / "dog.png")
    return work


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(clone: Path, command: str):
    flags, substitutions, stdin = budget_for(command)
    for need, path in NEEDS.items():
        if need in command and not path.exists():
            pytest.skip(f"{need} is not installed (see the README's apt-get line)")
    if "../shared/data" in command and not SHARED.exists():
        pytest.skip("../shared/data is not on this machine")
    for old, new in substitutions.items():
        command = command.replace(old, new)
    argv = resolve(command, clone) + flags
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/games:{os.environ.get('PATH', '')}",
           "HOME": str(clone.parent / "home"), "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    if argv[0] == "rl" and forking():  # the same command, its imports done once
        proc = launcher().run(argv[1:], clone, env, 600, input=stdin)
    else:
        proc = subprocess.run(argv, cwd=clone, env=env, input=stdin, capture_output=True,
                              text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
