"""Image data sets from their canonical files, verified by content, held in memory as uint8.

Where files are looked for, in order: --data-dir, $RL_DATA_DIR, ~/.cache/rl/data, and
/usr/share/datasets (Debian's dataset-fashion-mnist puts Fashion-MNIST there). In each place,
a data set's files may sit in `<place>/<dataset>/` or in `<place>` itself. Nothing is fetched
unless asked (`download=True`); a missing file is a clear error naming the file and the
places looked in.

A file is accepted when what it holds is the canonical content: the SHA-256 of its
decompressed bytes (so a copy gzipped with other headers, as Debian's packaging does, or an
uncompressed one, is as good as the original), or else the md5 of the canonical .gz. A file
that is neither is refused, naming it; a good file is never called corrupt.

`mnist-10k` is the offline split for machines that only have MNIST's test file: train on
images 0..7999 of t10k, test on 8000..9999.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rl.errors import UserError, did_you_mean

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
SYSTEM_DIR = Path("/usr/share/datasets")


@dataclass(frozen=True)
class Canonical:
    """A canonical file: the md5 of the published .gz, the SHA-256 of its decompressed content
    (None where no machine of ours has had the file to compute it), where it is published."""

    md5: str
    content_sha256: str | None
    url: str


FILES: dict[str, dict[str, Canonical]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": Canonical("f68b3c2dcbeaaa9fbdd348bbdeb94873", None,
                                                MNIST_URL),
        "train-labels-idx1-ubyte.gz": Canonical("d53e105ee54ea40749a09fcbcd1e9432", None,
                                                MNIST_URL),
        "t10k-images-idx3-ubyte.gz": Canonical(
            "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", MNIST_URL),
        "t10k-labels-idx1-ubyte.gz": Canonical(
            "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", MNIST_URL),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": Canonical(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", FASHION_URL),
        "train-labels-idx1-ubyte.gz": Canonical(
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", FASHION_URL),
        "t10k-images-idx3-ubyte.gz": Canonical(
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", FASHION_URL),
        "t10k-labels-idx1-ubyte.gz": Canonical(
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", FASHION_URL),
    },
    "cifar10": {"cifar-10-python.tar.gz": Canonical("c58f30108f718f92721af3b95e74349a", None,
                                                    CIFAR_URL)},
}
DATASETS = ["mnist", "mnist-10k", "fashion-mnist", "cifar10"]
CLASS_NAMES = {
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
    "fashion-mnist": ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                      "sneaker", "bag", "boot"],
}


@dataclass
class ImageData:
    """uint8 images [N, C, H, W] and int64 labels [N], for training and testing."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    facts: dict | None = None  # what reading it skipped or ignored (your own images)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


def data_dirs(data_dir: Path | None) -> list[Path]:
    """The places looked in, in order."""
    places = [data_dir] if data_dir else []
    if os.environ.get("RL_DATA_DIR"):
        places.append(Path(os.environ["RL_DATA_DIR"]))
    return [*places, Path.home() / ".cache" / "rl" / "data", SYSTEM_DIR]


def cache_dir() -> Path:
    """Where downloads and decoded image folders go: $RL_DATA_DIR or ~/.cache/rl/data."""
    return Path(os.environ.get("RL_DATA_DIR") or Path.home() / ".cache" / "rl" / "data")


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content(path: Path) -> bytes:
    """A file's bytes, decompressed if it is gzip (by its magic, not its name)."""
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    try:
        return gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError) as e:
        raise UserError(f"{path} is corrupt: it is not readable gzip ({e}); replace it with "
                        "the canonical file") from None


def verified(path: Path, canonical: Canonical) -> bytes:
    """The file's content if it is the canonical one; a UserError naming the file if not."""
    data = content(path)
    if canonical.content_sha256 and hashlib.sha256(data).hexdigest() == canonical.content_sha256:
        return data
    if md5sum(path) == canonical.md5:
        return data
    expected = (f"content SHA-256 {canonical.content_sha256}" if canonical.content_sha256
                else f"md5 {canonical.md5} of the published .gz")
    raise UserError(f"{path} does not hold the canonical data (content SHA-256 "
                    f"{hashlib.sha256(data).hexdigest()[:16]}..., expected {expected}): "
                    "replace it with the canonical file")


def find(dataset: str, filename: str, canonical: Canonical, data_dir: Path | None,
         download: bool) -> bytes:
    """The verified content of a data set's file, from the first place that has it (gzipped
    or not), downloading it into the first place if asked and missing."""
    places = data_dirs(data_dir)
    for place in places:
        for folder in (place / dataset, place):
            for name in (filename, filename.removesuffix(".gz")):
                if (folder / name).is_file():
                    return verified(folder / name, canonical)
    if not download:
        looked = ", ".join(str(p) for p in places)
        raise UserError(f"{filename} not found (looked in {looked}, and in their {dataset}/): "
                        "put the canonical file there, point --data-dir at it, or pass "
                        "--download")
    folder = places[0] / dataset
    folder.mkdir(parents=True, exist_ok=True)
    path, tmp = folder / filename, folder / (filename + ".part")
    try:
        urllib.request.urlretrieve(canonical.url + filename, tmp)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not download {filename} ({e}); this machine may be offline: "
                        f"put the file in {folder} by hand") from None
    os.replace(tmp, path)
    return verified(path, canonical)


def read_idx(data: bytes) -> np.ndarray:
    """The IDX format of MNIST: magic (dtype, ndim), big-endian dims, then the data."""
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _idx_pair(dataset: str, split: str, data_dir: Path | None,
              download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images, labels = (read_idx(find(dataset, n, FILES[dataset][n], data_dir, download))
                      for n in names)
    return torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64))


def _cifar(data_dir: Path | None, download: bool) -> tuple[torch.Tensor, ...]:
    import io

    name = "cifar-10-python.tar.gz"
    data = find("cifar10", name, FILES["cifar10"][name], data_dir, download)
    parts: dict[str, list] = {"train": [], "test": []}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            split = ("train" if name.startswith("data_batch")
                     else "test" if name == "test_batch" else None)
            if split:
                # the canonical file is a pickle of arrays; its md5 was verified above
                batch = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
                parts[split].append((batch[b"data"], batch[b"labels"]))
    out = []
    for split in ("train", "test"):
        x = np.concatenate([d for d, _ in parts[split]]).reshape(-1, 3, 32, 32)
        y = np.concatenate([np.asarray(labels) for _, labels in parts[split]])
        out += [torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))]
    return tuple(out)


def check_dataset(name: str) -> None:
    if name not in DATASETS and not name.startswith("folder:"):
        raise UserError(f"unknown dataset {name!r}{did_you_mean(name, DATASETS)}; "
                        f"choose from {', '.join(DATASETS)}, or folder:PATH (your images)")


def load_dataset(name: str, data_dir: Path | None = None, download: bool = False, *,
                 image_size: int = 32, channels: int | None = None, test_share: float = 0.2,
                 seed: int = 0, skip_bad: bool = False) -> ImageData:
    """A data set by name; `folder:PATH` reads your images (rl/imagefolder.py) with the
    keyword options."""
    check_dataset(name)
    if name.startswith("folder:"):
        from rl.imagefolder import load_folder

        arrays, facts = load_folder(Path(name[len("folder:"):]).expanduser(), image_size, channels,
                                    test_share, seed, skip_bad, cache_dir())
        return ImageData(name, arrays["train_x"], arrays["train_y"], arrays["test_x"],
                         arrays["test_y"], facts["classes"], facts)
    classes = CLASS_NAMES.get(name, [str(i) for i in range(10)])
    if name == "mnist-10k":
        x, y = _idx_pair("mnist", "test", data_dir, download)
        return ImageData(name, x[:8000], y[:8000], x[8000:], y[8000:], classes)
    if name == "cifar10":
        return ImageData(name, *_cifar(data_dir, download), classes)
    train = _idx_pair(name, "train", data_dir, download)
    test = _idx_pair(name, "test", data_dir, download)
    return ImageData(name, *train, *test, classes)
