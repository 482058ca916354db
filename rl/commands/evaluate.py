"""`rl eval` and `rl record`, built in two stages as `rl train` is.

The run directory names the algorithm; that algorithm's `EvalConfig` (`RecordConfig`) declares
the flags with `opt()` fields, so a new algorithm brings its own without touching this file.
The agent receives the checkpoint's name and the typed config, never the command's parse:

    module.evaluate(run, checkpoint, EvalConfig, progress) -> dict
    module.evaluate_ensemble(runs, checkpoint, EvalConfig) -> dict    (optional)
    module.record(run, checkpoint, RecordConfig) -> dict              (optional)
"""
from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rl.commands.parsing import Parser
from rl.config import add_config_args, build_config, flag_names
from rl.errors import UserError
from rl.present import as_text, rounded
from rl.run import Run


@dataclass(frozen=True)
class Verb:
    name: str
    config: str  # the name of the algorithm's config class
    help: str
    description: str


EVAL = Verb("eval", "EvalConfig", "evaluate a trained run; `rl eval DIR --help` lists the "
            "options of its algorithm",
            "Evaluate the agent saved in a run directory and print its figures. Several "
            "classifier runs: their ensemble (class probabilities averaged).")
RECORD = Verb("record", "RecordConfig", "play and record episodes of a trained agent",
              "Atari and classic control: MP4 of the full game frames (gymnasium's "
              "RecordVideo). Board games: a GIF, one frame per move. Files go to DIR/videos/, "
              "named with checkpoint, seed and score.")


def add_parsers(sub: Any) -> None:
    """The entries `rl --help` lists; the verbs parse their own arguments (see `main`)."""
    for verb in (EVAL, RECORD):
        sub.add_parser(verb.name, help=verb.help, add_help=False)


def base_parser(verb: Verb, prog: str, epilog: str | None = None) -> Parser:
    """What every algorithm's `rl eval` (`rl record`) shares: run directories, the checkpoint."""
    p = Parser(prog=prog, description=verb.description, epilog=epilog,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, nargs="+" if verb is EVAL else None,
                   help="run directory written by `rl train` (or a shipped agent's folder)")
    p.add_argument("--checkpoint", default="best",
                   help="best, latest, another name in DIR/checkpoints or a path to a "
                   "checkpoint file (default best; latest when the run has no best)")
    if verb is EVAL:
        p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def algorithms_with(verb: Verb) -> dict[str, ModuleType]:
    from agents import ALGORITHMS, load_algorithm

    modules = {name: load_algorithm(name) for name in ALGORITHMS}
    return {n: m for n, m in modules.items() if hasattr(m, verb.config)}


def general_help(verb: Verb) -> str:
    """`rl eval --help` before any run is named: each algorithm's options, by name."""
    lines = [textwrap.fill(" ".join(flag_names(getattr(m, verb.config))), 88,
                           initial_indent=f"  {name:<12} ", subsequent_indent=" " * 15)
             for name, m in algorithms_with(verb).items()]
    return (f"options of each algorithm (`rl {verb.name} DIR --help` explains those of DIR's):\n"
            + "\n".join(lines))


def check_flags(verb: Verb, parser: Parser, argv: list[str], algo: str, where: Path) -> None:
    """A flag of another algorithm's is named as such: `--opponent is for alphazero runs`."""
    known = {s for a in parser._actions for s in a.option_strings}
    for token in argv:
        flag = token.split("=")[0]
        if not flag.startswith("--") or flag in known:
            continue
        owners = [n for n, m in algorithms_with(verb).items()
                  if flag in flag_names(getattr(m, verb.config))]
        if owners:
            raise UserError(f"{flag} is for {' and '.join(owners)} runs; {where} is a {algo} "
                            f"run (see 'rl {verb.name} {where} --help')")


def parse(verb: Verb, argv: list[str]) -> tuple[list[Run], ModuleType, Any, argparse.Namespace]:
    """Stage one: the run directories name the algorithm. Stage two: its config's flags."""
    from agents import load_algorithm

    first_flag = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    dirs = argv[:first_flag]  # the run directories come before any option
    if not dirs:
        base_parser(verb, f"rl {verb.name}", general_help(verb)).parse_args(argv)
        raise UserError(f"name a run directory: rl {verb.name} DIR")  # argparse said it too
    runs = [Run.open(Path(d)) for d in dirs]
    algo = runs[0].config["algo"]
    module = load_algorithm(algo)
    if not hasattr(module, verb.config):
        raise UserError(f"{dirs[0]} is a {algo} run: `rl {verb.name}` takes "
                        f"{' and '.join(algorithms_with(verb))} runs")
    cls = getattr(module, verb.config)
    parser = base_parser(verb, f"rl {verb.name}")
    add_config_args(parser, cls, title=f"{algo} options (the algorithm of {dirs[0]})")
    check_flags(verb, parser, argv, algo, Path(dirs[0]))
    args = parser.parse_args(argv)
    cfg = build_config(cls, {k: v for k, v in vars(args).items()
                             if k in cls.__dataclass_fields__})
    if args.checkpoint == "best" and not runs[0].has_checkpoint("best"):
        args.checkpoint = "latest"
    return runs, module, cfg, args


def cmd_eval(argv: list[str]) -> int:
    runs, module, cfg, args = parse(EVAL, argv)
    if len(runs) > 1 and (not hasattr(module, "evaluate_ensemble")
                          or any(r.config["algo"] != runs[0].config["algo"] for r in runs)):
        raise UserError("several run directories make an ensemble, which is for classifier "
                        "runs only")
    if len(runs) == 1:
        # on standard error, so --json's output stays one object: a bar on a terminal, plain
        # lines elsewhere (a long match is not silent in a log)
        result = module.evaluate(runs[0], args.checkpoint, cfg, True)
    else:
        result = module.evaluate_ensemble(runs, args.checkpoint, cfg)
    print(json.dumps(rounded(result)) if args.json else as_text(result))
    return 0


def cmd_record(argv: list[str]) -> int:
    runs, module, cfg, args = parse(RECORD, argv)
    print(json.dumps(module.record(runs[0], args.checkpoint, cfg)))
    return 0
