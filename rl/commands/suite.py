"""`rl suite atari100k`: one configuration, many games and seeds, scored as the field scores it.

    rl suite atari100k --preset drq_eps --seeds 0 --run-dir runs/a100k
    rl suite atari100k --games Pong,Breakout --seeds 0,1,2 --jobs 2 -- --steps 50000

A suite's directory keeps its configuration (preset and training flags) in suite.yaml; the same
directory takes more games or seeds later (`--games Pong,Breakout,Boxing --seeds 1,2` beside a
26-game seed-0 suite), and its scores cover them all.

Runs land in DIR/<Game>/seed<S>/; the same command continues a killed suite (rl.suite). After
each finished run, DIR/scores.json, DIR/scores.md and the plots are rewritten from every
finished run so far: human-normalised scores per game, and IQM, median, mean and optimality
gap over games and seeds with 95% stratified-bootstrap intervals (rliable), beside the
published agents' aggregates.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from rl.cluster import connect, disconnect
from rl.errors import UserError
from rl.files import atomic_write_text
from rl.suite import Job, Suite


def add_parser(sub: Any) -> None:
    suite = sub.add_parser(
        "suite", help="a benchmark: one configuration over many games and seeds",
        description="Train one configuration on every game and seed of a benchmark, each run "
        "in DIR/<game>/seed<S>; the same command continues a killed suite. Training flags "
        "after -- go to every run (e.g. -- --steps 20000).")
    suite.add_argument("benchmark", choices=["atari100k"],
                       help="atari100k: the 26 games of Kaiser et al. 2019, 100k agent steps")
    suite.add_argument("--games", help="comma-separated ALE games instead of the benchmark's "
                       "26 (any Atari game, e.g. Pong,Breakout)")
    suite.add_argument("--preset", default="drq_eps", choices=["der", "drq_eps"],
                       help="the configuration every run uses (default drq_eps)")
    suite.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    suite.add_argument("--run-dir", type=Path, help="where the suite lives "
                       "(default runs/<benchmark>-<preset>)")
    suite.add_argument("--jobs", type=int, help="runs at once; on few cores one thread each "
                       "runs more per hour (default 1; with --ray, all)")
    suite.add_argument("--threads", type=int, default=0,
                       help="torch threads per run (default: cores / jobs)")
    suite.add_argument("--ray", metavar="auto|HOST:PORT",
                       help="run each training run as a Ray task holding --threads CPUs: auto "
                       "starts Ray on this machine, HOST:PORT joins a cluster (`ray start "
                       "--head`); --jobs then bounds the runs in flight (default: all)")


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds expects integers separated by commas, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise UserError(f"--seeds expects seeds >= 0, got {text!r}")
    return seeds


def run_config(game: str, seed: int, preset: str, extra: list[str]) -> dict[str, Any]:
    """The resolved configuration `rl train dqn` will give one run of the suite."""
    from agents import load_algorithm
    from rl.commands.parsing import train_parser
    from rl.config import build_config, to_dict

    module = load_algorithm("dqn")
    args = train_parser("dqn", module).parse_args(["--env", game, "--preset", preset,
                                                   "--seed", str(seed), *extra])
    flags = {k: v for k, v in vars(args).items() if k in module.Config.__dataclass_fields__}
    return to_dict(build_config(module.Config, module.defaults_for(flags), flags))


def check_flags(games: list[str], preset: str, extra: list[str]) -> None:
    """Every run's flags, checked before any run starts: a mistake is one line and exit 2."""
    if any(a in extra for a in ("--run-dir", "--resume", "--seed", "--seeds", "--env")):
        raise UserError("the suite sets --env, --seed and --run-dir of each run itself")
    for game in games[:1] + games[-1:]:
        run_config(game, 0, preset, extra)


# what may differ between runs of one configuration
PER_RUN = {"env", "seed", "threads", "run"}


def check_same_config(base: Path, preset: str, extra: list[str]) -> None:
    """A suite is one configuration: the runs it holds must have been given the settings its
    runs would be given now. The same preset name may mean other values after an upgrade of
    `rl` (the network of a published agent corrected, say); then the suite is refused rather
    than mixed. Options the runs do not know keep their defaults and are not compared."""
    for path in sorted(base.glob("*/seed*/config.yaml")):
        game, seed = path.parent.parent.name, path.parent.name[len("seed"):]
        saved = yaml.safe_load(path.read_text()) if seed.isdigit() else None
        if not isinstance(saved, dict):
            continue  # not one of the suite's runs
        now = run_config(game, int(seed), preset, extra)
        changed = [k for k in now if k in saved and k not in PER_RUN and saved[k] != now[k]]
        if changed:
            diff = ", ".join(f"{k} {saved[k]!r} -> {now[k]!r}" for k in changed[:3])
            raise UserError(f"{path.parent} was trained with other settings than this suite "
                            f"now gives ({diff}): continue it with the rl that ran it, or "
                            "choose another --run-dir")
        return  # one run speaks for all: they were started with the same spec


def open_suite(base: Path, spec: dict[str, Any], games: list[str],
               seeds: list[int]) -> tuple[list[str], list[int]]:
    """A new suite writes its configuration (`spec`); a continued one must have been started
    with the same, and may add games and seeds (three seeds on a few games, say). Returns
    every game and seed the suite holds."""
    path = base / "suite.yaml"
    saved = yaml.safe_load(path.read_text()) if path.is_file() else None
    if saved is not None:
        changed = [k for k in spec if saved.get(k) != spec[k]]
        if changed:
            raise UserError(f"{base} holds a suite with another {', '.join(changed)} "
                            f"({path}): continue it with its settings or choose another --run-dir")
        check_same_config(base, spec["preset"], spec["train_flags"])
        games = saved["games"] + [g for g in games if g not in saved["games"]]
        seeds = saved["seeds"] + [s for s in seeds if s not in saved["seeds"]]
    base.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump({**spec, "games": games, "seeds": seeds},
                                           sort_keys=False))
    return games, seeds


def cmd_suite(args: argparse.Namespace, extra: list[str]) -> int:
    import os

    from envs.atari100k import resolve_games

    games = resolve_games(args.games or args.benchmark)
    seeds = parse_seeds(args.seeds)
    if (args.jobs is not None and args.jobs < 1) or args.threads < 0:
        raise UserError("--jobs must be >= 1 and --threads >= 0")
    if args.jobs is None:
        args.jobs = 0 if args.ray else 1  # 0: as many as there are runs
    check_flags(games, args.preset, extra)
    base = args.run_dir or Path("runs") / f"{args.benchmark}-{args.preset}"
    if args.ray:  # first: a cluster that does not answer leaves nothing written
        connect(args.ray)
        base = base.resolve()  # the tasks' working directories are Ray's, not ours
    all_games, all_seeds = open_suite(base, {"benchmark": args.benchmark, "preset": args.preset,
                                             "train_flags": extra}, games, seeds)
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(args.jobs, 1))
    jobs = [Job(f"{g}/seed{s}", "dqn", ["--env", g, "--preset", args.preset, "--seed", str(s),
                                        "--threads", str(threads), *extra], base / g / f"seed{s}")
            for s in seeds for g in games]
    suite = on_cluster(jobs, args.jobs, base / "logs", args.ray, threads)
    written: list[dict[str, Any]] = []  # the scores as the last finished run left them
    try:
        suite.run(on_finish=lambda _job: written.append(write_scores(base, all_games,
                                                                     all_seeds)))
    finally:
        if args.ray:
            disconnect()
    scores = written[-1] if written else write_scores(base, all_games, all_seeds)
    print(json.dumps({k: scores[k] for k in ("runs_finished", "runs", "aggregates")}))
    return suite.exit_code()


def on_cluster(jobs: list[Job], parallel: int, logs: Path, ray: str | None,
               threads: int) -> Suite:
    """A local suite, or with --ray one whose runs are Ray tasks of `threads` CPUs each."""
    if not ray:
        return Suite(jobs, parallel, logs)
    from rl.cluster import ray_launcher

    return Suite(jobs, parallel or len(jobs), logs, ray_launcher(threads))


def finished_runs(base: Path, games: list[str], seeds: list[int]) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for game in games:
        for seed in seeds:
            path = base / game / f"seed{seed}" / "summary.json"
            if path.is_file():
                out.setdefault(game, {})[seed] = json.loads(path.read_text())
    return out


def write_scores(base: Path, games: list[str], seeds: list[int]) -> dict[str, Any]:
    """scores.json, scores.md and the plots, from every finished run so far."""
    import numpy as np

    from envs.atari100k import GAMES, PUBLISHED, normalized
    from rl.aggregate import aggregates, plot_aggregates, plot_profile, resampled

    runs = finished_runs(base, games, seeds)
    rows = per_game_rows(runs)
    # rliable needs as many runs of every game: the seeds every scored game has finished
    scored = [g for g in runs if normalized(g, 0.0) is not None]
    common = sorted(set.intersection(*(set(runs[g]) for g in scored))) if scored else []
    result: dict[str, Any] = {"runs": len(games) * len(seeds),
                              "runs_finished": sum(len(v) for v in runs.values()),
                              "games_scored": scored, "seeds_aggregated": common,
                              "per_game": rows, "aggregates": None, "published": PUBLISHED}
    if scored and common:
        matrix = np.array([[normalized(g, runs[g][s]["mean_return"]) for g in scored]
                           for s in common])
        result["aggregates"] = aggregates(matrix)
        result["interval_resamples"] = resampled(matrix)
        label = f"ours ({len(scored)} games x {len(common)} seeds)"
        plot_aggregates(result["aggregates"], base / "aggregates.png", label, PUBLISHED,
                        over=result["interval_resamples"])
        plot_profile(matrix, base / "performance_profile.png", label)
    atomic_write_text(base / "scores.json", json.dumps(result, indent=1))
    atomic_write_text(base / "scores.md", markdown(result, len(games) == len(GAMES)))
    return result


def per_game_rows(runs: dict[str, dict[int, dict]]) -> list[dict[str, Any]]:
    import numpy as np

    from envs.atari100k import normalized

    rows = []
    for game, by_seed in runs.items():
        mean = float(np.mean([s["mean_return"] for s in by_seed.values()]))
        row = {"game": game, "seeds": sorted(by_seed), "score": round(mean, 1),
               "per_seed": {str(k): round(v["mean_return"], 1) for k, v in by_seed.items()},
               "per_seed_ci95": {str(k): v.get("mean_return_ci95") for k, v in by_seed.items()},
               "normalized": None, "train_time_s": [v.get("train_time_s") for v in
                                                   by_seed.values()]}
        if (norm := normalized(game, mean)) is not None:  # the exact mean, not the rounded
            row["normalized"] = round(norm, 3)
        rows.append(row)
    return rows


def markdown(result: dict[str, Any], whole_benchmark: bool) -> str:
    from envs.atari100k import HUMAN, PER_GAME, PER_GAME_SOURCE, PUBLISHED, RANDOM

    lines = [f"{result['runs_finished']} of {result['runs']} runs finished"
             + ("" if whole_benchmark else " (a subset of the 26 games)") + ".", ""]
    if result["aggregates"]:
        n, k = len(result["games_scored"]), len(result["seeds_aggregated"])
        over = result.get("interval_resamples", "runs")
        how = ("stratified-bootstrap intervals (runs resampled within games)" if over == "runs"
               else "bootstrap intervals over games (one seed: games resampled)")
        lines += [f"Aggregates over {n} games x {k} seed(s), human-normalised, 95% {how}, "
                  "by rliable:", "",
                  "| | ours | " + " | ".join(PUBLISHED) + " |",
                  "| --- | --- |" + " --- |" * len(PUBLISHED)]
        for name, agg in result["aggregates"].items():
            published = [PUBLISHED[a].get(name) for a in PUBLISHED]
            ci = f"[{agg['ci95'][0]:.3f}, {agg['ci95'][1]:.3f}]"
            lines.append(f"| {name} | {agg['value']:.3f} {ci} | "
                         + " | ".join("" if p is None else f"{p:.3f}" for p in published) + " |")
        if over == "games":
            lines += ["", "With one seed a game has one run, so the stratified bootstrap (runs "
                      "resampled within games) would give an interval of no width; this one "
                      "resamples the games (rliable's task bootstrap) and says how much the "
                      "aggregate rests on which games were played, not how it would move with "
                      "another seed. The published aggregates beside it are over all 26 games and "
                      "many runs a game."]
        lines.append("")
    agents = " | ".join(PER_GAME)
    lines += [f"| game | ours (mean over seeds) | one seed's 95% interval, or each seed's score "
              f"| normalised | random | human | {agents} |",
              "| --- | --- | --- | --- | --- | --- |" + " --- |" * len(PER_GAME)]
    for row in result["per_game"]:
        norm = "" if row["normalized"] is None else f"{row['normalized']:.3f}"
        theirs = " | ".join(str(PER_GAME[a].get(row["game"], "")) for a in PER_GAME)
        lines.append(f"| {row['game']} | {row['score']:g} ({_seeds(len(row['seeds']))}) | "
                     f"{_spread(row)} | {norm} | {RANDOM.get(row['game'], '')} | "
                     f"{HUMAN.get(row['game'], '')} | {theirs} |")
    lines += ["", f"Published per-game scores: {PER_GAME_SOURCE}."]
    return "\n".join(lines) + "\n"


def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")


def _spread(row: dict[str, Any]) -> str:
    """One seed: its evaluation episodes' bootstrap interval; several: each seed's score."""
    if len(row["per_seed"]) > 1:
        return ", ".join(f"{v:g}" for v in row["per_seed"].values())
    ci = next(iter(row["per_seed_ci95"].values()))
    return "" if ci is None else f"[{round(ci[0], 1):g}, {round(ci[1], 1):g}]"
