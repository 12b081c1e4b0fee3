"""The built-in extractor for 28x28 grayscale digits: a small CNN trained on MNIST train only.

Weights ship in the package (``gankit/assets/mnist_classifier.safetensors``, trained by
``scripts/train_mnist_classifier.py``); its MNIST test accuracy is in ``mnist_classifier.json`` next
to them and in docs/metrics.md. Features are the 128-d penultimate layer (after ReLU, as Inception's
pool3); logits are the 10 digit classes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from gankit.errors import GankitError
from gankit.metrics.extractors.base import FeatureExtractor

ASSETS = Path(__file__).resolve().parents[2] / "assets"
WEIGHTS = ASSETS / "mnist_classifier.safetensors"
INFO = ASSETS / "mnist_classifier.json"
PREPROCESS_VERSION = 1  # bump when preprocess() changes, so cached reference stats are recomputed


class DigitNet(nn.Module):
    """(N, 1, 28, 28) in [-1, 1] -> (features (N, 128), logits (N, 10)); ~99k parameters (~400 KB)."""

    def __init__(self, width: int = 16, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(1, width), nn.MaxPool2d(2),  # (N, 16, 14, 14)
            *block(width, 2 * width), nn.MaxPool2d(2),  # (N, 32, 7, 7)
            *block(2 * width, 4 * width), nn.MaxPool2d(2),  # (N, 64, 3, 3)
            nn.Flatten(),
        )
        self.embed = nn.Sequential(nn.Linear(4 * width * 9, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.body(x))
        return features, self.head(features)


def to_digit_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, 1, 28, 28) in [-1, 1]: drop alpha, RGB -> luma, resize to 28."""
    x = images.to(device).float()
    if x.shape[1] == 4:
        x = x[:, :3]
    if x.shape[1] == 3:  # ITU-R 601 luma, as Pillow's convert("L")
        x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[-2:] != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=min(x.shape[-2:]) > 28, align_corners=False)
    return x.div_(127.5).sub_(1.0)


def load_digit_net(path: Path = WEIGHTS) -> DigitNet:
    net = DigitNet()
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise GankitError(f"cannot read the built-in digit classifier weights {path}: {exc}; reinstall gankit "
                          f"or rebuild them with scripts/train_mnist_classifier.py") from None
    net.load_state_dict(state)
    return net.eval()


class NotDigitsWarning(UserWarning):
    """The images handed to the digit classifier do not look like MNIST-style digits."""


class DigitExtractor(FeatureExtractor):
    name = "mnist"
    num_classes = 10

    def __init__(self, device: str | torch.device = "cpu", weights: Path = WEIGHTS):
        super().__init__(load_digit_net(weights), device)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return to_digit_input(images, self.device)

    def fingerprint(self) -> str:
        return f"v{PREPROCESS_VERSION}-{super().fingerprint()}"

    def check(self, images: torch.Tensor) -> None:
        """MNIST-like digits are light strokes on a black background; warn on anything else."""
        x = to_digit_input(images[:2000]).add_(1).div_(2)  # [0, 1]
        border = torch.cat([x[..., :2, :].flatten(1), x[..., -2:, :].flatten(1),
                            x[..., :, :2].flatten(1), x[..., :, -2:].flatten(1)], 1)
        mean, border_mean = float(x.mean()), float(border.mean())
        if mean > 0.4 or border_mean > 0.2:
            warnings.warn(f"these images do not look like MNIST-style digits (mean intensity {mean:.2f}, border "
                          f"{border_mean:.2f}; digits are light strokes on black, about 0.13 and 0.00): the built-in "
                          f"digit classifier's features may mean little; consider --extractor inception",
                          NotDigitsWarning, stacklevel=3)


def classifier_info() -> dict:
    """What the training script recorded about the shipped weights (test accuracy, data, seed)."""
    try:
        return json.loads(INFO.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
