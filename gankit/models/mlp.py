"""The fully connected GAN of Goodfellow et al. (2014) as the classic tutorials write it.

G: z(100) -> 256 -> 512 -> 1024 -> C*H*W, ReLU then Tanh.
D: C*H*W -> 1024 -> 512 -> 256 -> 1 logit, LeakyReLU(0.2) with dropout.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.models import DISCRIMINATORS, GENERATORS


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, hidden: list[int], shape: tuple[int, int, int]):
        super().__init__()
        self.z_dim, self.shape = z_dim, shape
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers += [nn.Linear(width, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, hidden: list[int], shape: tuple[int, int, int], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        width = math.prod(shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


@GENERATORS.register("mlp")
def mlp_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Fully connected generator (Goodfellow et al. 2014)."""
    return MLPGenerator(cfg.z_dim, cfg.g_hidden, shape)


@DISCRIMINATORS.register("mlp")
def mlp_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Fully connected discriminator (Goodfellow et al. 2014)."""
    return MLPDiscriminator(cfg.d_hidden, shape, cfg.d_dropout)
