"""DCGAN (Radford et al. 2016) for 28, 32 and 64 px.

Strided (transposed) convolutions instead of pooling, BatchNorm in G (not on its output) and in D
(not on its input), ReLU in G, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).
28 px starts from a 7x7 map (7 -> 14 -> 28); 32 and 64 px start from 4x4 and double.
D's last layer (a conv over the whole base x base map in the paper) is the same as a linear head on
the flattened features, which is how ``Discriminator`` holds it, so projection and auxiliary heads fit.
``model.d_norm`` swaps D's BatchNorm for layer norm or nothing (WGAN-GP, spectral norm).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.layers import Discriminator, LatentInput, conv_norm, extra_input_channels

SUPPORTED = (28, 32, 64)


def _plan(resolution: int, arch: str = "dcgan") -> tuple[int, int]:
    """(size of the first feature map, number of 2x up/down-sampling stages)."""
    if resolution not in SUPPORTED:
        raise ConfigError(f"{arch} supports resolutions {SUPPORTED}, got {resolution}; set data.resolution")
    base = 7 if resolution == 28 else 4
    return base, {28: 2, 32: 3, 64: 4}[resolution]


def dcgan_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        channels, resolution, _ = shape
        base, stages = _plan(resolution)
        self.z_dim = cfg.z_dim
        self.input = LatentInput(cfg, num_classes)
        ch = cfg.width * 2 ** (stages - 1)  # e.g. 28 px, width 64: 128 @ 7x7 -> 64 @ 14x14 -> C @ 28x28
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.input.out_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z, y)
        return self.net(h.view(h.shape[0], -1, 1, 1))


class DCGANBody(nn.Module):
    """(B, C', H, W) -> (B, ch * base * base) features."""

    def __init__(self, in_channels: int, width: int, resolution: int, norm: str):
        super().__init__()
        base, stages = _plan(resolution)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"), conv_norm(norm, ch * 2),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_features = ch * base * base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@GENERATORS.register("dcgan")
def dcgan_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Transposed-conv generator with BatchNorm (Radford et al. 2016)."""
    return DCGANGenerator(cfg, shape, num_classes)


@DISCRIMINATORS.register("dcgan")
def dcgan_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    """Strided-conv discriminator with LeakyReLU (Radford et al. 2016)."""
    channels, resolution, _ = shape
    body = DCGANBody(channels + extra_input_channels(cfg, num_classes), cfg.width, resolution, cfg.d_norm)
    return Discriminator(body, body.out_features, cfg, shape, num_classes, init=dcgan_init)
