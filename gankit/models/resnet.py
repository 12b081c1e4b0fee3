"""The small ResNet G and D of the SNGAN paper (Miyato et al. 2018, appendix B.4, CIFAR-10, 32 px).

G: z -> linear 4x4xCg -> 3 up-blocks (BN, ReLU, nearest 2x, conv3x3, BN, ReLU, conv3x3; 1x1 shortcut)
   -> BN, ReLU, conv3x3 -> tanh.                                  Cg = 4 * model.width (paper: 256)
D: optimized down-block, down-block, 2 plain blocks (ReLU, conv3x3, ReLU, conv3x3 [, avgpool]) -> ReLU
   -> global sum pooling -> linear (plus projection / auxiliary heads).  Cd = 2 * model.width (paper: 128)
28 px (MNIST) starts G from 7x7 with 2 up-blocks; 64 px uses 4 up-blocks and 3 down-blocks.
D has no normalisation besides spectral norm (``model.spectral_norm``), as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import ModelConfig
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.dcgan import _plan
from gankit.models.layers import Discriminator, LatentInput, extra_input_channels


def resnet_init(module: nn.Module) -> None:
    # Xavier-uniform as in the authors' code: gain sqrt(2) inside residual branches, 1 elsewhere.
    if isinstance(module, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight, math.sqrt(2) if module.kernel_size == (3, 3) else 1.0)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if (down or cin != cout) else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)  # the "optimized" first block takes the image without a ReLU
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:  # pool then 1x1, as in the paper's optimized block
            s = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            s = self.shortcut(x)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        channels, resolution, _ = shape
        base, stages = _plan(resolution, "resnet")
        self.z_dim, self.base = cfg.z_dim, base
        self.ch = ch = 4 * cfg.width
        self.input = LatentInput(cfg, num_classes)
        self.linear = nn.Linear(self.input.out_dim, base * base * ch)
        self.blocks = nn.Sequential(*[GBlock(ch, ch) for _ in range(stages)])
        self.out = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, channels, 3, 1, 1), nn.Tanh())
        self.apply(resnet_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(self.input(z, y)).view(-1, self.ch, self.base, self.base)  # (B, Cg, base, base)
        return self.out(self.blocks(h))


class ResNetBody(nn.Module):
    """(B, C', H, W) -> (B, Cd): blocks, ReLU, sum over the spatial positions."""

    def __init__(self, in_channels: int, width: int, resolution: int):
        super().__init__()
        _, stages = _plan(resolution, "resnet")
        ch = 2 * width
        downs = 3 if resolution == 64 else 2
        blocks = [DBlock(in_channels, ch, down=True, first=True)]
        blocks += [DBlock(ch, ch, down=True) for _ in range(downs - 1)]
        blocks += [DBlock(ch, ch, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.out_features = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))


@GENERATORS.register("resnet")
def resnet_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """ResNet generator with nearest-neighbour up-blocks (Miyato et al. 2018, SNGAN)."""
    return ResNetGenerator(cfg, shape, num_classes)


@DISCRIMINATORS.register("resnet")
def resnet_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """ResNet discriminator with average-pool down-blocks and global sum pooling (Miyato et al. 2018)."""
    channels, resolution, _ = shape
    body = ResNetBody(channels + extra_input_channels(cfg, num_classes), cfg.width, resolution)
    return Discriminator(body, body.out_features, cfg, shape, num_classes, init=resnet_init)
