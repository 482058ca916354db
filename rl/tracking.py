"""Where metrics go besides metrics.csv: TensorBoard and wandb, both optional.

wandb runs offline unless the user is logged in, and any failure of a tracker is a warning:
tracking must never block or fail a training run.
"""
from __future__ import annotations

import math
import netrc
import os
import sys
from pathlib import Path
from typing import Any


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def wandb_logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def reachable(host: str, port: int = 443, timeout: float = 2.0) -> bool:
    """Logged in but offline must not mean a run that waits on the network."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Trackers:
    """Fans numeric metrics out to TensorBoard and wandb."""

    def __init__(self, run_dir: Path, config: dict[str, Any], *, tensorboard: bool,
                 wandb: bool, resume_step: int | None = None):
        self._tb = None
        self._wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                # purge_step hides events logged after the checkpoint we resume from
                self._tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step)
            except Exception as e:  # noqa: BLE001 - tracking must not fail a run
                _warn(f"TensorBoard disabled: {e}")
        if wandb:
            try:
                os.environ.setdefault("WANDB_SILENT", "true")
                import wandb as wb

                online = wandb_logged_in() and reachable("api.wandb.ai")
                mode = os.environ.get("WANDB_MODE") or ("online" if online else "offline")
                self._wandb = wb.init(project="rl", dir=str(run_dir), config=config, mode=mode,
                                      name=run_dir.name, id=run_dir.name.replace("/", "-"),
                                      resume="allow", reinit=True)
            except Exception as e:  # noqa: BLE001
                _warn(f"wandb disabled: {e}")

    def log(self, step: int, row: dict[str, Any]) -> None:
        scalars = {k: float(v) for k, v in row.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"
                   and math.isfinite(float(v))}
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            try:
                self._wandb.log(scalars, step=step)
            except Exception as e:  # noqa: BLE001
                _warn(f"wandb logging stopped: {e}")
                self._wandb = None

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            try:
                self._wandb.finish()
            except Exception:  # noqa: BLE001
                pass
