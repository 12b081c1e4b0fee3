"""DCGAN (Radford et al. 2016) for 28, 32 and 64 px.

Strided (transposed) convolutions instead of pooling, BatchNorm in G (not on its output) and in D
(not on its input), ReLU in G, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).
28 px starts from a 7x7 map (7 -> 14 -> 28); 32 and 64 px start from 4x4 and double.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS

SUPPORTED = (28, 32, 64)


def _plan(resolution: int) -> tuple[int, int]:
    """(size of the first feature map, number of 2x up/down-sampling stages)."""
    if resolution not in SUPPORTED:
        raise ConfigError(f"dcgan supports resolutions {SUPPORTED}, got {resolution}; set data.resolution")
    base = 7 if resolution == 28 else 4
    return base, {28: 2, 32: 3, 64: 4}[resolution]


def dcgan_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, width: int, shape: tuple[int, int, int]):
        super().__init__()
        channels, resolution, _ = shape
        base, stages = _plan(resolution)
        self.z_dim = z_dim
        ch = width * 2 ** (stages - 1)  # e.g. 28 px, width 64: 128 @ 7x7 -> 64 @ 14x14 -> C @ 28x28
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int, shape: tuple[int, int, int]):
        super().__init__()
        channels, resolution, _ = shape
        base, stages = _plan(resolution)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, base, 1, 0))  # (B, ch, base, base) -> (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


@GENERATORS.register("dcgan")
def dcgan_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Transposed-conv generator with BatchNorm (Radford et al. 2016)."""
    return DCGANGenerator(cfg.z_dim, cfg.width, shape)


@DISCRIMINATORS.register("dcgan")
def dcgan_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Strided-conv discriminator with LeakyReLU (Radford et al. 2016)."""
    return DCGANDiscriminator(cfg.width, shape)
