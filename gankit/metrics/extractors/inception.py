"""The FID InceptionV3 (TensorFlow's 2015-12-05 graph, ported to PyTorch), as a feature extractor.

The layout follows the ``pt_inception-2015-12-05`` weights used by pytorch-fid and torch-fidelity
(module names ``Conv2d_1a_3x3``, ``Mixed_5b`` ... ``Mixed_7c``, ``fc`` with 1008 classes), including
the TensorFlow quirks that differ from torchvision's InceptionV3: average pools that ignore padding,
and a max pool in the last block. Input handling matches torch-fidelity: uint8 RGB resized to 299
with TensorFlow 1.x bilinear resampling (no half-pixel offset), then (x - 128) / 128.

Features: pool3, 2048-d. Logits: pool3 @ fc.weight^T, 1008 classes without the bias, as the original
Inception Score code.

Weights are never downloaded silently. They are read from, in order: the ``weights`` argument, the
``GANKIT_INCEPTION_WEIGHTS`` environment variable, or the cache (``$GANKIT_CACHE/weights``), where
``download_weights()`` (``gankit eval --download``) puts them when online, checking the SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import urllib.request
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from gankit.errors import GankitError, first_line
from gankit.metrics.extractors.base import FeatureExtractor
from gankit.metrics.reference import cache_dir
from gankit.utils import atomic_path

URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
FILENAME = "weights-inception-2015-12-05-6726825d.pth"
SHA256_PREFIX = "6726825d"  # torch.hub convention: the file name carries the start of its SHA-256
ENV = "GANKIT_INCEPTION_WEIGHTS"
PREPROCESS_VERSION = 1


class Conv(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3, as TF) -> ReLU."""

    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)  # TF averages real pixels only


class BlockA(nn.Module):  # Mixed_5b/c/d, 35x35
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 64, kernel_size=1)
        self.branch5x5_1 = Conv(cin, 48, kernel_size=1)
        self.branch5x5_2 = Conv(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, padding=1)
        self.branch_pool = Conv(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_tf_avg_pool(x))], 1)


class BlockB(nn.Module):  # Mixed_6a: 35x35 -> 17x17
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = Conv(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = Conv(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):  # Mixed_6b..e, 17x17, factorised 7x7
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 192, kernel_size=1)
        self.branch7x7_1 = Conv(cin, c7, kernel_size=1)
        self.branch7x7_2 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = Conv(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))], 1)


class BlockD(nn.Module):  # Mixed_7a: 17x17 -> 8x8
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192, kernel_size=1)
        self.branch3x3_2 = Conv(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = Conv(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):  # Mixed_7b/c, 8x8, expanded filter bank
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool  # TF's graph uses a max pool in Mixed_7c (an average pool in Mixed_7b)
        self.branch1x1 = Conv(cin, 320, kernel_size=1)
        self.branch3x3_1 = Conv(cin, 384, kernel_size=1)
        self.branch3x3_2a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = Conv(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """(N, 3, 299, 299) in [-1, 1] -> (pool3 (N, 2048), logits (N, 1008))."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = Conv(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = Conv(80, 192, kernel_size=3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)  # (N, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)  # ... (N, 768, 17, 17) ... (N, 2048, 8, 8)
        pool3 = x.mean((2, 3))  # (N, 2048)
        return pool3, pool3 @ self.fc.weight.T  # logits without the bias, as the original IS code


def resize_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize as TensorFlow 1.x ``resize_bilinear(align_corners=False)``: source coordinate
    = output index * (in / out), no half-pixel offset (PyTorch's align_corners=False adds one)."""

    def weights(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        src = torch.arange(size, dtype=torch.float64, device=x.device) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo, hi, (src - lo).to(x.dtype)

    h_lo, h_hi, h_w = weights(x.shape[2])
    w_lo, w_hi, w_w = weights(x.shape[3])
    rows = x[:, :, h_lo] * (1 - h_w)[:, None] + x[:, :, h_hi] * h_w[:, None]  # (N, C, size, W)
    return rows[..., w_lo] * (1 - w_w) + rows[..., w_hi] * w_w


def weights_cache_path() -> Path:
    return cache_dir() / "weights" / FILENAME


def find_weights(path: str | Path | None = None) -> Path:
    candidates = [("argument", path), (ENV, os.environ.get(ENV)), ("cache", weights_cache_path())]
    for source, p in candidates:
        if p:
            p = Path(p).expanduser()
            if p.is_file():
                return p
            if source != "cache":
                raise GankitError(f"InceptionV3 weights not found at {p} (from {source})")
    raise GankitError(f"InceptionV3 weights not found: set {ENV}=/path/to/{FILENAME} (or a .safetensors "
                      f"conversion), or run once online with `gankit eval ... --download` ({URL}); for "
                      f"digits, --extractor mnist needs no download")


def download_weights(dest: Path | None = None, url: str = URL, timeout: float = 60.0) -> Path:
    """Fetch the weights into the cache, checking the SHA-256 prefix in their name; atomic."""
    dest = Path(dest) if dest else weights_cache_path()
    if dest.is_file():
        return dest
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_path(dest) as tmp:
            h = hashlib.sha256()
            with open(tmp, "wb") as fh:
                while chunk := resp.read(1 << 20):
                    h.update(chunk)
                    fh.write(chunk)
            if not h.hexdigest().startswith(SHA256_PREFIX):
                raise GankitError(f"downloaded InceptionV3 weights from {url} have SHA-256 {h.hexdigest()[:16]}..., "
                                  f"expected {SHA256_PREFIX}...; not using them")
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise GankitError(f"cannot download InceptionV3 weights from {url} ({reason}); when offline, copy "
                          f"{FILENAME} to {dest} or set {ENV} to its path") from None
    return dest


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors (preferred) or .pth (read with weights_only=True: no pickled code)."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's advice to load unsafely is not ours to give
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise GankitError(f"refused InceptionV3 weights {path}: it holds pickled objects other than tensors, which "
                          f"could run code; use the pt_inception-2015-12-05 file or a .safetensors copy") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise GankitError(f"cannot read InceptionV3 weights {path}: {first_line(exc)}") from None
    if not isinstance(state, dict):
        raise GankitError(f"{path} does not hold a state dict")
    return state


class InceptionExtractor(FeatureExtractor):
    name = "inception"
    num_classes = 1008

    def __init__(self, device: str | torch.device = "cpu", weights: str | Path | None = None,
                 net: FIDInceptionV3 | None = None):
        if net is None:
            path = find_weights(weights)
            net = FIDInceptionV3()
            try:
                net.load_state_dict(load_state(path))
            except RuntimeError as exc:
                raise GankitError(f"{path} is not the FID InceptionV3 (pt_inception-2015-12-05) state dict: "
                                  f"{first_line(exc)}") from None
        super().__init__(net, device)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device).float()
        if x.shape[1] == 4:
            x = x[:, :3]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (resize_tf1(x, 299) - 128) / 128

    def fingerprint(self) -> str:
        return f"v{PREPROCESS_VERSION}-{super().fingerprint()}"
