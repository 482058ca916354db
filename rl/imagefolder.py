"""Your own images: torchvision's ImageFolder layout, decoded once and cached as uint8.

    PATH/<class>/*.png|jpg|...              a seeded share is held out for testing, or
    PATH/train/<class>/...  PATH/test/<class>/...

Any size and colour mode is converted to `size` x `size` and to 1 channel (when every image
is greyscale) or 3. Files with other suffixes are ignored and counted. A file that claims to
be an image but cannot be decoded (empty, truncated, not an image) is one error naming it, or
with `skip_bad` is skipped and counted. The decoded arrays are cached under the data cache,
keyed by the files' names, sizes and times, so a second run does not decode again; the first
decodes in worker processes.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from rl.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _classes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _listing(folder: Path, classes: list[str], ignored: Counter) -> list[tuple[Path, int]]:
    files = []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).rglob("*")):
            if path.is_file():
                if path.suffix.lower() in SUFFIXES:
                    files.append((path, label))
                elif not path.name.startswith("."):
                    ignored["not an image file"] += 1
    return files


def _decode(job: tuple[str, int, int]) -> tuple[np.ndarray | None, bool, str]:
    """(pixels [C, size, size] uint8 or None, whether greyscale, the error if any)."""
    from PIL import Image, UnidentifiedImageError

    path, size, channels = job
    try:
        with Image.open(path) as image:
            grey = image.mode in GREY_MODES
            mode = "L" if channels == 1 else "RGB"
            pixels = np.asarray(image.convert(mode).resize((size, size), Image.BILINEAR))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        return None, False, str(e) or type(e).__name__
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)), grey, ""


def _decode_all(paths: list[Path], size: int, channels: int) -> list[tuple]:
    jobs = [(str(p), size, channels) for p in paths]
    if len(jobs) < 2000:
        return [_decode(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(_decode, jobs, chunksize=256))


def _is_grey(paths: list[Path]) -> bool:
    from PIL import Image

    for p in paths:
        try:
            with Image.open(p) as image:
                if image.mode not in GREY_MODES:
                    return False
        except (OSError, ValueError, SyntaxError):
            continue  # reported when decoded
    return True


def load_folder(root: Path, size: int, channels: int | None, test_share: float, seed: int,
                skip_bad: bool, cache_dir: Path) -> tuple[dict, dict]:
    """(arrays: train_x, train_y, test_x, test_y; facts: classes, counts) for PATH."""
    if not root.is_dir():
        raise UserError(f"image folder {root} not found")
    split = (root / "train").is_dir() and (root / "test").is_dir()
    classes = _classes(root / "train" if split else root)
    if split and _classes(root / "test") != classes:
        raise UserError(f"{root}/train and {root}/test have different class folders")
    if len(classes) < 2:
        raise UserError(f"{root} needs one sub-folder per class (two or more), "
                        f"found {len(classes)}")
    ignored: Counter = Counter()
    parts = {s: _listing(root / s, classes, ignored) for s in ("train", "test")} if split \
        else {"all": _listing(root, classes, ignored)}
    paths = [p for files in parts.values() for p, _ in files]
    if not paths:
        raise UserError(f"{root} holds no images ({', '.join(sorted(SUFFIXES))})")
    channels = channels or (1 if _is_grey(paths) else 3)
    key = hashlib.sha1(repr((size, channels, [(str(p), p.stat().st_size, p.stat().st_mtime_ns)
                                              for p in paths])).encode()).hexdigest()[:16]
    cache = cache_dir / "folders" / f"{key}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            pixels, bad = saved["pixels"], list(saved["bad"])
    else:
        decoded = _decode_all(paths, size, channels)
        bad = [f"{p}: {err}" for p, (x, _, err) in zip(paths, decoded) if x is None]
        pixels = np.stack([x if x is not None else np.zeros((channels, size, size), np.uint8)
                           for x, _, _ in decoded])
        if not bad or skip_bad:
            from rl.files import atomic_write_bytes

            buffer = io.BytesIO()
            np.savez(buffer, pixels=pixels, bad=np.array(bad, dtype=str))
            atomic_write_bytes(cache, buffer.getvalue())
    if bad and not skip_bad:
        raise UserError(f"cannot read {bad[0].split(': ', 1)[0]} as an image "
                        f"({bad[0].split(': ', 1)[1][:80]}); fix or remove it, or pass "
                        f"--skip-bad{f' ({len(bad)} such files)' if len(bad) > 1 else ''}")
    good = set(paths) - {Path(b.split(": ", 1)[0]) for b in bad}
    index = {p: i for i, p in enumerate(paths)}

    def arrays(files: list[tuple[Path, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        kept = [(index[p], y) for p, y in files if p in good]
        x = pixels[[i for i, _ in kept]] if kept else np.zeros((0, channels, size, size), np.uint8)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor([y for _, y in kept])

    if split:
        train_x, train_y = arrays(parts["train"])
        test_x, test_y = arrays(parts["test"])
    else:
        x, y = arrays(parts["all"])
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
        n_test = max(int(round(len(y) * test_share)), 1)
        train_x, train_y = x[order[n_test:]], y[order[n_test:]]
        test_x, test_y = x[order[:n_test]], y[order[:n_test]]
    if len(train_y) == 0 or len(test_y) == 0:
        raise UserError(f"{root}: no images left to train or to test on")
    facts = {"classes": classes, "skipped_bad": len(bad), "ignored": sum(ignored.values()),
             "channels": channels}
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}, facts


def load_image(path: Path, size: int, channels: int) -> torch.Tensor:
    """One image as the network saw its training data: uint8 [C, size, size]."""
    if not path.is_file():
        raise UserError(f"image {path} not found")
    pixels, _, error = _decode((str(path), size, channels))
    if pixels is None:
        raise UserError(f"cannot read {path} as an image ({error[:80]})")
    return torch.from_numpy(np.array(pixels))  # a writable copy: PIL's buffer is read-only
