"""Named recipes: each is a few lines of config over the one engine.

A recipe only overrides config keys; anything it leaves out keeps the typed default from
``gankit.config``. Layering is defaults < recipe < config file < command-line overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gankit.registry import Registry


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    paper: str
    overrides: dict[str, Any] = field(default_factory=dict)  # nested, as in a config file


RECIPES: Registry[Recipe] = Registry("recipe")
DEFAULT_RECIPE = "dcgan"


def recipe(name: str, description: str, paper: str, **sections: dict[str, Any]) -> Recipe:
    r = Recipe(name, description, paper, sections)
    RECIPES.add(name, r, description)
    return r


recipe(
    "mlp-gan",
    "fully connected GAN with BCE loss, the classic MNIST tutorial (G 100-256-512-1024-784, D 784-1024-512-256-1)",
    "Goodfellow et al. 2014, Generative Adversarial Nets",
    model={"generator": "mlp", "discriminator": "mlp", "z_dim": 100},
    loss={"name": "bce", "g_form": "non-saturating"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 128, "steps": 3000},
)

recipe(
    "dcgan",
    "deep convolutional GAN: strided convs, BatchNorm, LeakyReLU D, N(0, 0.02) init, Adam(2e-4, 0.5)",
    "Radford et al. 2016, Unsupervised Representation Learning with DCGANs",
    model={"generator": "dcgan", "discriminator": "dcgan", "z_dim": 100, "width": 64},
    loss={"name": "bce", "g_form": "non-saturating"},
    optim={"name": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    train={"batch_size": 128, "steps": 1500},
)
