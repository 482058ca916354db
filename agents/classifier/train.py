"""Training: a seeded validation split chooses the best epoch, the test set is scored once;
learning curves, confusion matrix and misclassified images."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.classifier.config import NAME, Config
from agents.classifier.data import split_validation
from agents.classifier.model import accuracy, augment, augmentation, build_model, predict, scale
from rl.backbones import load_encoder
from rl.datasets import ImageData
from rl.distributed import current as process_group
from rl.errors import UserError
from rl.loop import Loop
from rl.plots import plot_learning_curve, save_figure
from rl.precision import use_amp
from rl.run import LossGuard, Run, RunOptions

COLUMNS = ["step", "epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
           "images_per_s"]
PANELS = [("train_loss", "val_loss"), ("train_accuracy", "val_accuracy"), ("lr",)]


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
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    amp = use_amp(cfg.amp, device)
    model, ddp, opt = prepare(cfg, data, device, layout)
    total = cfg.epochs * math.ceil(len(data.train_x) / cfg.batch_size)
    lr_at = schedule(cfg, total)
    gen = torch.Generator().manual_seed(cfg.seed)
    epoch, step, train_time = restore(loop.restore(resume), model, opt, gen)
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
            xb, yb = my_share(cfg, (train_x[idx], train_y[idx]), gen, kind)
            batch_loss, right, stopping = update(cfg, ddp, opt, (xb, yb), len(idx), lr_at(step),
                                                 (layout, amp), run.guard, loop.stopped)
            if right is not None:  # applied (not skipped by the guard)
                loss_sum += batch_loss * len(yb)
                correct += right
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
    # the test set, once, for the chosen network: its figures and the plots' predictions
    test, predicted = test_figures(shown, data, device)
    write_figures(run.path, data, predicted)
    return {"algo": NAME, "backbone": cfg.backbone, "dataset": cfg.dataset, "epochs": epoch,
            "train_images": len(data.train_x), "test_images": len(data.test_x),
            "validation_images": len(val[1]) if val else 0, **test,
            "classes": data.classes, **(data.facts or {}), **chosen,
            "train_time_s": round(train_time, 1),
            "images_per_s": round(images / max(train_time, 1e-9), 1),
            "parameters": sum(p.numel() for p in model.parameters())}


def schedule(cfg: Config, total: int) -> Callable[[int], float]:
    """The learning rate at each step: constant, or cosine from cfg.lr to 0 over `total` steps."""
    if cfg.schedule != "cosine":
        return lambda step: cfg.lr
    return lambda step: cfg.lr * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))


def my_share(cfg: Config, batch: tuple[torch.Tensor, torch.Tensor], gen: torch.Generator,
             kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of a global batch, scaled and augmented (the whole batch is
    augmented, so every process's generator stays in step)."""
    xb, yb = scale(batch[0]), batch[1]
    if cfg.augment:
        xb = augment(xb, gen, kind, cfg.erasing)
    mine = process_group().shard(len(yb))
    return xb[mine], yb[mine]


def update(cfg: Config, ddp: nn.Module, opt: torch.optim.Optimizer,
           batch: tuple[torch.Tensor, torch.Tensor], global_size: int, lr: float,
           precision: tuple[torch.memory_format, bool], guard: LossGuard, stopped: bool
           ) -> tuple[float, int | None, bool]:
    """One update on this process's share of a global batch: the global batch's loss, the
    correct predictions here (None when the guard skipped the update) and whether any process
    is stopping (every process skips or stops together)."""
    (xb, yb), (layout, amp) = batch, precision
    for param_group in opt.param_groups:
        param_group["lr"] = lr
    world = process_group().world
    with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = ddp(xb.contiguous(memory_format=layout))
        # DDP averages over processes: scale so the gradient is the global batch mean
        loss = F.cross_entropy(logits.float(), yb, reduction="sum",
                               label_smoothing=cfg.label_smoothing) * (world / global_size)
    opt.zero_grad(set_to_none=True)
    batch_loss, stopping = process_group().sum(loss.item() / world, float(stopped))
    if not guard.ok(batch_loss):
        return batch_loss, None, bool(stopping)
    loss.backward()
    opt.step()
    return batch_loss, int((logits.argmax(1) == yb).sum().item()), bool(stopping)


def restore(state: dict[str, Any] | None, model: nn.Module, opt: torch.optim.Optimizer,
            gen: torch.Generator) -> tuple[int, int, float]:
    """Epoch, step and training time of a resumed run (zeros for a new one), its network,
    optimiser and generators restored."""
    if not state:
        return 0, 0, 0.0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return state["epoch"], state["step"], state["train_time_s"]


def prepare(cfg: Config, data: ImageData, device: torch.device, layout: torch.memory_format
            ) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """The network (from --init-encoder's trunk, frozen or not), the module that trains it
    (the same one alone; DistributedDataParallel under torchrun) and its optimiser."""
    model = build_model(cfg, data).to(device)
    if cfg.init_encoder:
        load_encoder(model.backbone, Path(cfg.init_encoder))
    if cfg.freeze_encoder:
        model.backbone.freeze()
    model = model.to(memory_format=layout)
    ddp = process_group().wrap(model, device)
    model = getattr(ddp, "module", ddp)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
           if cfg.optimizer == "adam" else
           torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                           weight_decay=cfg.weight_decay))
    return model, ddp, opt


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
    return figures(predict(model, images[0], device), images[1], name)


def figures(logits: torch.Tensor, labels: torch.Tensor, name: str) -> dict[str, Any]:
    acc, ci = accuracy(logits.argmax(1), labels)
    return {f"{name}_loss": F.cross_entropy(logits, labels).item(),
            f"{name}_accuracy": acc, f"{name}_accuracy_ci95": ci}


def test_figures(model: nn.Module, data: ImageData, device: torch.device
                 ) -> tuple[dict[str, Any], torch.Tensor]:
    """Test loss and accuracy with its 95% Wilson interval, and each image's predicted class
    (one pass over the test set)."""
    logits = predict(model, data.test_x, device)
    return figures(logits, data.test_y, "test"), logits.argmax(1)


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
