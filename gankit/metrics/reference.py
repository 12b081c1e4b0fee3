"""Feature sets and the reference-statistics cache.

A ``FeatureSet`` holds one image set's features and everything derived from them that metrics share:
mean and covariance (float64, over all images), a random subsample of the features themselves (for
KID and the k-NN metrics), k-NN radii of that subsample, and the classifier's class histogram.

Reference sets are cached as ``.npz`` files in ``$GANKIT_CACHE/refstats`` (default
``~/.cache/gankit/refstats``), keyed by a hash of the images, the extractor's fingerprint (class,
preprocessing version and weights) and the subsampling options, and written atomically.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError, first_line
from gankit.metrics.classes import class_histogram
from gankit.metrics.extractors import FeatureExtractor
from gankit.metrics.fid import feature_stats
from gankit.metrics.knn import knn_radii
from gankit.utils import atomic_write_bytes

CACHE_FORMAT = 1


def cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit").expanduser()


@dataclass
class FeatureSet:
    features: np.ndarray  # (n, D) float32: all rows, or a random subsample for references
    count: int  # images behind mu / sigma / class_hist
    extractor: str  # extractor name and fingerprint, e.g. "mnist/v1-0123abcd..."
    logits: np.ndarray | None = None  # (count, K) float32 for every image (not cached for references)
    labels: np.ndarray | None = None  # (count,) true labels of conditional samples
    mu: np.ndarray | None = None  # (D,) float64
    sigma: np.ndarray | None = None  # (D, D) float64
    class_hist: np.ndarray | None = None  # (K,) predicted-class fractions over all images
    radii: dict[int, np.ndarray] = field(default_factory=dict)  # k -> (n,) float64 k-NN radii
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) of the images behind the features

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mu is None or self.sigma is None:
            self.mu, self.sigma = feature_stats(self.features)
        return self.mu, self.sigma

    def knn_radii(self, k: int) -> np.ndarray:
        if k not in self.radii:
            self.radii.update(knn_radii(self.features, k))
        return self.radii[k]

    def save(self, path: Path) -> None:
        mu, sigma = self.stats()
        arrays = {"format": np.array(CACHE_FORMAT), "features": self.features, "count": np.array(self.count),
                  "extractor": np.array(self.extractor), "mu": mu, "sigma": sigma}
        if self.class_hist is not None:
            arrays["class_hist"] = self.class_hist
        if self.image_shape is not None:
            arrays["image_shape"] = np.array(self.image_shape)
        for k, r in self.radii.items():
            arrays[f"radii_{k}"] = r
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> FeatureSet:
        try:
            with np.load(path, allow_pickle=False) as z:
                if "mu" not in z or "features" not in z:
                    raise GankitError(f"{path} holds no gankit reference statistics (needs mu, sigma, features)")
                if int(z["format"]) > CACHE_FORMAT:
                    raise GankitError(f"{path} was written by a newer gankit; upgrade or delete it")
                fs = cls(features=z["features"], count=int(z["count"]), extractor=str(z["extractor"]),
                         mu=z["mu"], sigma=z["sigma"], class_hist=z["class_hist"] if "class_hist" in z else None,
                         radii={int(k[6:]): z[k] for k in z.files if k.startswith("radii_")},
                         image_shape=tuple(int(v) for v in z["image_shape"]) if "image_shape" in z else None)
        except GankitError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated zip, bad CRC, missing key: all a damaged file
            raise GankitError(f"cannot read reference statistics {path}: {first_line(exc)}") from None
        n, d = fs.features.shape if fs.features.ndim == 2 else (0, -1)
        if (d < 1 or fs.mu.shape != (d,) or fs.sigma.shape != (d, d)
                or any(r.shape != (n,) for r in fs.radii.values())):
            raise GankitError(f"reference statistics {path} are damaged: features {fs.features.shape}, mu "
                              f"{fs.mu.shape}, sigma {fs.sigma.shape} do not fit together")
        return fs


def is_stats_file(path: Path) -> bool:
    if Path(path).suffix.lower() != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return "mu" in z.files and "sigma" in z.files
    except Exception:  # noqa: BLE001 - not a readable .npz: whoever loads it next says why
        return False


def subsample(n: int, limit: int | None, seed: int) -> np.ndarray | None:
    """Row indices of a seeded random subsample of at most ``limit`` rows (None: keep all, in order)."""
    if limit is None or n <= limit:
        return None
    return np.sort(np.random.RandomState(seed).choice(n, limit, replace=False))


def build_feature_set(images: torch.Tensor, extractor: FeatureExtractor, *, keep: int | None, seed: int,
                      batch_size: int = 500, labels: np.ndarray | None = None,
                      radii_k: tuple[int, ...] = ()) -> FeatureSet:
    """Extract features once; mean/cov and class histogram over all images, rows kept for k-NN/KID."""
    out = extractor.extract(images, batch_size)
    mu, sigma = feature_stats(out.features) if len(out.features) > 1 else (None, None)
    hist = None
    if out.logits is not None:
        hist = class_histogram(out.logits.argmax(1), out.logits.shape[1])
    rows = subsample(len(out.features), keep, seed)
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    fs = FeatureSet(features=pick(out.features), count=len(out.features),
                    extractor=f"{extractor.name}/{extractor.fingerprint()}",
                    logits=out.logits, labels=None if labels is None else np.asarray(labels), mu=mu, sigma=sigma,
                    class_hist=hist, image_shape=tuple(int(v) for v in images.shape[1:]))
    for k in radii_k:
        if len(fs.features) > k:
            fs.knn_radii(k)
    return fs


def images_key(images: torch.Tensor) -> str:
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()


def cached_reference(images: torch.Tensor, extractor: FeatureExtractor, *, name: str, keep: int | None, seed: int,
                     radii_k: tuple[int, ...], batch_size: int = 500, use_cache: bool = True,
                     directory: Path | None = None) -> FeatureSet:
    """The reference FeatureSet of ``images``: from the cache when present, else computed and cached."""
    h = hashlib.sha256(f"{CACHE_FORMAT}|{images_key(images)}|{extractor.fingerprint()}|{keep}|{seed}".encode())
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "data"
    path = Path(directory or cache_dir()) / "refstats" / f"{safe}-{extractor.name.split(':')[-1]}-{h.hexdigest()[:16]}.npz"
    if use_cache and path.is_file():
        try:
            fs = FeatureSet.load(path)
            missing = [k for k in radii_k if k not in fs.radii and len(fs.features) > k]
            if missing:
                for k in missing:
                    fs.knn_radii(k)
                fs.save(path)
            return fs
        except GankitError:
            pass  # a damaged cache file is recomputed and replaced
    fs = build_feature_set(images, extractor, keep=keep, seed=seed, batch_size=batch_size, radii_k=radii_k)
    if use_cache:
        try:
            fs.save(path)
        except GankitError as exc:  # a read-only or full cache costs only the recomputation next time
            warnings.warn(f"reference statistics not cached: {exc}", stacklevel=2)
    return fs
