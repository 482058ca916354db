"""The training-loop skeleton every learner runs in, so each `train()` keeps only what differs.

    loop = Loop(run, opts, seed=cfg.seed, threads=cfg.threads, meta=meta)
    if state := loop.restore(resume):         # the checkpoint, checked against meta
        ...                                   # the learner takes back its own parts
    loop.begin(COLUMNS, total=cfg.steps, done=step, label=..., plot=plot)
    while loop.running(step):
        ...                                   # act, learn
        new_best = loop.offer(step, score)    # after an evaluation
        loop.log(step, row)                   # metrics.csv, TensorBoard, wandb
        loop.save(snapshot(), best=new_best)  # checkpoint; plots redrawn now and then
        loop.progress(step, ret=...)
    loop.close(snapshot())                    # last checkpoint, plot, trackers closed
    figures = loop.settle(step, final, best_figures, snapshot())

**Best checkpoints that luck cannot pick.** During training best.pt holds the network with the
highest evaluation so far, ties going to the later one. At the end, `settle` measures the
final network and that candidate on the same, larger set of fresh episodes and keeps the
better (ties again to the later, final one), so summary.json, best.pt and `rl eval` on its
defaults describe one network.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from rl.errors import UserError
from rl.files import check_checkpoint_meta
from rl.progress import TrainingProgress
from rl.run import Run, RunOptions
from rl.tracking import Trackers


class Loop:
    def __init__(self, run: Run, opts: RunOptions, *, seed: int, threads: int = 0,
                 meta: dict[str, Any], plot_every_s: float = 60.0):
        import torch

        from rl.precision import flush_denormals

        flush_denormals()  # `rl train` did already; here for loops started from Python
        torch.manual_seed(seed)
        if threads:
            torch.set_num_threads(threads)
        self.run, self.opts, self.meta = run, opts, meta
        self.keep_rows: int | None = None
        self.resumed = False
        self.best_step: int | None = None
        self.best_score = -math.inf
        self.plot_every_s = plot_every_s
        self._last_plot = time.perf_counter()
        self.total = 0
        # Wall time of the legs before this one: a resumed run's summary times the whole run.
        # Checkpoints written before legs were timed lack it, and count from their resume.
        self._time_before = 0.0
        self._t0 = time.perf_counter()

    # -- start -----------------------------------------------------------------------------------
    def restore(self, resume: bool) -> dict[str, Any] | None:
        """The latest checkpoint of a resumed run, refused if made for another problem."""
        if not (resume and self.run.has_checkpoint()):
            return None
        state = self.run.load()
        check_checkpoint_meta(self.run.checkpoint_path(), state["meta"], self.meta)
        self.keep_rows = state["meta"]["metrics_rows"]
        self.best_step, self.best_score = state.get("best_step"), state.get("best_score", -math.inf)
        self._time_before = float(state.get("elapsed_s", 0.0))
        self.resumed = True
        return state

    def begin(self, columns: Sequence[str], *, total: int, done: int, label: str,
              plot: Callable[[Run], None], unit: str = "steps") -> None:
        if self.resumed and done > total:
            raise UserError(f"{self.run.path} has trained {done:,} {unit} already, more than the "
                            f"{total:,} asked: --resume extends a budget but cannot shrink one "
                            "(start a new run for a smaller one)")
        self.total, self.plot = total, plot
        self.metrics = self.run.open_metrics(columns, keep_rows=self.keep_rows)
        self.trackers = Trackers(self.run.path, self.run.config, tensorboard=self.opts.tensorboard,
                                 wandb=self.opts.wandb, resume_step=done if self.resumed else None)
        self.bar = TrainingProgress(total, done, label=label, enabled=self.opts.progress,
                                    unit=unit)
        self.run.stop.install()
        self._t0 = time.perf_counter()

    # -- each step -------------------------------------------------------------------------------
    def running(self, done: int) -> bool:
        return done < self.total and not self.run.stop

    @property
    def stopped(self) -> bool:
        return bool(self.run.stop)

    def leg_time(self) -> float:
        """Seconds since this leg began (`begin`)."""
        return time.perf_counter() - self._t0

    def train_time(self) -> float:
        """Seconds of training over all legs of the run, this one included."""
        return self._time_before + self.leg_time()

    def log(self, step: int, row: dict[str, Any]) -> None:
        self.metrics.write(row)
        self.trackers.log(step, row)

    def progress(self, step: int, **fields: Any) -> None:
        self.bar.update(step, **fields)
        if self.opts.step_hook is not None:  # a benchmark's clock, as SB3's callbacks
            self.opts.step_hook(step)

    def offer(self, step: int, score: float) -> bool:
        """Whether an evaluation's score makes this network the best so far (ties: later)."""
        if score >= self.best_score:
            self.best_step, self.best_score = step, float(score)
            return True
        return False

    def save(self, state: dict[str, Any], *, best: bool = False, plot: bool = True) -> None:
        state = {**state, "best_step": self.best_step, "best_score": self.best_score,
                 "elapsed_s": self.train_time()}
        self.run.save(state, best=best)
        if plot and time.perf_counter() - self._last_plot > self.plot_every_s:
            self.plot(self.run)
            self._last_plot = time.perf_counter()

    # -- the end ---------------------------------------------------------------------------------
    def close(self, state: dict[str, Any] | None) -> None:
        """state: the last checkpoint, unless the loop has just saved it."""
        self.bar.close()
        if state is not None:
            self.save(state, plot=False)
        self.plot(self.run)
        self.trackers.close()

    def settle(self, step: int, final: dict[str, Any], best: Callable[[], dict[str, Any]],
               state: dict[str, Any], key: str = "mean_return") -> dict[str, Any]:
        """best.pt becomes the better of the final network (`final`, its figures on the final
        evaluation) and the best candidate (`best()`, its figures on the same episodes);
        returns the chosen one's figures, naming its step."""
        earlier = self.best_step is not None and self.best_step != step
        if earlier and self.run.has_checkpoint("best"):
            candidate = best()
            if candidate[key] > final[key]:
                return {"checkpoint": "best", "checkpoint_step": self.best_step, **candidate,
                        "final_network": final}
        self.best_step, self.best_score = step, float(final[key])
        self.save(state, best=True, plot=False)
        return {"checkpoint": "best", "checkpoint_step": step, **final}


def crossed(step: int, previous: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (previous, step]."""
    return step // every > previous // every
