"""Shared helpers: run the real `rl` command in a process of its own, as a user would."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # test files run side by side (pytest -n N): one thread each, here and in the `rl` processes
    # they start. Two 2-thread processes on 2 cores run small networks many times slower.
    os.environ["OMP_NUM_THREADS"] = "1"


_launcher = None


def forking() -> bool:
    return hasattr(os, "fork") and not os.environ.get("RL_TESTS_SUBPROCESS")


def launcher():  # noqa: ANN201 - launcher.Launcher, imported late (it forks)
    """This test process's launcher (tests/launcher.py): `rl` commands forked from a process
    that has imported torch once. RL_TESTS_SUBPROCESS=1 starts each from scratch instead."""
    global _launcher
    if _launcher is None or _launcher.proc.poll() is not None:
        from launcher import Launcher

        _launcher = Launcher()
    return _launcher


def rl(*args: str, cwd: Path, timeout: float = 300, check: bool = False
       ) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    if forking():
        proc = launcher().run(list(args), Path(cwd).resolve(), env, timeout)
    else:
        proc = subprocess.run([sys.executable, "-m", "rl.cli", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"rl {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def rl_popen(*args: str, cwd: Path):  # noqa: ANN201 - subprocess.Popen or launcher.Launched
    """A command to signal while it runs (poll, send_signal, kill, communicate, as Popen's);
    Ctrl-C reaches it as from a terminal (a pytest-xdist worker ignores SIGINT, and its children
    would inherit that)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    if forking():
        return launcher().start(list(args), Path(cwd).resolve(), env)
    return subprocess.Popen([sys.executable, "-m", "rl.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


# The longest files first (seconds of a CI run, measured). pytest-xdist hands each worker one
# whole file at a time (--dist loadfile), so a long file started last would leave the other
# core idle at the end: longest-first keeps both busy to the finish.
LONGEST_FIRST = ["test_readme.py", "test_atari100k.py", "test_cluster.py", "test_newcomer.py",
                 "test_classifier.py", "test_faults.py", "test_qlearning_cli.py", "test_dqn.py",
                 "test_selfplay.py", "test_distributed.py", "test_watch.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


def pass_loving_evaluator(planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Go: nearly all prior on passing, and every position looks won for the side to move."""
    priors = masks * 1e-3
    priors[:, -1] = 1.0
    return priors / priors.sum(1, keepdims=True), np.ones(len(planes))
