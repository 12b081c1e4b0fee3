"""Generators and discriminators by name.

A generator maps (z, y) -> images (B, C, H, W) in [-1, 1]; a discriminator maps (x, y) -> logits (B,).
``y`` is an int64 class tensor for conditional models and None otherwise. Builders take the model
config, the image shape (C, H, W) and the number of classes (0 when unconditional).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gankit.config import ModelConfig
from gankit.registry import Registry

Builder = Callable[[ModelConfig, tuple[int, int, int], int], nn.Module]
GENERATORS: Registry[Builder] = Registry("generator")
DISCRIMINATORS: Registry[Builder] = Registry("discriminator")


def build_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    return GENERATORS.get(cfg.generator)(cfg, shape, num_classes)


def build_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    return DISCRIMINATORS.get(cfg.discriminator)(cfg, shape, num_classes)


from gankit.models import dcgan, mlp, resnet  # noqa: E402,F401  (register the built-in architectures)
