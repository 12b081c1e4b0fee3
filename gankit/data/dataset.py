"""In-memory image datasets and the batch sampler the engine draws from.

Every dataset gankit trains on fits in memory as one uint8 tensor (N, C, H, W) plus optional int64
labels, so the hot loop indexes a tensor instead of calling Python per item. Batches are converted
to floats in [-1, 1] on the fly, which keeps memory at one byte per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gankit import utils
from gankit.errors import DataError

MAX_CLASSES = 10_000
RESIZE_CHUNK_BYTES = 256 * 2**20  # float32 working set of one resize chunk


def check_memory(nbytes: int, what: str, hint: str) -> None:
    utils.check_memory(nbytes, what, hint, DataError)


@dataclass
class ImageDataset:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor | None = None  # (N,) int64
    num_classes: int = 0
    name: str = ""
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"dataset {self.name}: images must be uint8 (N, C, H, W), got {self.images.dtype} "
                            f"{tuple(self.images.shape)}")
        if len(self.images) == 0:
            raise DataError(f"dataset {self.name} holds no images")
        if self.labels is not None:
            if self.labels.shape != (len(self.images),):
                raise DataError(f"dataset {self.name}: {len(self.labels)} labels for {len(self.images)} images")
            if self.labels.min() < 0:
                raise DataError(f"dataset {self.name}: labels must be non-negative class indices")
            self.num_classes = max(self.num_classes, int(self.labels.max()) + 1)
            if self.num_classes > MAX_CLASSES:  # a class embedding that large is a labelling mistake
                raise DataError(f"dataset {self.name}: labels go up to {self.num_classes - 1}; class labels must "
                                f"be indices 0..K-1 with K <= {MAX_CLASSES}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, n: int) -> ImageDataset:
        labels = None if self.labels is None else self.labels[:n]
        return ImageDataset(self.images[:n], labels, self.num_classes, self.name, self.class_names)

    def float_images(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        x = self.images if index is None else self.images[index]
        return x.float().div_(127.5).sub_(1.0)


def to_uint8_tensor(array: np.ndarray, source: str) -> torch.Tensor:
    """(N, H, W) / (N, H, W, C) / (N, C, H, W) uint8 or float -> (N, C, H, W) uint8.

    Floats are read as [0, 1] when their minimum is non-negative and as [-1, 1] otherwise.
    """
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4:
        if a.shape[-1] in (1, 3, 4) and a.shape[1] not in (1, 3, 4):
            a = a.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{source}: expected images of shape (N, H, W), (N, H, W, C) or (N, C, H, W), "
                        f"got shape {a.shape}")
    if a.shape[1] not in (1, 3, 4):
        raise DataError(f"{source}: images must have 1, 3 or 4 channels, got shape {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{source}: holds no images")
    if a.shape[2] == 0 or a.shape[3] == 0:
        raise DataError(f"{source}: images have no pixels (shape {a.shape})")
    if a.dtype == np.uint8:
        return torch.from_numpy(np.array(a, copy=True, order="C"))
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise DataError(f"{source}: images must be uint8 or floats, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise DataError(f"{source}: images contain NaN or Inf values")
    lo, hi = a.min(), a.max()
    if np.issubdtype(array.dtype, np.integer):
        if lo < 0 or hi > 255:
            raise DataError(f"{source}: integer images must lie in [0, 255], got [{lo:g}, {hi:g}]")
    elif lo >= 0 and hi <= 1:
        a = a * 255.0
    elif lo >= -1 and hi <= 1:
        a = (a + 1) * 127.5
    else:
        hint = "; divide 0..255 pixel values by 255" if lo >= 0 and hi <= 255 else ""
        raise DataError(f"{source}: float images must lie in [0, 1] or [-1, 1], got [{lo:g}, {hi:g}]{hint}")
    return torch.from_numpy(np.ascontiguousarray(np.rint(a).astype(np.uint8)))


def fit_images(images: torch.Tensor, resolution: int | None, channels: int | None, source: str) -> torch.Tensor:
    """Convert channels (drop alpha, gray<->RGB), centre-crop to a square and resize to ``resolution``."""
    c = images.shape[1]
    if c == 4:
        images, c = images[:, :3], 3
    if channels is not None and channels != c:
        if channels == 3:
            images = images.expand(-1, 3, -1, -1).contiguous()
        else:  # ITU-R 601 luma, as Pillow's convert("L")
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            images = (images.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    h, w_ = images.shape[2:]
    if resolution is not None and h != w_:  # centre-crop to a square first, as image folders are
        side = min(h, w_)
        top, left = (h - side) // 2, (w_ - side) // 2
        images, h, w_ = images[:, :, top : top + side, left : left + side], side, side
    if resolution is not None and (h, w_) != (resolution, resolution):
        n, c = images.shape[:2]
        per_image = c * resolution * resolution
        chunk = max(1, min(4096, RESIZE_CHUNK_BYTES // (4 * per_image)))  # bounded memory for big sets
        # the uint8 result, plus a chunk's float input, output and rounding
        check_memory(n * per_image + 3 * 4 * chunk * max(per_image, c * h * w_),
                     f"{source}: resizing {n} images to {resolution}x{resolution}", "lower data.resolution")
        out = torch.empty((n, c, resolution, resolution), dtype=torch.uint8)
        for i in range(0, n, chunk):
            x = F.interpolate(images[i : i + chunk].float(), size=(resolution, resolution), mode="bilinear",
                              antialias=resolution < min(h, w_), align_corners=False)
            out[i : i + chunk] = x.round_().clamp_(0, 255)
        images = out
    return images


class BatchSampler:
    """Reshuffles every epoch from its own generator, so data order is reproducible and resumable."""

    def __init__(self, dataset: ImageDataset, batch_size: int, seed: int, device: torch.device):
        if batch_size > len(dataset):
            raise DataError(f"batch size {batch_size} is larger than the dataset ({len(dataset)} images); "
                            f"lower --batch-size")
        self.dataset = dataset
        self.batch_size = batch_size
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.position = 0
        self._order = torch.randperm(len(dataset), generator=self.generator)
        # Small sets live on the accelerator whole; the CPU path just indexes host memory.
        self._images = dataset.images.to(device)
        self._labels = None if dataset.labels is None else dataset.labels.to(device)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size  # drop the ragged last batch, as DataLoader(drop_last=True)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.position + self.batch_size > len(self.dataset):
            self.epoch += 1
            self.position = 0
            self._order = torch.randperm(len(self.dataset), generator=self.generator)
        idx = self._order[self.position : self.position + self.batch_size].to(self.device)
        self.position += self.batch_size
        x = self._images[idx].float().div_(127.5).sub_(1.0)
        y = None if self._labels is None else self._labels[idx]
        return x, y

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "order": self._order.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = state["order"].clone().long()
        self.generator.set_state(state["generator"].clone().to(torch.uint8))
