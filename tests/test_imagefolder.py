"""Your own images: an ImageFolder of PNGs and JPEGs of any size and mode, trained on end to
end, then `rl predict`; files that are not images are one clear line, or skipped with a count."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import rl

KINDS = {"stripes": lambda y, x: (y // 3) % 2, "columns": lambda y, x: (x // 3) % 2,
         "checks": lambda y, x: ((y // 4) + (x // 4)) % 2}


def draw(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[:size, :size] + rng.integers(0, 6, size=2)[:, None, None]
    pattern = KINDS[kind](y, x).astype(float)
    return np.clip(pattern * 200 + rng.normal(0, 25, (size, size)) + 20, 0, 255).astype(np.uint8)


def make_folder(root: Path, per_class: int = 40) -> Path:
    """Three classes; sizes, colour modes and formats vary from file to file."""
    rng = np.random.default_rng(0)
    for kind in KINDS:
        (root / kind).mkdir(parents=True)
        for i in range(per_class):
            pixels = draw(kind, int(rng.integers(24, 48)), rng)
            image = Image.fromarray(pixels)
            if i % 3 == 1:
                image = image.convert("RGB")
            image.save(root / kind / f"{i}.{'jpg' if i % 4 == 0 else 'png'}")
    (root / "stripes" / "notes.txt").write_text("not an image, ignored")
    return root


def test_train_on_a_folder_then_predict(tmp_path: Path):
    data = make_folder(tmp_path / "shapes")
    out = rl("train", "classifier", "--dataset", f"folder:{data}", "--image-size", "16",
             "--epochs", "10", "--batch-size", "8", "--run-dir", "run", "--no-progress",
             "--threads", "1", cwd=tmp_path, check=True)
    summary = json.loads(out.stdout)
    assert summary["classes"] == ["checks", "columns", "stripes"]
    assert summary["test_images"] == 24 and summary["ignored"] == 1  # 20% of 120; notes.txt
    assert summary["test_accuracy"] > 0.8
    rng = np.random.default_rng(7)  # new images, sized like the training ones (24-48 pixels)
    Image.fromarray(draw("columns", 44, rng)).convert("RGB").save(tmp_path / "new.jpg")
    Image.fromarray(draw("stripes", 28, rng)).save(tmp_path / "new.png")
    pred = rl("predict", "run", "new.jpg", "new.png", "--json", "--top", "2", cwd=tmp_path,
              check=True)
    first, second = (json.loads(line) for line in pred.stdout.splitlines())
    assert first["top"][0]["class"] == "columns" and second["top"][0]["class"] == "stripes"
    assert len(first["top"]) == 2 and 0 < first["top"][0]["probability"] <= 1


@pytest.mark.parametrize("bad", [b"", b"\x89PNG\r\n\x1a\n truncated", b"plain text"])
def test_a_file_that_is_no_image_is_named_or_skipped(tmp_path: Path, bad: bytes):
    data = make_folder(tmp_path / "shapes", per_class=6)
    (data / "checks" / "broken.png").write_bytes(bad)
    args = ["train", "classifier", "--dataset", f"folder:{data}", "--image-size", "16",
            "--epochs", "1", "--run-dir", "run", "--no-progress", "--threads", "1"]
    proc = rl(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "broken.png as an image" in proc.stderr and "--skip-bad" in proc.stderr
    assert not (tmp_path / "run").exists()
    summary = json.loads(rl(*args, "--skip-bad", cwd=tmp_path, check=True).stdout)
    assert summary["skipped_bad"] == 1
