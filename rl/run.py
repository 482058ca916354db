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

import csv
import io
import json
import math
import os
import pickle
import shutil
import signal
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rl.errors import UserError

CHECKPOINT_FORMAT = 1


@dataclass
class RunOptions:
    """How a run is carried out, as opposed to what is learned (the algorithm's Config)."""

    device: str = "cpu"
    progress: bool = True
    tensorboard: bool = False
    wandb: bool = False
    world_size: int = 1  # processes training data-parallel under torchrun
    on_nan: str = "stop"  # a NaN/inf loss: stop (keep the last good checkpoint) or skip the update
    step_hook: Callable[[int], None] | None = None  # called with the step count (benchmarks)


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide reports and plots from others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load tensors and plain data only: a checkpoint can never run code on load."""
    import torch

    if not path.is_file():
        raise UserError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"refusing checkpoint {path}: it holds objects other than tensors and "
                        f"plain data ({first[:120]})") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as e:
        raise UserError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); "
                        "resume from another checkpoint") from None
    if not isinstance(state, dict) or "meta" not in state:
        raise UserError(f"{path} is not an rl checkpoint")
    return state


def check_checkpoint_meta(path: Path, meta: dict[str, Any], expected: dict[str, Any]) -> None:
    """Refuse a checkpoint made for another algorithm, env or network, naming what differs."""
    for key, want in expected.items():
        have = meta.get(key)
        if have != want:
            raise UserError(f"checkpoint {path} was made with {key}={have!r}, "
                            f"this run needs {key}={want!r}")


class MetricsWriter:
    """Appends rows to metrics.csv, flushing each one so a killed run keeps them."""

    def __init__(self, path: Path, columns: Iterable[str]):
        self.path = path
        self.columns = list(columns)
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh:
            self.columns = widen_metrics(path, self.columns)
        self._file = path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="raise")
        if fresh:
            self._writer.writeheader()
            self._file.flush()
        self.rows = 0 if fresh else count_rows(path)

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._file.flush()
        self.rows += 1

    def close(self) -> None:
        self._file.close()


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def count_rows(path: Path) -> int:
    with path.open(newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def read_metrics(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def widen_metrics(path: Path, columns: list[str]) -> list[str]:
    """The columns of a metrics.csv that a newer version of the run's code continues: its
    own, then any the file has beside them. Rows written before a column existed get it empty
    (the file is rewritten once, atomically), so a resumed run's rows stay aligned."""
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    if header == columns or not set(columns) - set(header):
        return header or columns
    wider = columns + [c for c in header if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, wider)
    writer.writeheader()
    writer.writerows(read_metrics(path))
    atomic_write_text(path, out.getvalue())
    return wider


def truncate_metrics(path: Path, rows: int) -> None:
    """Keep the header and the first `rows` rows: drop what was logged after the checkpoint."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        lines = list(csv.reader(f))
    if len(lines) - 1 <= rows:
        return
    out = io.StringIO()
    csv.writer(out).writerows(lines[: rows + 1])
    atomic_write_text(path, out.getvalue())


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
