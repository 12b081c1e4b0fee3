"""Generators and discriminators by name.

A generator maps (z, y) -> images (B, C, H, W) in [-1, 1]; a discriminator maps (x, y) -> logits (B,).
``y`` is an int64 class tensor for conditional models and None otherwise. Builders take the model
config, the image shape (C, H, W) and the number of classes (0 when unconditional).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gankit.config import ModelConfig
from gankit.errors import ConfigError
from gankit.registry import Registry

Builder = Callable[[ModelConfig, tuple[int, int, int], int], nn.Module]
# A plugin (``--set model.generator=mypkg.nets:MyGenerator``) is an nn.Module class or a function, called
# like a builder: (model config, (C, H, W), number of classes).
GENERATORS: Registry[Builder] = Registry("generator", plugins=True, kind_of=nn.Module)
DISCRIMINATORS: Registry[Builder] = Registry("discriminator", plugins=True, kind_of=nn.Module)


def build_generator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    return _build(GENERATORS, cfg.generator, cfg, shape, num_classes)


def build_discriminator(cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int = 0) -> nn.Module:
    return _build(DISCRIMINATORS, cfg.discriminator, cfg, shape, num_classes)


def _build(registry: Registry[Builder], name: str, cfg: ModelConfig, shape: tuple[int, int, int],
           num_classes: int) -> nn.Module:
    net = registry.get(name)(cfg, shape, num_classes)
    if not isinstance(net, nn.Module):
        raise ConfigError(f"{registry.kind} {name!r} built a {type(net).__name__}, not a torch nn.Module")
    return net


from gankit.models import dcgan, mlp, resnet  # noqa: E402,F401  (register the built-in architectures)
