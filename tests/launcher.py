"""The tests' `rl` commands, each in a process of its own as a user runs them, without paying
for the imports every time: a launcher process imports torch and the agents once and forks a
child per command, which moves to the command's folder, takes its environment and arguments,
runs `rl` and exits with its status (and its traceback, if any). Those imports cost about 2 s
of CPU a command, which was about half of the suite's time; tearing them down again at exit
cost 1.4 s more, which the children skip.

Only imports happen before a fork (no thread pool has started), so a child is a fresh `rl`
process in all that the tests look at: its files, its output, its exit status."""
from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SERVE = "import launcher; launcher.serve()"


def serve() -> None:
    """The launcher: one request per line on standard input; it answers with the child's pid,
    then with its exit status when it ends."""
    import gc
    import threading

    import matplotlib

    matplotlib.use("Agg")  # what every plot of rl chooses; pyplot costs ~0.4 s to import
    import matplotlib.pyplot  # noqa: F401
    import rliable.library  # noqa: F401  suites and seeds score with it: ~2.5 s to import
    import rliable.plot_utils  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  the first optimizer imports it: ~2 s a process

    import agents.alphazero  # noqa: F401
    import agents.classifier  # noqa: F401
    import agents.dqn  # noqa: F401
    import agents.qlearning  # noqa: F401
    import rl.cli  # noqa: F401

    assert threading.active_count() == 1, "a thread before fork would be lost in the child"
    gc.freeze()  # the imports' objects stay out of the children's collections: no page copied
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

    # Ctrl-C raises KeyboardInterrupt, as in a process started from a terminal (the launcher,
    # started by a pytest-xdist worker, inherited SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
    try:
        status = main(request["args"])
    except SystemExit as stop:
        status = stop.code
    except BaseException:  # noqa: BLE001 - printed as Python prints what reaches the top
        traceback.print_exc()
        status = 1
    if status is not None and not isinstance(status, int):
        print(status, file=sys.stderr)  # sys.exit("message"), as Python prints it
        status = 1
    # Exit as Python does, less the interpreter's teardown: its exit handlers run and its
    # streams are flushed, but the modules the launcher imported are not torn down one
    # object at a time (that wrote to every page shared with the launcher: 1.4 s a command).
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status or 0)


class Launcher:
    """The tests' side: start the launcher, send it commands, read their results."""

    def __init__(self) -> None:
        here = str(Path(__file__).resolve().parent)
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, bufsize=0)
        self.buffer = b""
        self.running: Launched | None = None

    def start(self, args: list[str], cwd: Path, env: dict[str, str], input: str | None = None
              ) -> Launched:  # noqa: A002 - as subprocess.run's
        """Fork a command and return at once. The launcher runs one at a time: a command still
        running from before is a failed test's leftover, and is killed first."""
        if self.running is not None:
            if self.running.poll() is None:
                self.running.kill()
            self.running.wait()
        tmp = Path(tempfile.mkdtemp(prefix="rl-command-"))
        (tmp / "stdin").write_text(input or "")
        request = {"args": args, "cwd": str(cwd), "env": env, "stdin": str(tmp / "stdin"),
                   "stdout": str(tmp / "stdout"), "stderr": str(tmp / "stderr")}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        pid = self.line(60)
        if pid is None:
            raise RuntimeError("the tests' launcher did not start a command in 60 s")
        self.running = Launched(self, ["rl", *args], int(pid), tmp)
        return self.running

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float,
            input: str | None = None) -> subprocess.CompletedProcess:  # noqa: A002 - as run's
        command = self.start(args, cwd, env, input)
        try:
            out, err = command.communicate(timeout)
        except subprocess.TimeoutExpired:
            command.kill()
            command.wait()
            raise
        return subprocess.CompletedProcess(command.args, command.returncode, out, err)

    def line(self, timeout: float | None) -> str | None:
        """The launcher's next answer, or None after `timeout` seconds (raw reads: a buffered
        reader could hold an answer that select() would not see)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
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


class Launched:
    """A command forked by the launcher, handled as a subprocess.Popen: poll, wait, signal,
    communicate. Its output goes to files, read when it has ended."""

    def __init__(self, launcher: Launcher, args: list[str], pid: int, folder: Path) -> None:
        self.launcher, self.args, self.pid, self.folder = launcher, args, pid, folder
        self.returncode: int | None = None
        self.output: dict[str, str] = {}  # read when the command ends; its folder is removed

    def poll(self) -> int | None:
        return self.returncode if self.returncode is not None else self._ended(0)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._ended(timeout) is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _ended(self, timeout: float | None) -> int | None:
        code = self.launcher.line(timeout)
        if code is not None:
            self.returncode = int(code)
            self.launcher.running = None
            self.output = {name: self._read(name) for name in ("stdout", "stderr")}
            shutil.rmtree(self.folder, ignore_errors=True)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # ended; its status is on its way
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return self.stdout.read(), self.stderr.read()

    def _read(self, name: str) -> str:
        return self.output[name] if name in self.output else (self.folder / name).read_text()

    @property
    def stdout(self) -> io.StringIO:
        return io.StringIO(self._read("stdout"))

    @property
    def stderr(self) -> io.StringIO:
        return io.StringIO(self._read("stderr"))
