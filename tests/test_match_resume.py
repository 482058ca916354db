"""`rl eval --save-games DIR --resume`: a killed match goes on from the games it saved.

A match killed midway leaves only its finished games (each SGF is written atomically the
moment its game ends); removing some of a finished match's files leaves exactly that."""
import json
from pathlib import Path

from conftest import ROOT, rl

AGENT = ROOT / "experiments" / "agents" / "go9"
MATCH = ("eval", str(AGENT), "--opponent", "random", "--games", "6", "--simulations", "2",
         "--seed", "5", "--save-games", "g", "--json")


def sgf_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("game-*.sgf"))}


def test_a_killed_match_resumed_plays_only_the_games_it_lacks(tmp_path: Path):
    rl(*MATCH, cwd=tmp_path, check=True)
    for key in (3, 4):  # the games still going when the match was killed
        (tmp_path / "g" / f"game-{key:05d}.sgf").unlink()
    kept = sgf_bytes(tmp_path / "g")

    out = json.loads(rl(*MATCH, "--resume", cwd=tmp_path, check=True).stdout)

    assert out["games"] == 6 and out["kept_games"] == 4
    assert out["wins"] + out["losses"] + out["draws"] == 6
    assert sum(out["as_black"].values()) == sum(out["as_white"].values()) == 3
    after = sgf_bytes(tmp_path / "g")
    assert sorted(after) == [f"game-{k:05d}.sgf" for k in range(6)]
    assert all(after[name] == data for name, data in kept.items())  # kept games untouched


def test_a_folder_holding_a_match_is_refused_without_resume_or_with_other_settings(
        tmp_path: Path):
    rl(*MATCH, cwd=tmp_path, check=True)
    before = sgf_bytes(tmp_path / "g")

    again = rl(*MATCH, cwd=tmp_path)
    other = rl(*MATCH, "--resume", "--random-moves", "2", cwd=tmp_path)
    nowhere = rl(*MATCH[:-3], "--resume", cwd=tmp_path)

    assert again.returncode == 2 and "--resume" in again.stderr
    assert other.returncode == 2 and "random_moves 0, not 2" in other.stderr
    assert nowhere.returncode == 2 and "--save-games" in nowhere.stderr
    for proc in (again, other, nowhere):
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sgf_bytes(tmp_path / "g") == before
