"""The classifier network (a shared backbone and a head), its input scaling, batched
on-device augmentation and batched prediction."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from agents.classifier.config import Config
from rl.backbones import make_backbone
from rl.datasets import ImageData
from rl.heads import ClassifierHead
from rl.stats import wilson


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


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def accuracy(pred: torch.Tensor, truth: torch.Tensor) -> tuple[float, list[float]]:
    correct = int((pred == truth).sum())
    return correct / len(pred), [round(x, 4) for x in wilson(correct, len(pred))]
