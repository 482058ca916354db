"""What a newcomer types first: every command's and every algorithm's --help prints its help."""
import pytest

from agents import ALGORITHMS
from rl.cli import main_parser

COMMANDS = [name for action in main_parser()._subparsers._group_actions
            for name in action.choices]


@pytest.mark.parametrize("argv", [[], *[[c] for c in COMMANDS], ["games", "generate"],
                                  *[["train", a] for a in ALGORITHMS]],
                         ids=lambda argv: " ".join(argv) or "rl")
def test_help_prints_usage(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    from rl.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: rl" in capsys.readouterr().out
