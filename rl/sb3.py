"""Our backbones as stable-baselines3 features extractors: SB3's algorithms (DQN, PPO, QR-DQN)
can learn with any encoder of rl.backbones, and their weights come back in our format."""
from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from rl.backbones import make_backbone


class BackboneExtractor(BaseFeaturesExtractor):
    """SB3 scales uint8 images to [0, 1] before calling us, as our QNetwork does."""

    def __init__(self, observation_space: spaces.Box, backbone: str = "nature"):
        net = make_backbone(backbone, tuple(observation_space.shape))
        super().__init__(observation_space, net.out_features)
        self.backbone = net

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.backbone(observations.float())


def policy_kwargs(backbone: str) -> dict[str, Any]:
    """Q-network = our backbone + one linear layer: the shape of our plain QHead."""
    return {"features_extractor_class": BackboneExtractor,
            "features_extractor_kwargs": {"backbone": backbone}, "net_arch": []}


def dqn_weights_to_ours(q_net_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SB3 DQN q_net keys -> agents.dqn.QNetwork keys (dueling off), so that `rl eval` and
    --init-encoder read SB3-trained networks like our own."""
    out = {}
    for key, value in q_net_state.items():
        if key.startswith("features_extractor.backbone."):
            out["backbone." + key[len("features_extractor.backbone."):]] = value.detach().clone()
        elif key.startswith("q_net.0."):
            out["head.advantage." + key[len("q_net.0."):]] = value.detach().clone()
    return out


def dqn_weights_to_sb3(ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of dqn_weights_to_ours (the best checkpoint back into an SB3 q_net)."""
    out = {}
    for key, value in ours.items():
        if key.startswith("backbone."):
            out["features_extractor.backbone." + key[len("backbone."):]] = value
        elif key.startswith("head.advantage."):
            out["q_net.0." + key[len("head.advantage."):]] = value
    return out


def silent_logger() -> Logger:
    """For model.set_logger: SB3's default logger leaves an empty /tmp/SB3-<time> folder behind
    at every learn(), and we write our own metrics."""
    return Logger(folder=None, output_formats=[])
