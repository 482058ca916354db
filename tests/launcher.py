"""The tests' `rl` commands, each in a process of its own as a user runs them, without paying
for the imports every time: a launcher process imports torch and the agents once and forks a
child per command, which moves to the command's folder, takes its environment and arguments,
runs `rl` and exits with its status (and its traceback, if any). Those imports cost about 2 s
of CPU a command, which was about half of the suite's time.

Only imports happen before a fork (no thread pool has started), so a child is a fresh `rl`
process in all that the tests look at: its files, its output, its exit status."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVE = "import launcher; launcher.serve()"


def serve() -> None:
    """The launcher: one request per line on standard input; it answers with the child's pid,
    then with its exit status when it ends."""
    import threading

    import matplotlib

    matplotlib.use("Agg")  # what every plot of rl chooses; pyplot costs ~0.4 s to import
    import matplotlib.pyplot  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  the first optimizer imports it: ~2 s a process

    import agents.alphazero  # noqa: F401
    import agents.classifier  # noqa: F401
    import agents.dqn  # noqa: F401
    import agents.qlearning  # noqa: F401
    import rl.cli  # noqa: F401

    assert threading.active_count() == 1, "a thread before fork would be lost in the child"
    answers = os.dup(1)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.close(answers)
            child(request)  # exits
        os.write(answers, f"{pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(answers, f"{os.waitstatus_to_exitcode(status)}\n".encode())


def child(request: dict) -> None:
    from rl.cli import main

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, flags in ((0, request["stdin"], os.O_RDONLY),
                            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own, for its lifetime
    sys.argv = ["rl", *request["args"]]
    sys.exit(main(request["args"]))  # an exception unwinds to the top, printed as by Python


class Launcher:
    """The tests' side: start the launcher, send it commands, read their results."""

    def __init__(self) -> None:
        here = str(Path(__file__).resolve().parent)
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, bufsize=0)
        self.buffer = b""

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float,
            input: str | None = None) -> subprocess.CompletedProcess:  # noqa: A002 - as run's
        with tempfile.TemporaryDirectory() as tmp:
            out, err, stdin = (Path(tmp) / name for name in ("stdout", "stderr", "stdin"))
            stdin.write_text(input or "")
            request = {"args": args, "cwd": str(cwd), "env": env, "stdout": str(out),
                       "stderr": str(err), "stdin": str(stdin)}
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            pid = self.line(60)
            if pid is None:
                raise RuntimeError("the tests' launcher did not start a command in 60 s")
            pid = int(pid)
            code = self.line(timeout)
            if code is None:
                os.kill(pid, signal.SIGKILL)
                self.line(60)
                raise subprocess.TimeoutExpired(["rl", *args], timeout)
            return subprocess.CompletedProcess(["rl", *args], int(code), out.read_text(),
                                               err.read_text())

    def line(self, timeout: float) -> str | None:
        """The launcher's next answer, or None after `timeout` seconds (raw reads: a buffered
        reader could hold an answer that select() would not see)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the tests' launcher process died")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)
