"""Which images train: a balanced subset of labels, and the seeded validation split."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from rl.datasets import ImageData
from rl.errors import UserError


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
