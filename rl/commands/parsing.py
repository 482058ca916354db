"""The command's argument parsing shared by its verbs: one-line mistakes with a suggestion, and
`rl train ALGO`'s parser built from the algorithm's Config."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from rl.config import add_config_args
from rl.errors import did_you_mean


class Parser(argparse.ArgumentParser):
    """argparse that reports mistakes in one line, with a suggestion when one is close."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and " " in self.prog:  # a verb's own parser ('rl bench selfplay'): its own
            # options are the ones to suggest from, and its own --help the one to point to
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        m = re.search(r"unrecognized arguments: (\S+)", message)
        if m:
            known = [s for a in self._actions if not isinstance(a, argparse._HelpAction)
                     for s in a.option_strings]  # --threads is not a misspelt --help
            message = f"unknown option {m.group(1)}{did_you_mean(m.group(1), known)}"
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'?([\w.-]+)'?", m.group(2))
            message = (f"{message.split(':')[0]}: unknown value {m.group(1)!r}"
                       f"{did_you_mean(m.group(1), choices)}; choose from {', '.join(choices)}")
        fail(f"{message} (see '{self.prog} --help')")


def fail(message: str) -> NoReturn:
    print(f"rl: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def train_parser(algo: str, module: Any) -> Parser:
    p = Parser(prog=f"rl train {algo}", description=(module.__doc__ or "").strip(),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    run = p.add_argument_group("run options")
    run.add_argument("--config", type=Path, help="YAML file of options (flags win over it)")
    run.add_argument("--run-dir", type=Path, help="where to write the run "
                     "(default runs/<algo>-<env>-<timestamp>)")
    run.add_argument("--resume", type=Path, metavar="DIR",
                     help="continue the run in DIR from its latest checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --run-dir")
    run.add_argument("--seeds", metavar="S1,S2,...", help="one run per seed, one after the other, "
                     "in --run-dir/seed<S> (compare them with `rl compare DIR/seed*`); their "
                     "summaries print as JSON Lines, one object per line")
    run.add_argument("--ray", metavar="auto|HOST:PORT", help="with --seeds: the seeds run at "
                     "once, each a Ray task (auto: Ray on this machine; HOST:PORT: a cluster "
                     "from `ray start --head`); run the same command again to continue. "
                     "alphazero without --seeds: its --workers are Ray actors that stream "
                     "games to the learner")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help="where networks run (default auto: cuda when present)")
    run.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    run.add_argument("--wandb", action="store_true",
                     help="also log to wandb (offline unless you are logged in)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--on-nan", choices=["stop", "skip"], default="stop",
                     help="a NaN/inf loss stops the run, keeping the last good checkpoint "
                     "(default), or skips that update and counts it")
    add_config_args(p, module.Config)
    return p
