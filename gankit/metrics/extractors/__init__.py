"""Feature extractors by name: ``mnist`` (built-in digit classifier), ``inception`` (FID InceptionV3),
``auto`` (mnist for small grayscale images, else inception), any ``torch.nn.Module``, or an import
path ``package.module:attr`` naming a module, a module class, or a function marked ``@feature_extractor``."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from gankit.errors import ConfigError, GankitError, first_line
from gankit.metrics.extractors.base import FeatureExtractor, Features, ModuleExtractor
from gankit.registry import Registry, import_object, unknown_name_message
from gankit.utils import resolve_device

EXTRACTORS: Registry[Callable[[torch.device], FeatureExtractor]] = Registry("feature extractor")


@EXTRACTORS.register("mnist", "built-in CNN trained on MNIST train: 128-d penultimate features + 10 logits; "
                              "for 28x28 grayscale digits")
def _mnist(device: torch.device) -> FeatureExtractor:
    # each network's module loads when it is first asked for (the Inception one is large)
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
    device = resolve_device(device)
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec, device)
    if not isinstance(spec, str):
        raise ConfigError(f"extractor must be a name, a torch module or a FeatureExtractor, got {type(spec).__name__}")
    if spec == "auto":
        if image_shape is None:
            raise ValueError("extractor='auto' needs the image shape")
        spec = auto_name(image_shape)
    if ":" in spec and spec not in EXTRACTORS:
        return _import_module_spec(spec, device)
    if spec not in EXTRACTORS:
        raise ConfigError(unknown_name_message("feature extractor", spec, ["auto", *EXTRACTORS.names()]) +
                          ", or package.module:attr")
    key = (spec, str(device))
    if key not in _INSTANCES:  # networks are loaded once per process (training evaluates many times)
        _INSTANCES[key] = EXTRACTORS.get(spec)(device)
    return _INSTANCES[key]


def feature_extractor(factory: Callable[[torch.device], nn.Module | FeatureExtractor]
                      ) -> Callable[[torch.device], nn.Module | FeatureExtractor]:
    """Mark a function as a feature-extractor factory, so ``--extractor module:function`` may call it
    (with the device); gankit calls no other function an import path names."""
    factory.__gankit_extractor__ = True  # type: ignore[attr-defined]
    return factory


def _import_module_spec(spec: str, device: torch.device) -> FeatureExtractor:
    """``package.module:attr``: a module or FeatureExtractor instance, a subclass of either, or a function
    marked with ``@feature_extractor``. Anything else (``os:system``) is refused before it is called."""
    obj = import_object(spec, "extractor")
    if inspect.isclass(obj) and issubclass(obj, FeatureExtractor):
        make: Callable[[], object] = lambda: obj(device)
    elif inspect.isclass(obj) and issubclass(obj, nn.Module):
        make = obj
    elif callable(obj) and getattr(obj, "__gankit_extractor__", False):
        make = lambda: obj(device)
    elif isinstance(obj, (nn.Module, FeatureExtractor)):
        make = lambda: obj
    else:
        what = f"class {obj.__name__}" if inspect.isclass(obj) else type(obj).__name__
        raise ConfigError(f"extractor {spec!r} is a {what}, not a torch module, a FeatureExtractor "
                          f"or a function marked @gankit.metrics.extractors.feature_extractor; gankit calls only "
                          f"those")
    try:
        built = make()
    except Exception as exc:  # noqa: BLE001 - the user's constructor or factory raised
        raise GankitError(f"creating extractor {spec!r} failed: {type(exc).__name__}: {first_line(exc)}") from None
    if isinstance(built, FeatureExtractor):
        return built
    if isinstance(built, nn.Module):
        return ModuleExtractor(built, device, name=spec)
    raise GankitError(f"extractor {spec!r} returned a {type(built).__name__}, not a torch module or a FeatureExtractor")


__all__ = ["EXTRACTORS", "FeatureExtractor", "Features", "ModuleExtractor", "auto_name", "feature_extractor",
           "get_extractor"]
