"""One family of encoders for every learner: classifiers, DQN's Q-network, self-play's trunk.

`make_backbone(name, in_shape)` returns a module mapping a float batch [B, *in_shape] to
features [B, out_features]. Input scaling (uint8 -> [0, 1]) is the caller's job, so the same
weights serve images and frames. Convolutional families are built from one block and a list
of stage widths, the way torchvision builds VGG and ResNet.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from rl.errors import UserError, did_you_mean

Shape = tuple[int, ...]


class Backbone(nn.Module):
    """A feature extractor that knows its input shape and output size."""

    def __init__(self, body: nn.Module, in_shape: Shape, name: str):
        super().__init__()
        self.body = body
        self.in_shape = tuple(in_shape)
        self.name = name
        with torch.no_grad():
            self.out_features = int(body(torch.zeros(1, *in_shape)).shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    frozen = False

    def freeze(self) -> Backbone:
        """Transfer with the encoder fixed: no gradients, and batch-norm keeps its running
        statistics (it stays in eval mode whatever the model around it is switched to)."""
        self.requires_grad_(False)
        self.frozen = True
        return self.eval()

    def train(self, mode: bool = True) -> Backbone:
        return super().train(mode and not self.frozen)


def _he_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def mlp(in_shape: Shape, hidden: Sequence[int] = (256, 256)) -> nn.Module:
    """For vector observations (CartPole and friends)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(in_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers)


def nature(in_shape: Shape) -> nn.Module:
    """Mnih et al. 2015: three convolutions, then 512 units. Small inputs get smaller kernels."""
    c, h, w = in_shape
    if min(h, w) >= 36:
        convs = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    else:  # 28x28 digits or 6x7 boards cannot take an 8x8 stride-4 kernel
        convs = [(32, 3, 1), (64, 3, 1), (64, 3, 1)]
    layers: list[nn.Module] = []
    for out, k, s in convs:
        pad = 0 if min(h, w) >= 36 else 1
        layers += [nn.Conv2d(c, out, k, s, padding=pad), nn.ReLU()]
        c = out
    layers += [nn.Flatten()]
    body = nn.Sequential(*layers)
    with torch.no_grad():
        flat = body(torch.zeros(1, *in_shape)).shape[1]
    return nn.Sequential(body, nn.Linear(flat, 512), nn.ReLU())


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's and Flax's 'SAME' padding: the output has ceil(size / stride) cells and
    the extra pixel of an odd total goes after, not before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def nature_same(in_shape: Shape) -> nn.Module:
    """The Nature CNN as Dopamine's FullRainbowNetwork builds it (the network behind its DER,
    DrQ and DrQ(eps) results): Flax convolutions pad 'SAME', so 84x84 frames give 21, 11 and
    11 cells and 7,744 features instead of 3,136 (dopamine/jax/networks.py). Dopamine's
    initialisation is `xavier_init`, a separate choice (DQN's --init)."""
    c, h, w = in_shape
    layers: list[nn.Module] = []
    for out, k, s in [(32, 8, 4), (64, 4, 2), (64, 3, 1)]:
        top, bottom = same_padding(h, k, s)
        left, right = same_padding(w, k, s)
        layers += [nn.ZeroPad2d((left, right, top, bottom)), nn.Conv2d(c, out, k, s), nn.ReLU()]
        c, h, w = out, -(-h // s), -(-w // s)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * h * w, 512), nn.ReLU())


def xavier_init(module: nn.Module) -> None:
    """Dopamine's initialisation of Dense and Conv layers: Xavier-uniform weights, zero biases
    (Flax's default bias). Layers of other types (noisy ones) keep their own."""
    for m in module.modules():
        if type(m) in (nn.Conv2d, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _pool_if_room(size: list[int]) -> nn.Module:
    """Halve the spatial size while it stays >= 2; boards as small as 3x3 keep their cells."""
    if min(size) >= 4:
        size[0] //= 2
        size[1] //= 2
        return nn.MaxPool2d(2)
    return nn.Identity()


def deepcnn(in_shape: Shape, dropout: float = 0.5) -> nn.Module:
    """'Deep Learning from Scratch' ch. 8: 3x3 convs 16-16-32-32-64-64, pool after each pair,
    a 50-unit hidden layer with dropout, He initialisation (99.38% on MNIST in the book)."""
    c, h, w = in_shape
    size = [h, w]
    layers: list[nn.Module] = []
    for width in (16, 32, 64):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), _pool_if_room(size)]
        c = width
    layers += [nn.Flatten(), nn.Linear(c * size[0] * size[1], 50), nn.ReLU(), nn.Dropout(dropout)]
    body = nn.Sequential(*layers)
    _he_init(body)
    return body


VGG_STAGES = {"vgg11": [[64], [128], [256, 256], [512, 512], [512, 512]],
              "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]}


def vgg(in_shape: Shape, stages: Sequence[Sequence[int]], batch_norm: bool = True,
        width_div: int = 1) -> nn.Module:
    """VGG: stages of 3x3 convs, max-pool between stages, global average pooling at the end
    (instead of VGG's 4096-unit layers, so any input size from 3x6x7 to 224x224 works)."""
    c, h, w = in_shape
    size = [h, w]
    layers: list[nn.Module] = []
    for stage in stages:
        for width in stage:
            width //= width_div
            layers += [nn.Conv2d(c, width, 3, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(width)] if batch_norm else []
            layers += [nn.ReLU(inplace=True)]
            c = width
        layers.append(_pool_if_room(size))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    body = nn.Sequential(*layers)
    _he_init(body)
    return body


class BasicBlock(nn.Module):
    """ResNet's two 3x3 convolutions with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


RESNET_BLOCKS = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}


def resnet(in_shape: Shape, blocks: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512),
           pool: bool = True) -> nn.Module:
    """ResNet from one block and a list of stage sizes. The stem adapts to the input: ImageNet's
    7x7/2 conv + max-pool (4x smaller) from Atari frames (84x84) up, a 3x3/1 conv for digits,
    CIFAR and boards, whose few pixels all matter."""
    c, h, w = in_shape
    if min(h, w) >= 64:
        stem = [nn.Conv2d(c, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
                nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        size = min(h, w) // 4
    else:
        stem = [nn.Conv2d(c, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                nn.ReLU(inplace=True)]
        size = min(h, w)
    layers: list[nn.Module] = list(stem)
    c = widths[0]
    for i, (n, width) in enumerate(zip(blocks, widths)):
        stride = 2 if i > 0 and size >= 4 else 1  # boards stay at full resolution
        size = size // stride
        for j in range(n):
            layers.append(BasicBlock(c, width, stride if j == 0 else 1))
            c = width
    # boards keep their map: a move's logit depends on where things are, not only on what
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if pool else [nn.Flatten()]
    body = nn.Sequential(*layers)
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return body


BACKBONES: dict[str, Callable[[Shape], nn.Module]] = {
    "mlp": mlp,
    "nature": nature,
    "nature-same": nature_same,  # Dopamine's padding and initialisation of the same layers
    "deepcnn": deepcnn,
    "vgg11": lambda s: vgg(s, VGG_STAGES["vgg11"]),
    "vgg16": lambda s: vgg(s, VGG_STAGES["vgg16"]),
    "resnet18": lambda s: resnet(s, RESNET_BLOCKS["resnet18"]),
    "resnet34": lambda s: resnet(s, RESNET_BLOCKS["resnet34"]),
    # He et al.'s CIFAR ResNet-20: three stages of 3 blocks, 16-32-64 channels, 0.27M weights
    "resnet20": lambda s: resnet(s, [3, 3, 3], widths=(16, 32, 64)),
    "resnet20w": lambda s: resnet(s, [3, 3, 3], widths=(24, 48, 96)),  # 1.5x wider, 0.6M
    # narrower members of the same families: fast on CPUs and small boards
    "resnet-small": lambda s: resnet(s, [2, 2], widths=(64, 64)),
    # AlphaZero-style trunk for board planes: 4 residual blocks, no pooling (flattened map)
    "resnet-board": lambda s: resnet(s, [2, 2], widths=(32, 32), pool=False),
    # the same, 6 blocks of 48 channels: 9x9 Go's trunk (about 1,500 positions/s on 2 cores)
    "resnet-go": lambda s: resnet(s, [3, 3], widths=(48, 48), pool=False),
}


def check_backbone(name: str) -> None:
    if name not in BACKBONES:
        raise UserError(f"unknown backbone {name!r}{did_you_mean(name, BACKBONES)}; "
                        f"choose from {', '.join(BACKBONES)}")


def make_backbone(name: str, in_shape: Shape) -> Backbone:
    check_backbone(name)
    if name != "mlp" and len(in_shape) != 3:
        raise UserError(f"backbone {name!r} needs image-shaped input (C, H, W), got {in_shape}: "
                        "use --encoder mlp for vector observations")
    return Backbone(BACKBONES[name](tuple(in_shape)), tuple(in_shape), name)


def load_encoder(backbone: Backbone, checkpoint: Path) -> None:
    """Copy the backbone weights of any of our checkpoints (classifier, DQN, self-play) into
    `backbone`. Refuses another backbone or input shape, naming both."""
    from rl.files import load_checkpoint

    state = load_checkpoint(checkpoint)
    meta = state.get("meta", {})
    source = {k[len("backbone."):]: v for k, v in state.get("model", {}).items()
              if k.startswith("backbone.")}
    if not source:
        raise UserError(f"{checkpoint} holds no backbone weights")
    theirs = meta.get("encoder") or meta.get("backbone")
    if theirs and theirs != backbone.name:
        raise UserError(f"{checkpoint} has a {theirs!r} backbone, this model uses "
                        f"{backbone.name!r}")
    if meta.get("obs_shape") and tuple(meta["obs_shape"]) != backbone.in_shape:
        raise UserError(f"{checkpoint} was trained on inputs of shape {tuple(meta['obs_shape'])}, "
                        f"this model takes {backbone.in_shape}")
    own = backbone.state_dict()
    for key, value in own.items():
        if key not in source or tuple(source[key].shape) != tuple(value.shape):
            got = tuple(source[key].shape) if key in source else "missing"
            raise UserError(f"{checkpoint}: backbone weight {key} is {got}, this model needs "
                            f"{tuple(value.shape)}")
    backbone.load_state_dict(source)
