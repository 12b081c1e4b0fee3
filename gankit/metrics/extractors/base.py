"""What every feature extractor provides: batched features (and logits when it is a classifier)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gankit.errors import GankitError, first_line


@dataclass
class Features:
    features: np.ndarray  # (N, D) float32, exactly as the network produced them
    logits: np.ndarray | None = None  # (N, K) float32 for classifiers


class FeatureExtractor:
    """Wraps a network: uint8 images (N, C, H, W) in, features (and logits) out, batched, no grad.

    Subclasses set ``name``, implement ``preprocess`` (uint8 batch -> the network's float input) and
    ``forward`` (input -> features, logits or None). ``fingerprint`` keys the reference-stats cache.
    """

    name = "extractor"
    num_classes: int | None = None  # set when the extractor also classifies

    def __init__(self, net: nn.Module, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.net = net.eval().requires_grad_(False).to(self.device)
        self._fingerprint: str | None = None

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(self.device).float().div_(127.5).sub_(1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.net(x)
        if isinstance(out, dict):
            return out["features"], out.get("logits")
        if isinstance(out, (tuple, list)):
            return out[0], (out[1] if len(out) > 1 else None)
        return out, None

    def check(self, images: torch.Tensor) -> None:
        """Warn when the images do not suit this extractor (called once per image set)."""

    def extract(self, images: torch.Tensor, batch_size: int = 500) -> Features:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"extractors take uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        self.check(images)
        feats, logits = [], []
        with torch.inference_mode():
            for batch in images.split(batch_size):
                f, lg = self.forward(self.preprocess(batch))
                feats.append(f.reshape(len(batch), -1).float().cpu())
                if lg is not None:
                    logits.append(lg.float().cpu())
        return Features(torch.cat(feats).numpy(), torch.cat(logits).numpy() if logits else None)

    def fingerprint(self) -> str:
        """A hash of the class, its preprocessing version and every weight: changes when any of them does."""
        if self._fingerprint is None:
            h = hashlib.sha256(f"{type(self).__module__}.{type(self).__qualname__}:{self.name}".encode())
            h.update(type(self.net).__qualname__.encode())
            for key, value in sorted(self.net.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


class ModuleExtractor(FeatureExtractor):
    """Any user torch module: input (N, C, H, W) floats in [-1, 1]; output features (N, ...) or
    a tuple (features, logits) or a dict with keys ``features`` and optionally ``logits``."""

    def __init__(self, net: nn.Module, device: str | torch.device = "cpu", name: str | None = None):
        super().__init__(net, device)
        self.name = name or f"module-{type(net).__name__}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        try:
            return super().forward(x)
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:  # the user's network
            raise GankitError(f"extractor {self.name} failed on images of shape {tuple(x.shape)} (N, C, H, W, "
                              f"floats in [-1, 1]): {first_line(exc)}") from None
