"""A run directory and the guarantees every algorithm gets from it.

    runs/<algo>-<env>-<timestamp>/
        config.yaml        full resolved config (algorithm + run options)
        metrics.csv        one row per log step, flushed as written
        summary.json       final figures
        checkpoints/       latest.pt, best.pt: written atomically, loaded with weights_only=True
        learning_curve.png

Atomic writes (temp file, fsync, rename) mean a run killed at any moment leaves only complete
files. A checkpoint records how many metric rows existed when it was taken, so `--resume`
truncates rows logged after it: the history has neither gaps nor duplicates.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rl.errors import UserError
from rl.files import (
    CHECKPOINT_FORMAT,
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
)
from rl.metrics import MetricsWriter, truncate_metrics


@dataclass
class RunOptions:
    """How a run is carried out, as opposed to what is learned (the algorithm's Config)."""

    device: str = "cpu"
    progress: bool = True
    tensorboard: bool = False
    wandb: bool = False
    world_size: int = 1  # processes training data-parallel under torchrun
    on_nan: str = "stop"  # a NaN/inf loss: stop (keep the last good checkpoint) or skip the update
    ray: str | None = None  # a Ray cluster (auto or HOST:PORT) for algorithms with RAY_ACTORS
    step_hook: Callable[[int], None] | None = None  # called with the step count (benchmarks)


class StopFlag:
    """SIGINT/SIGTERM set a flag that training loops poll, so they stop at a clean point."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._first_at = 0.0
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is None:
            self.signum, self._first_at = signum, time.monotonic()
        # a second Ctrl-C stops at once; one signal delivered twice (`timeout make run` signals
        # make's process group, and make passes it on) must not cost the final checkpoint
        elif time.monotonic() - self._first_at > 1.0:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Stop as if signalled: another process of a data-parallel run was."""
        if self.signum is None:
            self.signum = signum

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum if self.signum is not None else 0


class LossGuard:
    """What a NaN or infinite loss does. `stop` raises FloatingPointError: the command reports
    it and exits 3, keeping the last good checkpoint. `skip` drops that update and counts it;
    more than `max_in_a_row` in a row still stop (the weights are broken by then)."""

    def __init__(self, policy: str = "stop", max_in_a_row: int = 100):
        self.policy = policy
        self.max_in_a_row = max_in_a_row
        self.skipped = 0
        self._in_a_row = 0

    def ok(self, loss: Any) -> bool:
        """True if the update may go ahead (loss: a number or a one-element tensor)."""
        value = float(loss.detach() if hasattr(loss, "detach") else loss)
        if math.isfinite(value):
            self._in_a_row = 0
            return True
        self._in_a_row += 1
        if self.policy == "stop":
            raise FloatingPointError(f"loss became {value}")
        if self._in_a_row > self.max_in_a_row:
            raise FloatingPointError(f"{self._in_a_row} non-finite losses in a row "
                                     f"({self.skipped} updates skipped in all)")
        self.skipped += 1
        return False


class Run:
    """The directory of one run, opened fresh or for resume."""

    def __init__(self, path: Path, config: dict[str, Any]):
        self.path = path
        self.config = config
        self._first_config = config  # what revert_config() puts back
        self.checkpoints = path / "checkpoints"
        self.stop = StopFlag()
        self.metrics: MetricsWriter | None = None
        self.created_root: Path | None = None  # topmost directory this run created
        self.writes = True  # False in the other processes of a data-parallel run
        self.guard = LossGuard()  # every training loop asks it before an update

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, config: dict[str, Any], overwrite: bool = False) -> Run:
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise UserError(f"run directory {path} already exists: pass --resume {path} to "
                                "continue it, --overwrite to replace it, or another --run-dir")
            _remove_run_dir(path)
        created_root = next((p for p in reversed([path, *path.parents]) if not p.exists()), None)
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "checkpoints").mkdir(exist_ok=True)
            atomic_write_text(path / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        except OSError as e:
            raise UserError(f"cannot create run directory {path}: {e.strerror.lower()} "
                            "(choose another --run-dir)") from None
        run = cls(path, config)
        run.created_root = created_root
        return run

    def discard(self) -> None:
        """Remove what `create` made: a run that failed on user input leaves nothing behind."""
        self.close()
        if self.created_root is not None:
            shutil.rmtree(self.created_root, ignore_errors=True)

    @classmethod
    def open(cls, path: Path) -> Run:
        cfg_path = path / "config.yaml"
        if not cfg_path.is_file():
            raise UserError(f"{path} is not a run directory (no config.yaml)")
        try:
            config = yaml.safe_load(cfg_path.read_text())
        except yaml.YAMLError:
            raise UserError(f"{cfg_path} is not valid YAML") from None
        if not isinstance(config, dict) or "algo" not in config:
            raise UserError(f"{cfg_path} does not name an algorithm")
        return cls(path, config)

    @classmethod
    def replica(cls, path: Path) -> Run:
        """Rank > 0 of a data-parallel run: reads the directory rank 0 owns, writes nothing."""
        run = cls.open(path)
        run.writes = False
        return run

    def update_config(self, config: dict[str, Any]) -> None:
        self.config = config
        atomic_write_text(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def revert_config(self) -> None:
        """A resume refused after its options were written: config.yaml stays true."""
        if self.config is not self._first_config:
            self.update_config(self._first_config)

    # -- metrics ----------------------------------------------------------------------------
    def open_metrics(self, columns: Iterable[str], keep_rows: int | None = None) -> MetricsWriter:
        path = self.path / "metrics.csv" if self.writes else Path(os.devnull)
        if keep_rows is not None and self.writes:
            truncate_metrics(path, keep_rows)
        self.metrics = MetricsWriter(path, columns)
        return self.metrics

    # -- checkpoints ------------------------------------------------------------------------
    def save(self, state: dict[str, Any], *, best: bool = False) -> None:
        if not self.writes:
            return
        state = dict(state)
        state["meta"] = {**state.get("meta", {}), "format": CHECKPOINT_FORMAT,
                         "metrics_rows": self.metrics.rows if self.metrics else 0}
        save_checkpoint(self.checkpoints / "latest.pt", state)
        if best:  # best.pt is for evaluation and export: the replay stays in latest.pt alone
            save_checkpoint(self.checkpoints / "best.pt",
                            {k: v for k, v in state.items() if k != "replay"})

    def remove_partial_writes(self) -> None:
        """Temp files of a process killed mid-write (the renamed files are all complete)."""
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def checkpoint_path(self, which: str = "latest") -> Path:
        """latest, best, another name in checkpoints/ (pretrained), or a path."""
        if "/" not in which and not which.endswith(".pt"):
            return self.checkpoints / f"{which}.pt"
        return Path(which)

    def load(self, which: str = "latest") -> dict[str, Any]:
        return load_checkpoint(self.checkpoint_path(which))

    def has_checkpoint(self, which: str = "latest") -> bool:
        return self.checkpoint_path(which).is_file()

    # -- results ----------------------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any]) -> None:
        if not self.writes:
            return
        atomic_write_text(self.path / "summary.json", json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any]:
        path = self.path / "summary.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def close(self) -> None:
        if self.metrics:
            self.metrics.close()
        self.stop.uninstall()


def _remove_run_dir(path: Path) -> None:
    """--overwrite removes only something that looks like a run directory."""
    if not (path / "config.yaml").exists():
        raise UserError(f"{path} exists and is not a run directory: refusing to overwrite it")
    shutil.rmtree(path)


def export_run(run: Run, out: Path, which: str, keys: Iterable[str],
               overwrite: bool = False) -> dict[str, Any]:
    """A shipped agent: the run's config and summary with one checkpoint cut down to `keys`
    (the network, no optimiser or replay), as best.pt in a folder every command reads as a
    run directory. An existing folder is replaced only with `overwrite`, and only if it is an
    agent folder."""
    replace = out.exists() and any(out.iterdir())
    if replace and not (out / "config.yaml").exists():
        raise UserError(f"{out} exists and is not an agent folder: choose another --out")
    if replace and not overwrite:
        raise UserError(f"{out} already holds an agent: add --overwrite to replace it, or "
                        "choose another --out")
    state = run.load(which)
    if replace:
        shutil.rmtree(out)  # a replaced agent leaves nothing of its own behind
    kept = {k: v for k, v in state.items() if k in set(keys)}
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "checkpoints" / "best.pt", kept)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(run.config, sort_keys=False))
    if (run.path / "summary.json").exists():  # the run's figures, and which network ships
        summary = json.loads((run.path / "summary.json").read_text())
        summary["exported_checkpoint"] = which
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return {"out": str(out), "checkpoint": which, "kept": sorted(kept),
            "bytes": (out / "checkpoints" / "best.pt").stat().st_size}
