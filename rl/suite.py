"""A suite of training runs (games x seeds under one configuration) that survives being killed.

Each run is `rl train ...` in a child process with its own run directory; the suite keeps
`--jobs` of them going at once. What a run directory holds decides what happens to it when the
suite starts (again): summary.json -> finished, skipped; a checkpoint -> `--resume`; anything
else -> started afresh. So a suite killed at any moment, even with SIGKILL, is continued by
running the same command: finished runs are not redone, and resumed ones keep their metrics
without gaps or duplicates (rl.run's guarantees). Children die with the suite (Linux
PR_SET_PDEATHSIG), so no orphan keeps writing into a directory the next suite will resume.
"""
from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl.run import Run


@dataclass(eq=False)  # a job is itself: hashed by identity
class Job:
    name: str                 # e.g. Pong/seed0
    algo: str
    argv: list[str]           # the training flags, without --run-dir
    run_dir: Path
    status: str = "pending"   # pending, running, done, failed
    returncode: int | None = None
    log: Path | None = field(default=None, repr=False)


def state_of(run_dir: Path) -> str:
    """finished (summary.json), resumable (a checkpoint) or fresh."""
    if (run_dir / "summary.json").is_file():
        return "finished"
    if (run_dir / "config.yaml").is_file() and Run.open(run_dir).has_checkpoint():
        return "resumable"
    return "fresh"


def command(job: Job) -> list[str]:
    base = [sys.executable, "-m", "rl.cli", "train", job.algo]
    if state_of(job.run_dir) == "resumable":
        # the threads this suite gives a run, not those of the leg that started it: a run begun
        # alone with 2 threads and resumed beside another would oversubscribe the cores
        return [*base, "--resume", str(job.run_dir), *flag(job.argv, "--threads"),
                "--no-progress"]
    return [*base, *job.argv, "--run-dir", str(job.run_dir), "--overwrite", "--no-progress"]


def flag(argv: list[str], name: str) -> list[str]:
    """`name` and its value as they stand in argv (the last time), or nothing."""
    at = [i for i, a in enumerate(argv[:-1]) if a == name]
    return argv[at[-1]:at[-1] + 2] if at else []


def die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: a killed suite may leave a run going
        pass


def launch_here(argv: list[str], log: Path) -> subprocess.Popen:
    """A run as a child process of this one, its output appended to `log`."""
    with open(log, "a") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)


class Suite:
    """Keeps `parallel` jobs going. `launch(argv, log)` starts one: a child process here, or a
    task on a Ray cluster (rl.cluster); either is polled and signalled the same way."""

    def __init__(self, jobs: list[Job], parallel: int, log_dir: Path,
                 launch: Callable[[list[str], Path], Any] = launch_here):
        self.jobs, self.parallel, self.log_dir, self.launch = jobs, parallel, log_dir, launch
        self.running: dict[Job, Any] = {}
        self.stop_signal: int | None = None

    def run(self, on_finish: Callable[[Job], None] | None = None, poll_s: float = 0.25
            ) -> list[Job]:
        """Runs every job not finished yet; `on_finish(job)` after each one that ends well."""
        for job in self.jobs:
            if state_of(job.run_dir) == "finished":
                job.status = "done"
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while (pending := [j for j in self.jobs if j.status == "pending"]) or self.running:
                while pending and len(self.running) < self.parallel and not self.stop_signal:
                    self._start(pending.pop(0))
                time.sleep(poll_s)
                for job in [j for j, p in self.running.items() if p.poll() is not None]:
                    self._reap(job, on_finish)
                if self.stop_signal and not self.running:
                    break
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return self.jobs

    def _start(self, job: Job) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        job.log = self.log_dir / (job.name.replace("/", "-") + ".log")
        argv = command(job)
        with open(job.log, "a") as log:
            log.write(f"$ {' '.join(argv[1:])}\n")
        self.running[job] = self.launch(argv, job.log)
        job.status = "running"
        print(f"suite: {job.name}: {'resumed' if '--resume' in argv else 'started'}",
              file=sys.stderr)

    def _reap(self, job: Job, on_finish: Callable[[Job], None] | None) -> None:
        job.returncode = self.running.pop(job).returncode
        # a run stops with 130 or 143 at its clean point; one the signal reached before its
        # handler was in place (still loading) dies of it (-2 or -15): both are to resume
        stopped = bool(self.stop_signal) and job.returncode in (130, 143, -signal.SIGINT,
                                                                 -signal.SIGTERM)
        job.status = "done" if job.returncode == 0 else ("pending" if stopped else "failed")
        said = job.status if not stopped else (
            "stopped, checkpoint kept" if state_of(job.run_dir) == "resumable"
            else "stopped before its first checkpoint")
        print(f"suite: {job.name}: {said}"
              + (f" (exit {job.returncode}; see {job.log})" if job.status == "failed" else ""),
              file=sys.stderr)
        if job.status == "done" and on_finish is not None:
            on_finish(job)

    def exit_code(self) -> int:
        """The command's status once run: 1 if a run failed (named, with its log folder), 130
        or 143 if the suite was interrupted, else 0."""
        failed = [j.name for j in self.jobs if j.status == "failed"]
        if failed:
            print(f"rl: {len(failed)} run(s) failed: {', '.join(failed)} (logs in "
                  f"{self.log_dir}); run the same command to retry them", file=sys.stderr)
            return 1
        return 143 if self.stop_signal == 15 else 130 if self.stop_signal else 0

    def _forward(self, signum: int, _frame: object) -> None:
        """Ctrl-C / SIGTERM: every run stops at its next clean point and keeps a checkpoint."""
        self.stop_signal = signum
        for proc in self.running.values():
            proc.send_signal(signum)
