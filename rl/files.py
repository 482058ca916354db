"""Files that survive a kill: atomic writes (temp file, fsync, rename) and checkpoints saved
that way, loaded with weights_only=True and checked against what the caller expects."""
from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from rl.errors import UserError

CHECKPOINT_FORMAT = 1


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
