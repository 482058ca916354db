"""Watching runs: recordings that decode, `rl record`, and a report page that a real browser
renders (headless Chromium, when the machine has it)."""
import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from test_dqn import CARTPOLE
from test_selfplay import TINY

from conftest import rl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def mp4_frames(path: Path) -> np.ndarray:
    """Decode every frame with ffmpeg (imageio-ffmpeg, what RecordVideo's writer uses)."""
    import imageio.v2 as imageio

    return np.stack(imageio.mimread(path, format="FFMPEG", memtest=False))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A short CartPole DQN run and a tiny tic-tac-toe self-play run, shared by the tests."""
    root = tmp_path_factory.mktemp("watch")
    rl(*CARTPOLE, "--run-dir", "dqn", cwd=root, check=True)
    rl("train", "alphazero", "--iterations", "2", *TINY, "--run-dir", "ttt", cwd=root, check=True)
    return root


def test_training_records_full_frame_mp4s_named_by_step_and_score(runs: Path):
    videos = sorted((runs / "dqn" / "videos").glob("*.mp4"))
    # evaluations at steps 1500 and 3000: the first (1 in 3) and the last are recorded
    assert [re.sub(r"-score-.*", "", v.stem) for v in videos] == \
        ["step000001500-episode-0", "step000003000-episode-0"]
    frames = mp4_frames(videos[-1])
    assert frames.shape[0] > 5 and frames.shape[1:] == (400, 600, 3)  # CartPole's own frame
    assert frames.std() > 1  # a picture, not a blank


def test_rl_record_names_checkpoint_seed_and_score(runs: Path):
    out = json.loads(rl("record", "dqn", "--episodes", "2", "--seed", "7", cwd=runs,
                        check=True).stdout)
    assert len(out["files"]) == 2 and len(out["scores"]) == 2
    for path, score in zip(out["files"], out["scores"]):
        assert re.search(rf"record-best-seed7-episode-\d-score-{score:g}\.mp4$", path)
        assert mp4_frames(runs / path).shape[0] >= score  # a frame per step
    board = json.loads(rl("record", "ttt", "--opponent", "random", "--checkpoint", "latest",
                          cwd=runs, check=True).stdout)
    gif = runs / board["files"][0]
    assert re.search(r"record-latest-seed\d+-game0-(first-wins|second-wins|draw)\.gif$", gif.name)
    frames = iio.imread(gif, index=None)
    assert 5 + 1 <= len(frames) <= 9 + 1  # the start, then one frame per move


def test_report_is_self_contained_with_plots_and_video(runs: Path):
    rl("record", "ttt", "--checkpoint", "latest", cwd=runs, check=True)  # a GIF to embed
    rl("report", "dqn", "ttt", "--out", "report.html", cwd=runs, check=True)
    page = (runs / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 2  # learning_curve.png and strength.png
    assert "no metric in common" in page
    video = re.search(r'<source type="video/mp4" src="data:video/mp4;base64,([^"]+)"', page)
    assert video, "no embedded video"
    (runs / "embedded.mp4").write_bytes(base64.b64decode(video.group(1)))
    assert mp4_frames(runs / "embedded.mp4").shape[0] > 5  # it plays
    assert "record-latest" in page or "gif" in page
    out = rl("compare", "dqn", "ttt", "--metric", "eval_return", cwd=runs)
    assert out.returncode == 2 and "has no 'eval_return' column" in out.stderr
    rl("compare", "dqn", "--metric", "eval_return", "--out", "c.png", cwd=runs, check=True)
    assert (runs / "c.png").stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(runs: Path):
    rl("report", "dqn", cwd=runs, check=True)
    shot = runs / "shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={runs / 'chromium'}", "--enable-logging=stderr",
         "--window-size=1100,1400", f"--screenshot={shot}",
         (runs / "dqn" / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    assert "CONSOLE" not in proc.stderr and "Uncaught" not in proc.stderr
    image = iio.imread(shot)[..., :3]
    assert image.shape[:2] == (1400, 1100)
    # the learning curve is on screen: matplotlib's first line colour, and plenty of ink
    blue = np.all(np.abs(image.astype(int) - [31, 119, 180]) < 30, axis=-1)
    assert blue.sum() > 200 and (image < 128).mean() > 0.01
