"""The classifier's options and the recipes measured per data set."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agents.classifier.data import balanced_subset
from rl.backbones import check_backbone
from rl.config import opt
from rl.datasets import DATASETS, ImageData, check_dataset, load_dataset
from rl.errors import UserError
from rl.precision import native_here

NAME = "classifier"


@dataclass
class Config:
    backbone: str = opt("deepcnn", "deepcnn, nature, vgg11, vgg16, resnet18, resnet34, ...")
    dataset: str = opt("mnist-10k", f"one of {', '.join(DATASETS)}, or folder:PATH (your "
                       "images, one sub-folder per class)")
    data_dir: str | None = opt(None, "folder holding the files, or <dataset>/ with them "
                               "(looked in first; then $RL_DATA_DIR, ~/.cache/rl/data, "
                               "/usr/share/datasets)")
    download: bool = opt(False, "fetch missing files from the canonical mirrors")
    image_size: int = opt(32, "folder:PATH: images are resized to this square", min=8)
    channels: int = opt(0, "folder:PATH: 1 (grey) or 3 (colour); 0: 1 if every image is grey",
                        min=0, max=3)
    test_share: float = opt(0.2, "folder:PATH without train/ and test/: the seeded share of "
                            "images held out for testing", min=0.0, max=0.9, min_exclusive=True)
    skip_bad: bool = opt(False, "folder:PATH: skip (and count) files that cannot be decoded")
    labels: int = opt(0, "train on this many labelled images only: a class-balanced subset "
                      "drawn with --seed (0: all); the test set is unchanged", min=0)
    validation: float = opt(0.1, "share of the training images held out (seeded) to choose the "
                            "best epoch on; the test set is scored once, for the chosen network "
                            "(0: no choice, the last epoch is reported)", min=0.0, max=0.5)
    seed: int = opt(0, "seed for weights, shuffling, augmentation and dropout", min=0)
    epochs: int = opt(12, "passes over the training set", min=1, resumable=True)
    batch_size: int = opt(100, "minibatch size", min=1)
    optimizer: Literal["adam", "sgd"] = opt("adam", "Adam, or SGD with Nesterov momentum")
    lr: float = opt(2e-3, "peak learning rate", min=0.0, min_exclusive=True)
    momentum: float = opt(0.9, "SGD momentum", min=0.0, max=1.0)
    weight_decay: float = opt(0.0, "L2 weight decay (decoupled for Adam: AdamW)", min=0.0)
    schedule: Literal["cosine", "constant"] = opt("cosine", "learning-rate schedule over all steps")
    augment: bool = opt(True, "random shifts and rotations (digits), or crops and flips (the "
                        "others), per image")
    erasing: float = opt(0.0, "probability of random erasing of one rectangle per image",
                         min=0.0, max=1.0)
    label_smoothing: float = opt(0.0, "label smoothing of the cross-entropy", min=0.0, max=0.5)
    amp: bool = opt(False, "bfloat16 autocast (CUDA, or a CPU with AMX or AVX512-BF16)")
    channels_last: bool = opt(False, "NHWC memory layout (oneDNN's fast path for small convs)")
    init_encoder: str | None = opt(None, "checkpoint whose backbone weights start this model "
                                   "(any of ours: classifier, DQN, self-play)")
    freeze_encoder: bool = opt(False, "train the head only")
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0,
                       resumable=True)

    def check(self) -> None:
        check_backbone(self.backbone)
        check_dataset(self.dataset)
        if self.channels == 2:
            raise UserError("--channels must be 1, 3 or 0 (auto)")
        if self.freeze_encoder and not self.init_encoder:
            raise UserError("--freeze-encoder needs --init-encoder CKPT (a frozen random "
                            "encoder learns nothing)")

    def run_name(self) -> str:
        return f"{NAME}-{self.backbone}-{Path(self.dataset.removeprefix('folder:')).name}"

    def data(self) -> ImageData:
        data = load_dataset(self.dataset, Path(self.data_dir) if self.data_dir else None,
                            self.download, image_size=self.image_size,
                            channels=self.channels or None, test_share=self.test_share,
                            seed=self.seed, skip_bad=self.skip_bad)
        return balanced_subset(data, self.labels, self.seed) if self.labels else data


# Full Fashion-MNIST in 30 minutes of 2 CPU cores (experiments/results/fashion.md): He et al.'s
# CIFAR ResNet-20 recipe (SGD 0.1, weight decay 5e-4, batch 128, cosine), crops, flips and random
# erasing (Zhong et al. 2020), label smoothing, and bf16 with NHWC where the CPU has AMX
PRESETS: dict[str, dict[str, Any]] = {
    "fashion-mnist": {"backbone": "resnet20", "optimizer": "sgd", "lr": 0.1,
                      "weight_decay": 5e-4, "batch_size": 128, "epochs": 40, "erasing": 0.25,
                      "label_smoothing": 0.1, "amp": True, "channels_last": True},
}


def defaults_for(layers: dict[str, Any]) -> dict[str, Any]:
    """Config defaults for the dataset: a recipe where one was measured, the fields' otherwise
    (its bf16 only where this machine computes bf16 natively)."""
    return native_here(PRESETS.get(layers.get("dataset", Config.dataset), {}), "amp")


@dataclass
class EvalConfig:
    """`rl eval DIR` of a classifier run: test accuracy, at one or more precisions."""

    precision: Literal["auto", "fp32", "bf16", "fp16", "all"] = opt(
        "auto", "numeric precision(s) to report accuracy at; auto: fp32, and bf16/fp16 where "
        "this machine computes them natively (an emulated one asked for is run, with a note)")
