"""Supervised image classification with the shared backbones (MNIST, Fashion-MNIST, CIFAR-10).

classifier = backbone + ClassifierHead. Data sits in memory as uint8 and is scaled and
augmented per batch on the device. Outputs: learning curves, a confusion matrix and a grid of
misclassified test images; `rl eval DIR` reports accuracy in fp32, bf16 and fp16.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rl.backbones import check_backbone, load_encoder, make_backbone
from rl.config import opt, saved_config
from rl.datasets import CLASS_NAMES, DATASETS, ImageData, check_dataset, load_dataset
from rl.distributed import current as process_group
from rl.errors import UserError
from rl.heads import ClassifierHead
from rl.loop import Loop
from rl.plots import plot_learning_curve, save_figure
from rl.precision import emulation_note, native_here, use_amp
from rl.run import Run, RunOptions, check_checkpoint_meta
from rl.stats import wilson

NAME = "classifier"
EXPORT_KEYS = ("meta", "model", "epoch", "step")  # a shipped agent: the network alone
DATA_PARALLEL = True  # runs under torchrun: see rl/distributed.py
COLUMNS = ["step", "epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
           "images_per_s"]
PANELS = [("train_loss", "val_loss"), ("train_accuracy", "val_accuracy"), ("lr",)]


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
    threads: int = opt(0, "CPU threads for torch (0 = all cores)", min=0)

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


def split_validation(data: ImageData, share: float, seed: int
                     ) -> tuple[ImageData, tuple[torch.Tensor, torch.Tensor] | None]:
    """The training images less a seeded `share` held out for choosing the best epoch, and
    those held out (None for share 0). The test set is not touched."""
    n = int(round(share * len(data.train_y)))
    if n == 0:
        return data, None
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed + 77))
    held, kept = order[:n], order[n:]
    return replace(data, train_x=data.train_x[kept], train_y=data.train_y[kept]), \
        (data.train_x[held], data.train_y[held])


def balanced_subset(data: ImageData, n: int, seed: int) -> ImageData:
    """n training images, as equal a number per class as n and the classes allow (a class with
    too few gives all it has, the others make up the rest), drawn with `seed`."""
    if n > len(data.train_y):
        raise UserError(f"--labels {n} is more than the {len(data.train_y)} training images")
    rng = np.random.default_rng([seed, n])
    labels = data.train_y.numpy()
    counts = np.bincount(labels, minlength=len(data.classes))
    quota = np.zeros_like(counts)
    while quota.sum() < n:  # fill every class that has images left, a fair share at a time
        open_classes = np.flatnonzero(quota < counts)
        share = max((n - quota.sum()) // len(open_classes), 1)
        for c in open_classes:
            quota[c] += min(share, counts[c] - quota[c], n - quota.sum())
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in enumerate(quota)]
    idx = torch.from_numpy(rng.permutation(np.concatenate(chosen)))
    return replace(data, train_x=data.train_x[idx], train_y=data.train_y[idx])


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, n_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = ClassifierHead(backbone.out_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def scale(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0)


def augmentation(dataset: str) -> str:
    """Digits keep their orientation (no flips: a mirrored 2 is no digit); clothes, objects and
    your own images take crops and flips."""
    return "digits" if dataset in ("mnist", "mnist-10k") else "crops"


def augment(x: torch.Tensor, gen: torch.Generator, kind: str,
            erasing: float = 0.0) -> torch.Tensor:
    """Batched on-device augmentation, drawn per image: an affine warp (digits: shifts of up to
    2 px, rotations of up to 10 degrees) or a crop and a flip (others: shifts of up to 4 px
    with zero padding, as torchvision's RandomCrop(padding=4), and a horizontal flip), then
    random erasing (Zhong et al. 2020) of one rectangle with probability `erasing`."""
    n, _, h, w = x.shape
    rand = lambda *shape: torch.rand(*shape, generator=gen).to(x.device)
    if kind == "digits":
        angle = (rand(n) * 2 - 1) * math.radians(10)
        shift = (rand(n, 2) * 2 - 1) * (2 / w * 2)
    else:
        angle = torch.zeros(n, device=x.device)
        shift = torch.round((rand(n, 2) * 2 - 1) * 4) * (2 / w)  # whole pixels
    cos, sin = torch.cos(angle), torch.sin(angle)
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0) if kind == "crops" else \
        torch.ones(n, device=x.device)
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear" if kind == "digits" else "nearest",
                      padding_mode="zeros", align_corners=False)
    if erasing > 0:  # a rectangle of 2-33% of the image, aspect 0.3-3.3, filled with noise
        area = (0.02 + 0.31 * rand(n)) * h * w
        aspect = torch.exp((rand(n) * 2 - 1) * math.log(3.3))
        eh = (area * aspect).sqrt().clamp(1, h)
        ew = (area / aspect).sqrt().clamp(1, w)
        top, left = rand(n) * (h - eh), rand(n) * (w - ew)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        box = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
               & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
        box &= (rand(n) < erasing)[:, None, None]
        x = torch.where(box[:, None], rand(*x.shape), x)
    return x


def build_model(cfg: Config, data: ImageData) -> Classifier:
    return Classifier(make_backbone(cfg.backbone, data.shape), len(data.classes))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: torch.device,
            dtype: torch.dtype = torch.float32, batch: int = 1000) -> torch.Tensor:
    model.eval()
    logits = []
    for i in range(0, len(x), batch):
        xb = scale(x[i:i + batch].to(device)).to(dtype)
        logits.append(model(xb).float().cpu())
    return torch.cat(logits)


def train(cfg: Config, run: Run, opts: RunOptions, resume: bool) -> dict[str, Any]:
    device = torch.device(opts.device)
    group = process_group()
    if cfg.batch_size < group.world:
        raise UserError(f"--batch-size {cfg.batch_size} is smaller than the {group.world} "
                        "processes sharing each batch")
    data, val = split_validation(cfg.data(), cfg.validation, cfg.seed)
    loop = Loop(run, opts, seed=cfg.seed, threads=cfg.threads,
                meta={"algo": NAME, "backbone": cfg.backbone, "dataset": cfg.dataset,
                      "obs_shape": list(data.shape), "classes": data.classes})
    model = build_model(cfg, data).to(device)
    if cfg.init_encoder:
        load_encoder(model.backbone, Path(cfg.init_encoder))
    if cfg.freeze_encoder:
        model.backbone.freeze()
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    amp = use_amp(cfg.amp, device)
    ddp = group.wrap(model, device)  # the same module alone; DistributedDataParallel under torchrun
    model = getattr(ddp, "module", ddp)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
           if cfg.optimizer == "adam" else
           torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                           weight_decay=cfg.weight_decay))
    steps_per_epoch = math.ceil(len(data.train_x) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    lr_at = (lambda s: cfg.lr * 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0)))) \
        if cfg.schedule == "cosine" else (lambda s: cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    epoch, step, train_time = 0, 0, 0.0
    if state := loop.restore(resume):
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        epoch, step, train_time = state["epoch"], state["step"], state["train_time_s"]
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    loop.begin(COLUMNS, total=total, done=step, label=f"{cfg.backbone} {cfg.dataset}", plot=plot,
               unit="batches")

    def snapshot() -> dict[str, Any]:
        return {"meta": loop.meta, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "epoch": epoch, "step": step, "train_time_s": train_time,
                "generator": gen.get_state(), "torch_rng": torch.get_rng_state()}

    kind = augmentation(cfg.dataset)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    images = 0
    while epoch < cfg.epochs and not loop.stopped:
        ddp.train()  # a frozen backbone stays in eval mode (rl.backbones.Backbone.freeze)
        t0 = time.perf_counter()
        perm = torch.randperm(len(train_x), generator=gen).to(device)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            xb, yb = scale(train_x[idx]), train_y[idx]
            if cfg.augment:  # the whole batch, so every process's generator stays in step
                xb = augment(xb, gen, kind, cfg.erasing)
            mine = group.shard(len(idx))
            xb, yb = xb[mine], yb[mine]
            for param_group in opt.param_groups:
                param_group["lr"] = lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = ddp(xb.contiguous(memory_format=layout))
                # DDP averages over processes: scale so the gradient is the global batch mean
                loss = F.cross_entropy(logits.float(), yb, reduction="sum",
                                       label_smoothing=cfg.label_smoothing) \
                    * (group.world / len(idx))
            opt.zero_grad(set_to_none=True)
            # the global batch's loss and stop requests, so every process skips or stops together
            batch_loss, stopping = group.sum(loss.item() / group.world, float(loop.stopped))
            if run.guard.ok(batch_loss):
                loss.backward()
                opt.step()
                loss_sum += batch_loss * len(yb)
                correct += (logits.argmax(1) == yb).sum().item()
                seen += len(yb)
            step += 1
            loop.progress(step, epoch=epoch + 1, loss=batch_loss)
            if stopping:
                run.stop.request()  # every process stops at this same step
                break
        loss_sum, correct, seen, stopping = group.sum(loss_sum, correct, max(seen, 1),
                                                      float(loop.stopped))
        if stopping:
            run.stop.request()
            break  # an unfinished epoch is redone on resume
        train_time += time.perf_counter() - t0
        images += seen
        epoch += 1
        if not group.main:
            continue  # rank 0 evaluates, logs and saves
        checked = scored(model, val, device, "val") if val else {}
        loop.log(step, {"step": step, "epoch": epoch, "lr": lr_at(step),
                        "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                        "val_loss": checked.get("val_loss"),
                        "val_accuracy": checked.get("val_accuracy"),
                        "images_per_s": seen / (time.perf_counter() - t0)})
        loop.progress(step, force=True, epoch=epoch, loss=loss_sum / seen,
                      val_acc=checked.get("val_accuracy"))
        loop.save(snapshot(), best=bool(val) and loop.offer(epoch, checked["val_accuracy"]))
    loop.close(None)
    if loop.stopped or not group.main:
        return {}
    chosen, shown = choose(cfg, loop, model, data, val, epoch, snapshot(), device)
    test = test_figures(shown, data, device)  # the test set, once, for the chosen network
    write_figures(run.path, data, predict(shown, data.test_x, device).argmax(1))
    return {"algo": NAME, "backbone": cfg.backbone, "dataset": cfg.dataset, "epochs": epoch,
            "train_images": len(data.train_x), "test_images": len(data.test_x),
            "validation_images": len(val[1]) if val else 0, **test,
            "classes": data.classes, **(data.facts or {}), **chosen,
            "train_time_s": round(train_time, 1),
            "images_per_s": round(images / max(train_time, 1e-9), 1),
            "parameters": sum(p.numel() for p in model.parameters())}


def choose(cfg: Config, loop: Loop, model: nn.Module, data: ImageData,
           val: tuple[torch.Tensor, torch.Tensor] | None, epoch: int, state: dict[str, Any],
           device: torch.device) -> tuple[dict[str, Any], nn.Module]:
    """The network to report: the epoch with the best validation accuracy (ties: the later) or
    the last, whichever is better on the validation images; without them, the last. Returns
    how it was chosen and the network; best.pt becomes it."""
    if val is None:
        loop.save(state, best=True, plot=False)
        return {"checkpoint": "best", "checkpoint_epoch": epoch, "selected_on": "last epoch"}, \
            model
    candidate = build_model(cfg, data).to(device)
    candidate.load_state_dict(loop.run.load("best")["model"])
    chosen = loop.settle(epoch, scored(model, val, device, "val"),
                         lambda: scored(candidate, val, device, "val"), state,
                         key="val_accuracy")
    chosen["checkpoint_epoch"] = chosen.pop("checkpoint_step")
    return {**chosen, "selected_on": "validation"}, \
        candidate if "final_network" in chosen else model


def scored(model: nn.Module, images: tuple[torch.Tensor, torch.Tensor], device: torch.device,
           name: str) -> dict[str, Any]:
    """Loss and accuracy with its 95% Wilson interval on (images, labels), named name_*."""
    logits = predict(model, images[0], device)
    acc, ci = accuracy(logits.argmax(1), images[1])
    return {f"{name}_loss": F.cross_entropy(logits, images[1]).item(),
            f"{name}_accuracy": acc, f"{name}_accuracy_ci95": ci}


def test_figures(model: nn.Module, data: ImageData, device: torch.device) -> dict[str, Any]:
    """Test loss and accuracy with its 95% Wilson interval."""
    return scored(model, (data.test_x, data.test_y), device, "test")


def plot(run: Run) -> None:
    plot_learning_curve(run.path / "metrics.csv", run.path / "learning_curve.png", PANELS,
                        title=f"{run.config.get('backbone')} on {run.config.get('dataset')}",
                        x="epoch")


def write_figures(folder: Path, data: ImageData, pred: torch.Tensor, limit: int = 20) -> None:
    """confusion_matrix.png and misclassified.png (true -> predicted, as in the book's fig. 8-2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(data.classes)
    cm = np.zeros((n, n), dtype=int)
    np.add.at(cm, (data.test_y.numpy(), pred.numpy()), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(n), data.classes, rotation=45, fontsize=8)
    ax.set_yticks(range(n), data.classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix, {data.name} test ({len(pred)} images)")
    fig.colorbar(im)
    fig.tight_layout()
    save_figure(fig, folder / "confusion_matrix.png")

    wrong = torch.nonzero(pred != data.test_y).flatten()[:limit].tolist()
    cols = 5
    rows = max(math.ceil(len(wrong) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        img = data.test_x[i].permute(1, 2, 0).numpy()
        grey = img.shape[2] == 1
        ax.imshow(img[..., 0] if grey else img, cmap="gray_r" if grey else None)
        ax.set_title(f"{data.classes[data.test_y[i]]} -> {data.classes[pred[i]]}", fontsize=9,
                     color="crimson")
    fig.suptitle(f"misclassified test images ({int((pred != data.test_y).sum())} of {len(pred)})")
    fig.tight_layout()
    save_figure(fig, folder / "misclassified.png")


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load_network(run: Run, checkpoint: str) -> tuple[Config, ImageData, dict[str, Any]]:
    """A classifier run's config, data and checkpoint, checked against each other."""
    cfg = saved_config(Config, run.config)
    data = cfg.data()
    state = run.load(checkpoint)
    check_checkpoint_meta(run.checkpoint_path(checkpoint), state["meta"],
                          {"algo": NAME, "backbone": cfg.backbone, "obs_shape": list(data.shape)})
    return cfg, data, state


def accuracy(pred: torch.Tensor, truth: torch.Tensor) -> tuple[float, list[float]]:
    correct = int((pred == truth).sum())
    return correct / len(pred), [round(x, 4) for x in wilson(correct, len(pred))]


def evaluate(run: Run, args: Any) -> dict[str, Any]:
    """`rl eval DIR [--precision auto|fp32|bf16|fp16|all]`: test accuracy at each precision;
    auto: fp32 and the reduced precisions this machine computes natively."""
    cfg, data, state = load_network(run, args.checkpoint)
    asked = getattr(args, "precision", "auto")
    cpu = torch.device("cpu")
    wanted = [n for n in PRECISIONS if n == "fp32" or emulation_note(n, cpu) is None] \
        if asked == "auto" else list(PRECISIONS) if asked == "all" else [asked]
    for name in wanted:
        if asked != "auto" and (note := emulation_note(name, cpu)):
            print(note, file=sys.stderr)
    out: dict[str, Any] = {"algo": NAME, "backbone": cfg.backbone, "dataset": cfg.dataset,
                           "checkpoint": args.checkpoint, "test_images": len(data.test_x)}
    for name in wanted:
        m = build_model(cfg, data)
        m.load_state_dict(state["model"])
        m = m.to(PRECISIONS[name])
        pred = predict(m, data.test_x, torch.device("cpu"), PRECISIONS[name]).argmax(1)
        out[f"accuracy_{name}"], out[f"accuracy_{name}_ci95"] = accuracy(pred, data.test_y)
    return out


def evaluate_ensemble(runs: list[Run], args: Any) -> dict[str, Any]:
    """`rl eval DIR1 DIR2 ...`: the runs' averaged class probabilities (the book's first way to
    raise accuracy), beside each member's own accuracy, in fp32."""
    members, probs, test_y = [], [], None
    for run in runs:
        cfg, data, state = load_network(run, args.checkpoint)
        if test_y is not None and (cfg.dataset != members[0]["dataset"]
                                   or not torch.equal(data.test_y, test_y)):
            raise UserError(f"{run.path} was tested on {cfg.dataset}, not "
                            f"{members[0]['dataset']}: an ensemble needs one test set")
        test_y = data.test_y
        model = build_model(cfg, data)
        model.load_state_dict(state["model"])
        p = torch.softmax(predict(model, data.test_x, torch.device("cpu")), 1)
        probs.append(p)
        members.append({"run": str(run.path), "backbone": cfg.backbone, "dataset": cfg.dataset,
                        "accuracy": accuracy(p.argmax(1), test_y)[0]})
    assert test_y is not None
    acc, ci = accuracy(torch.stack(probs).mean(0).argmax(1), test_y)
    return {"algo": NAME, "ensemble": len(runs), "dataset": members[0]["dataset"],
            "checkpoint": args.checkpoint, "test_images": len(test_y),
            "accuracy": acc, "accuracy_ci95": ci,
            "best_member_accuracy": max(m["accuracy"] for m in members), "members": members}


# data sets whose images are light strokes on a dark background (MNIST's convention)
DARK_BACKGROUND = ("mnist", "mnist-10k", "fashion-mnist")


def looks_inverted(image: torch.Tensor, dataset: str) -> bool:
    """Whether an image is dark-on-light while the training images are light-on-dark: its
    border (the background, in a centred picture) is mostly bright."""
    if dataset not in DARK_BACKGROUND:
        return False
    border = torch.cat([image[..., 0, :], image[..., -1, :], image[..., :, 0],
                        image[..., :, -1]], dim=-1)
    return float(border.float().mean()) > 127.5


def predict_images(run: Run, images: list[Path], checkpoint: str = "best", top: int = 3,
                   invert: str = "auto") -> list[dict[str, Any]]:
    """`rl predict RUN IMAGE...`: each image converted as the training images were (size,
    channels, and polarity: `invert` auto flips a dark-on-light image for a network trained on
    light-on-dark ones, and says so), and the most probable classes."""
    from rl.imagefolder import load_image

    cfg = saved_config(Config, run.config)
    state = run.load(checkpoint)
    meta = state["meta"]
    if meta.get("algo") != NAME:
        raise UserError(f"{run.path} is a {meta.get('algo')} run: rl predict is for classifiers")
    shape = tuple(meta["obs_shape"])
    classes = meta["classes"] if isinstance(meta["classes"], list) else \
        CLASS_NAMES.get(cfg.dataset, [str(i) for i in range(meta["classes"])])
    model = Classifier(make_backbone(cfg.backbone, shape), len(classes))
    model.load_state_dict(state["model"])
    loaded = [load_image(p, shape[1], shape[0]) for p in images]
    flip = [invert == "yes" or (invert == "auto" and looks_inverted(x, cfg.dataset))
            for x in loaded]
    batch = torch.stack([255 - x if f else x for x, f in zip(loaded, flip)])
    probs = torch.softmax(predict(model, batch, torch.device("cpu")), 1)
    out = []
    for path, p, flipped in zip(images, probs, flip):
        best = torch.argsort(p, descending=True)[:top].tolist()
        result = {"image": str(path), "top": [{"class": classes[i],
                                               "probability": round(float(p[i]), 4)}
                                              for i in best], "inverted": flipped}
        if flipped and invert == "auto":
            result["note"] = (f"dark on light, unlike {cfg.dataset}'s light-on-dark images: "
                              "inverted (--invert no keeps it as it is)")
        out.append(result)
    return out
