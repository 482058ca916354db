"""Runs on a Ray cluster (`--ray auto|ADDRESS`): each training run a Ray task with the CPUs it
asks for, so a suite or a set of seeds spreads over every node that has joined.

`--ray auto` starts a local Ray for the command and stops it after; `--ray HOST:PORT` joins a
cluster started with `ray start --head` (and `ray start --address HOST:PORT` on other nodes).
Each task runs the same `rl train ...` child process a local suite would, on its node, writing
into the run directory it is given: a path every node must be able to reach (one host, or a
shared file system). Ray is optional: `pip install -e '.[ray]'`.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from rl.errors import UserError

CONNECT_TIMEOUT_S = 5.0


def connect(address: str) -> None:
    """Join (or for 'auto' start) a Ray cluster; one clear line when that cannot be done."""
    # `ray start --head` turns token authentication on by default, but a driver joining by
    # address sends its token only in token mode, which Ray reads as it is imported; that
    # mode also joins a cluster without authentication (measured on Ray 2.60), so use it
    # whenever a token is at hand
    if address != "auto" and "RAY_AUTH_MODE" not in os.environ and token_at_hand():
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray, which is not installed: pip install -e '.[ray]'") \
            from None
    if ray.is_initialized():
        return
    if address == "auto":
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError):
        raise UserError(f"--ray {address}: no Ray cluster answers there (start one with "
                        "`ray start --head`, or use --ray auto for a local one)") from None
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as error:
        raise UserError(f"--ray {address}: could not join the Ray cluster there ({error}); one "
                        "with token authentication needs its token here (~/.ray/auth_token or "
                        "RAY_AUTH_TOKEN)") from None


def token_at_hand() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").exists())


def disconnect() -> None:
    import ray

    ray.shutdown()


def run_logged(argv: list[str], log: str) -> int:
    """A training run as a child process of the Ray worker, its output appended to `log`.
    Cancelling the task (ray.cancel) interrupts it: the run stops at a clean point and keeps
    its checkpoint, as Ctrl-C does locally."""
    from rl.suite import die_with_parent

    argv = [sys.executable, *argv[1:]]  # this node's Python, with `rl` installed
    with open(log, "a") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()


class RayProcess:
    """A Ray task seen as the suite sees a child process: poll, returncode, send_signal."""

    def __init__(self, ref: Any):
        self.ref = ref
        self.returncode: int | None = None

    def poll(self) -> int | None:
        import ray

        if self.returncode is None and ray.wait([self.ref], timeout=0)[0]:
            try:
                self.returncode = int(ray.get(self.ref))
            except ray.exceptions.TaskCancelledError:
                self.returncode = 130
            except ray.exceptions.RayError:  # the worker or its node died: run it again
                self.returncode = 1
        return self.returncode

    def send_signal(self, _signum: int) -> None:
        import ray

        ray.cancel(self.ref)  # a KeyboardInterrupt in the task: see run_logged


def ray_launcher(cpus: int) -> Any:
    """launch(argv, log) -> RayProcess: each run a task holding `cpus` CPUs of some node."""
    import ray

    task = ray.remote(num_cpus=cpus, max_retries=0)(run_logged)

    def launch(argv: list[str], log: Path) -> RayProcess:
        return RayProcess(task.remote(argv, str(log.resolve())))
    return launch
