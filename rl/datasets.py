"""Image data sets from their canonical files, verified by md5, held in memory as uint8 tensors.

Files live under `<data_dir>/<dataset>/` (data_dir: --data-dir, else $RL_DATA_DIR, else
~/.cache/rl/data). Nothing is fetched unless asked (`download=True`); a missing file is a
clear error naming the file and the folder to put it in.

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

FILES: dict[str, dict[str, tuple[str, str]]] = {  # dataset -> file -> (md5, base url)
    "mnist": {
        "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", MNIST_URL),
        "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", MNIST_URL),
        "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", MNIST_URL),
        "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", MNIST_URL),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", FASHION_URL),
        "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", FASHION_URL),
        "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", FASHION_URL),
        "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", FASHION_URL),
    },
    "cifar10": {"cifar-10-python.tar.gz": ("c58f30108f718f92721af3b95e74349a", CIFAR_URL)},
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

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


def default_data_dir() -> Path:
    return Path(os.environ.get("RL_DATA_DIR", Path.home() / ".cache" / "rl" / "data"))


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(folder: Path, filename: str, md5: str, base_url: str, download: bool) -> Path:
    """The verified path of a canonical file, downloading it first if asked and missing."""
    path = folder / filename
    if not path.exists():
        if not download:
            raise UserError(f"{filename} not found in {folder}: put the canonical file there, "
                            "point --data-dir at its parent, or pass --download")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        try:
            urllib.request.urlretrieve(base_url + filename, tmp)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"could not download {filename} ({e}); this machine may be offline: "
                            f"put the file in {folder} by hand") from None
        os.replace(tmp, path)
    actual = md5sum(path)
    if actual != md5:
        raise UserError(f"{path} is corrupt (md5 {actual}, expected {md5}): delete it and "
                        "fetch it again")
    return path


def read_idx(path: Path) -> np.ndarray:
    """The IDX format of MNIST: magic (dtype, ndim), big-endian dims, then the data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _idx_pair(folder: Path, split: str, files: dict,
              download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images, labels = (read_idx(fetch(folder, n, *files[n], download)) for n in names)
    return torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64))


def _cifar(folder: Path, download: bool) -> tuple[torch.Tensor, ...]:
    (md5, url), = FILES["cifar10"].values()
    path = fetch(folder, "cifar-10-python.tar.gz", md5, url, download)
    parts: dict[str, list] = {"train": [], "test": []}
    with tarfile.open(path) as tar:
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


def load_dataset(name: str, data_dir: Path | None = None, download: bool = False) -> ImageData:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}{did_you_mean(name, DATASETS)}; "
                        f"choose from {', '.join(DATASETS)}")
    root = Path(data_dir) if data_dir else default_data_dir()
    classes = CLASS_NAMES.get(name, [str(i) for i in range(10)])
    if name == "mnist-10k":
        x, y = _idx_pair(root / "mnist", "test", FILES["mnist"], download)
        return ImageData(name, x[:8000], y[:8000], x[8000:], y[8000:], classes)
    if name == "cifar10":
        return ImageData(name, *_cifar(root / "cifar10", download), classes)
    files = FILES[name]
    train = _idx_pair(root / name, "train", files, download)
    test = _idx_pair(root / name, "test", files, download)
    return ImageData(name, *train, *test, classes)
