"""Feature extractors by name: ``mnist`` (built-in digit classifier), ``inception`` (FID InceptionV3),
``auto`` (mnist for small grayscale images, else inception), any ``torch.nn.Module``, or an import
path ``package.module:attr`` naming a module instance or a function returning one."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import torch
from torch import nn

from gankit.errors import ConfigError, GankitError
from gankit.metrics.extractors.base import FeatureExtractor, Features, ModuleExtractor
from gankit.registry import Registry, unknown_name_message

EXTRACTORS: Registry[Callable[[torch.device], FeatureExtractor]] = Registry("feature extractor")


@EXTRACTORS.register("mnist", "built-in CNN trained on MNIST train: 128-d penultimate features + 10 logits; "
                              "for 28x28 grayscale digits")
def _mnist(device: torch.device) -> FeatureExtractor:
    from gankit.metrics.extractors.digits import DigitExtractor

    return DigitExtractor(device)


@EXTRACTORS.register("inception", "InceptionV3 pool3 (2048-d) + 1008 logits, the standard FID network; needs "
                                  "local weights (GANKIT_INCEPTION_WEIGHTS) or --download")
def _inception(device: torch.device) -> FeatureExtractor:
    from gankit.metrics.extractors.inception import InceptionExtractor

    return InceptionExtractor(device)


_INSTANCES: dict[tuple[str, str], FeatureExtractor] = {}


def auto_name(shape: tuple[int, ...]) -> str:
    """The digit classifier for small grayscale images (C=1, at most 64 px), Inception otherwise."""
    c, h, w = shape[-3:]
    return "mnist" if c == 1 and max(h, w) <= 64 else "inception"


def get_extractor(spec: str | nn.Module | FeatureExtractor = "auto", device: str | torch.device = "cpu",
                  image_shape: tuple[int, ...] | None = None) -> FeatureExtractor:
    if isinstance(spec, FeatureExtractor):
        return spec
    device = torch.device(device)
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec, device)
    if not isinstance(spec, str):
        raise ConfigError(f"extractor must be a name, a torch module or a FeatureExtractor, got {type(spec).__name__}")
    if spec == "auto":
        if image_shape is None:
            raise ValueError("extractor='auto' needs the image shape")
        spec = auto_name(image_shape)
    if ":" in spec and spec not in EXTRACTORS:
        return ModuleExtractor(_import_module_spec(spec), device, name=spec)
    if spec not in EXTRACTORS:
        raise ConfigError(unknown_name_message("feature extractor", spec, ["auto", *EXTRACTORS.names()]) +
                          ", or package.module:attr")
    key = (spec, str(device))
    if key not in _INSTANCES:  # networks are loaded once per process (training evaluates many times)
        _INSTANCES[key] = EXTRACTORS.get(spec)(device)
    return _INSTANCES[key]


def _import_module_spec(spec: str) -> nn.Module:
    mod_name, _, attr = spec.partition(":")
    added = os.getcwd() not in sys.path  # a module beside the user, as `python -m` would find it
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import extractor {spec!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        raise GankitError(f"importing extractor {spec!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    if not isinstance(obj, nn.Module) and callable(obj):
        obj = obj()
    if not isinstance(obj, nn.Module):
        raise GankitError(f"extractor {spec!r} is not a torch module (got {type(obj).__name__})")
    return obj


__all__ = ["EXTRACTORS", "FeatureExtractor", "Features", "ModuleExtractor", "auto_name", "get_extractor"]
