"""metrics.csv: one row per log step, flushed as written; truncated to a checkpoint's rows on
--resume, widened when a newer version of the code logs more columns."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rl.files import atomic_write_text


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
