"""Small output modules that sit on a backbone's features: agent or classifier = backbone + head."""
from __future__ import annotations

import torch
from torch import nn


class QHead(nn.Module):
    """Action values; dueling (Wang et al. 2016) splits them into V(s) + A(s, a) - mean A."""

    def __init__(self, in_features: int, n_actions: int, dueling: bool = False, hidden: int = 0):
        super().__init__()
        self.dueling = dueling

        def branch(out: int) -> nn.Module:
            if hidden:
                return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                     nn.Linear(hidden, out))
            return nn.Linear(in_features, out)

        self.advantage = branch(n_actions)
        self.value = branch(1) if dueling else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        adv = self.advantage(features)
        if self.value is None:
            return adv
        return self.value(features) + adv - adv.mean(dim=1, keepdim=True)


class ClassifierHead(nn.Module):
    def __init__(self, in_features: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, n_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class PolicyValueHead(nn.Module):
    """Move logits and a value in [-1, 1] from the side to move's point of view; for Go also
    each point's final owner in [-1, 1] (KataGo's ownership head: +1 the side to move's)."""

    def __init__(self, in_features: int, n_actions: int, hidden: int = 128, ownership: int = 0):
        super().__init__()
        self.policy = nn.Linear(in_features, n_actions)
        self.value = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                   nn.Linear(hidden, 1), nn.Tanh())
        self.ownership = nn.Sequential(nn.Linear(in_features, ownership), nn.Tanh()) \
            if ownership else None

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(logits, value), and the ownership map when the head has one."""
        out = (self.policy(features), self.value(features).squeeze(-1))
        return out if self.ownership is None else (*out, self.ownership(features))
