"""The fully connected GAN of Goodfellow et al. (2014) as the classic tutorials write it.

G: z(100) -> 256 -> 512 -> 1024 -> C*H*W, ReLU then Tanh.
D: C*H*W -> 1024 -> 512 -> 256 -> 1 logit, LeakyReLU(0.2) with dropout.
Conditional variants concatenate the label (or InfoGAN code) to G's input and to D's flattened input.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.layers import Discriminator, LatentInput, extra_input_channels


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        self.z_dim, self.shape = cfg.z_dim, shape
        self.input = LatentInput(cfg, num_classes)
        layers: list[nn.Module] = []
        width = self.input.out_dim
        for h in cfg.g_hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers += [nn.Linear(width, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.input(z, y)).view(-1, *self.shape)


class MLPBody(nn.Module):
    """(B, C', H, W) -> (B, last hidden size)."""

    def __init__(self, in_features: int, hidden: list[int], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


@GENERATORS.register("mlp")
def mlp_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Fully connected generator (Goodfellow et al. 2014)."""
    return MLPGenerator(cfg, shape, num_classes)


@DISCRIMINATORS.register("mlp")
def mlp_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Fully connected discriminator (Goodfellow et al. 2014)."""
    c, h, w = shape
    body = MLPBody((c + extra_input_channels(cfg, num_classes)) * h * w, cfg.d_hidden, cfg.d_dropout)
    return Discriminator(body, body.out_features, cfg, shape, num_classes)
