"""What a newcomer types first: every command's and every algorithm's --help prints its help."""
from pathlib import Path

import pytest

from agents import ALGORITHMS
from rl.cli import main_parser
from rl.commands.bench import KINDS as BENCHMARKS

AGENTS = Path(__file__).resolve().parent.parent / "experiments" / "agents"
# a shipped agent of each algorithm: `rl eval DIR --help` shows that algorithm's options
SHIPPED = {"qlearning": "taxi", "classifier": "fashion_mnist", "dqn": "pong",
           "alphazero": "tic_tac_toe"}

COMMANDS = [name for action in main_parser()._subparsers._group_actions
            for name in action.choices]


@pytest.mark.parametrize("argv", [[], *[[c] for c in COMMANDS], ["games", "generate"],
                                  *[["bench", kind] for kind in BENCHMARKS],
                                  *[["train", a] for a in ALGORITHMS],
                                  *[["eval", str(AGENTS / SHIPPED[a])] for a in ALGORITHMS],
                                  *[["record", str(AGENTS / a)] for a in ("pong", "go9")]],
                         ids=lambda argv: " ".join(Path(a).name for a in argv) or "rl")
def test_help_prints_usage(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    from rl.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: rl" in capsys.readouterr().out


def test_eval_help_names_the_runs_algorithm_and_its_options(capsys: pytest.CaptureFixture):
    from rl.cli import main

    with pytest.raises(SystemExit):
        main(["eval", str(AGENTS / "tic_tac_toe"), "--help"])
    out = capsys.readouterr().out
    assert "alphazero options" in out and "--opponent" in out and "--episodes" not in out
