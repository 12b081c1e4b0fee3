"""``evaluate(fake, ref, metrics, extractor)``: the one entry point used by the API, the CLI and training.

Features of each set are computed once and shared by every metric; reference statistics come from
the cache (see ``reference.py``). Metrics are registered by name; a metric function takes the fake
and reference ``FeatureSet`` and the options and returns a flat ``{name: float}``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit.config import DataConfig
from gankit.data import DATASETS, ImageDataset, fit_images, load_dataset, to_uint8_tensor
from gankit.errors import ConfigError, DataError, GankitError
from gankit.metrics import classes
from gankit.metrics.extractors import FeatureExtractor, get_extractor
from gankit.metrics.fid import frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.knn import manifold_metrics
from gankit.metrics.reference import FeatureSet, build_feature_set, cached_reference, is_stats_file
from gankit.registry import Registry, unknown_name_message

DEFAULT_METRICS = ("fid", "kid", "precision", "recall")


@dataclass(frozen=True)
class EvalOptions:
    kid_subsets: int = 100  # as torch-fidelity
    kid_subset_size: int = 1000  # shrinks to the smaller set when needed
    is_splits: int = 10  # Salimans et al.
    pr_k: int = 3  # Kynkäänniemi et al.
    dc_k: int = 5  # Naeem et al.
    seed: int = 2020  # KID subsets and IS shuffling, as torch-fidelity's default
    max_features: int | None = 10000  # rows per set kept for KID and k-NN metrics (mean/cov use all)
    batch_size: int = 500  # images per extractor batch

    def __post_init__(self) -> None:
        # torch.split answers a batch size of 0 with a RuntimeError deep inside feature extraction
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "seed" or (f.name == "max_features" and value is None):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"evaluation option {f.name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Metric:
    fn: Callable[[FeatureSet, FeatureSet | None, EvalOptions, set[str]], dict[str, float]]
    keys: tuple[str, ...]  # what it adds to the result (the name first, then companions like kid_std)
    needs_ref: bool = True
    needs_logits: bool = False
    group: str = ""  # metrics of one group are computed in one call (precision/recall/density/coverage)


METRICS: Registry[Metric] = Registry("metric")
ALIASES = {"pr": ("precision", "recall"), "dc": ("density", "coverage"), "prdc": ("precision", "recall", "density",
           "coverage"), "default": DEFAULT_METRICS}


def _fid(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    return {"fid": frechet_distance(*fake.stats(), *ref.stats())}


def _kid(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    mean, std = kid(fake.features, ref.features, o.kid_subsets, o.kid_subset_size, o.seed)
    return {"kid": mean, "kid_std": std}


def _is(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    mean, std = inception_score(fake.logits, o.is_splits, shuffle=True, seed=o.seed)
    return {"is": mean, "is_std": std}


def _manifold(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    pr = want & {"precision", "recall"}
    dc = want & {"density", "coverage"}
    radii = {k: ref.knn_radii(k) for k in ((o.pr_k,) if pr else ()) + ((o.dc_k,) if dc else ())}
    return manifold_metrics(fake.features, ref.features, pr_k=o.pr_k if pr else None, dc_k=o.dc_k if dc else None,
                            real_radii=radii)


def _mnist_score(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    return {"mnist_score": classes.mnist_score(fake.logits)}


def _class_kl(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    if ref.class_hist is None:
        raise GankitError("class_kl needs the reference's class histogram; use a classifier extractor (mnist)")
    return {"class_kl": classes.class_kl(fake.class_hist, ref.class_hist)}


def _class_acc(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    if fake.labels is None:
        raise GankitError("class_acc needs the class each sample was drawn for (fake_labels=...)")
    return {"class_acc": classes.class_accuracy(fake.logits.argmax(1), fake.labels)}


def _class_hist(fake: FeatureSet, ref: FeatureSet | None, o: EvalOptions, want: set[str]) -> dict[str, float]:
    return {f"class_hist_{i}": float(v) for i, v in enumerate(fake.class_hist)}


METRICS.add("fid", Metric(_fid, ("fid",)), "Fréchet distance of feature Gaussians (Heusel et al. 2017)")
METRICS.add("kid", Metric(_kid, ("kid", "kid_std")), "unbiased MMD^2, cubic kernel, over subsets (Binkowski et al. 2018)")
METRICS.add("is", Metric(_is, ("is", "is_std"), needs_ref=False, needs_logits=True),
            "Inception Score over splits (Salimans et al. 2016)")
for _name, _what in [("precision", "fraction of samples on the data manifold"),
                     ("recall", "fraction of data on the samples' manifold")]:
    METRICS.add(_name, Metric(_manifold, (_name,), group="knn"), f"improved {_name}, k=3 (Kynkäänniemi et al. "
                f"2019): {_what}")
for _name, _what in [("density", "mean count of data k-NN balls holding a sample, / k"),
                     ("coverage", "fraction of data k-NN balls holding a sample")]:
    METRICS.add(_name, Metric(_manifold, (_name,), group="knn"), f"{_name}, k=5 (Naeem et al. 2020): {_what}")
METRICS.add("mnist_score", Metric(_mnist_score, ("mnist_score",), needs_ref=False, needs_logits=True),
            "classifier-based IS of one split (TF-GAN's MNIST score), 1..10")
METRICS.add("class_kl", Metric(_class_kl, ("class_kl",), needs_logits=True),
            "KL(fake || data) of predicted-class histograms, nats")
METRICS.add("class_acc", Metric(_class_acc, ("class_acc",), needs_ref=False, needs_logits=True),
            "accuracy of class-conditional samples under the classifier")
METRICS.add("class_hist", Metric(_class_hist, (), needs_ref=False, needs_logits=True),
            "predicted-class fractions class_hist_0..K-1")


def parse_metrics(names: str | Iterable[str]) -> list[str]:
    """'fid,kid,pr' -> ['fid', 'kid', 'precision', 'recall'], validated, aliases expanded, order kept."""
    items = [s.strip() for s in names.split(",")] if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        if not item:
            continue
        for name in ALIASES.get(item, (item,)):
            if name not in METRICS:
                raise ConfigError(unknown_name_message("metric", name, METRICS.names()) + " (or pr, dc, prdc)")
            if name not in out:
                out.append(name)
    if not out:
        raise ConfigError("no metrics requested")
    return out


# ---------------------------------------------------------------------------------------------
# image sets


def default_data_root() -> str:
    return os.environ.get("GANKIT_DATA", "data")


def load_images(source: Any, data_root: str | None = None, split: str = "test") -> tuple[torch.Tensor, np.ndarray | None, str]:
    """Images as uint8 (N, C, H, W), labels or None, and a short name.

    ``source``: an ImageDataset; a tensor (uint8, or floats in [0, 1] when none is negative, else [-1, 1],
    clamped; N,C,H,W); a numpy array (any layout
    ``to_uint8_tensor`` reads); a dataset name with an optional split (``mnist``, ``mnist:train``); or a
    folder / .npy / .npz path. Float samples are rounded to uint8 first, exactly as if they had been
    saved to files, so in-memory and on-disk evaluations of the same samples agree.
    """
    if isinstance(source, ImageDataset):
        return source.images, _np_labels(source.labels), source.name or "dataset"
    if isinstance(source, torch.Tensor):
        if source.ndim != 4:
            raise DataError(f"images must be (N, C, H, W), got shape {tuple(source.shape)}")
        if source.dtype == torch.uint8:
            return source.cpu(), None, "images"
        x = source.detach().float().cpu()
        if not torch.isfinite(x).all():
            raise DataError("images contain NaN or Inf values")
        if x.min() >= 0 and x.max() <= 1:  # [0, 1] images, read as numpy arrays and files are
            return to_uint8_tensor(x.numpy(), "images"), None, "images"
        return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8), None, "images"
    if isinstance(source, np.ndarray):
        return to_uint8_tensor(source, "images"), None, "images"
    if isinstance(source, (str, Path)):
        text = str(source)
        name, _, sp = text.partition(":")
        if name in DATASETS and sp in ("", "train", "test"):
            cfg = DataConfig(name=name, root=data_root or default_data_root(), split=sp or split)
            ds = load_dataset(cfg)
            return ds.images, _np_labels(ds.labels), f"{name}-{sp or split}"
        ds = load_dataset(DataConfig(name=text))
        return ds.images, _np_labels(ds.labels), Path(text).stem or "images"
    raise DataError(f"cannot read images from {type(source).__name__}")


def _np_labels(labels: torch.Tensor | None) -> np.ndarray | None:
    return None if labels is None else labels.cpu().numpy()


# ---------------------------------------------------------------------------------------------
# evaluation


def reference_features(ref: Any, extractor: str | nn.Module | FeatureExtractor = "auto", *,
                       options: EvalOptions | None = None, device: str | torch.device = "cpu",
                       data_root: str | None = None, cache: bool = True, cache_dir: Path | None = None,
                       like: tuple[int, ...] | None = None) -> FeatureSet:
    """The reference FeatureSet of ``ref`` (images of any kind ``load_images`` reads, or a stats .npz),
    computed once and cached on disk. Keep it to evaluate many times against the same data.

    ``like``: the samples' image shape ((N,) C, H, W). Reference images of another size or channel
    count are converted to it first, so both sets reach the extractor through the same resampling
    (as training-time evaluation does), and samples are not penalised for the resampling alone.
    """
    o = options or EvalOptions()
    if isinstance(ref, FeatureSet):
        return ref
    if isinstance(ref, (str, Path)) and is_stats_file(Path(ref)):
        return FeatureSet.load(Path(ref))
    images, _, name = load_images(ref, data_root)
    if like is not None and tuple(images.shape[1:]) != tuple(like[-3:]):
        c, h, w = like[-3:]
        if h != w:
            raise DataError(f"samples are {h}x{w}, not square; the reference {name} cannot be brought to their size")
        warnings.warn(f"reference {name} is {images.shape[2]}x{images.shape[3]} with {images.shape[1]} channel(s); "
                      f"converting it to the samples' {h}x{w} with {c} to compare like with like", stacklevel=2)
        images = fit_images(images, h, c, name)
    ex = get_extractor(extractor, device, tuple(images.shape))
    return cached_reference(images, ex, name=name, keep=o.max_features, seed=o.seed, radii_k=(o.pr_k, o.dc_k),
                            batch_size=o.batch_size, use_cache=cache, directory=cache_dir)


def evaluate(fake: Any, ref: Any = None, metrics: str | Sequence[str] = DEFAULT_METRICS,
             extractor: str | nn.Module | FeatureExtractor = "auto", *, fake_labels: Any = None,
             device: str | torch.device = "cpu", options: EvalOptions | None = None, data_root: str | None = None,
             cache: bool = True, cache_dir: Path | None = None, **option_overrides: Any) -> dict[str, float]:
    """Evaluate generated images against reference data: ``{metric: value}``.

    fake:      images (tensor in [-1, 1] or uint8, numpy array, ImageDataset, dataset name, folder, .npz)
    ref:       the same kinds, a reference stats .npz, or a FeatureSet from ``reference_features``;
               only metrics that need no reference (is, mnist_score, class_acc) may omit it
    metrics:   names or a comma list: fid, kid, is, precision, recall, density, coverage, mnist_score,
               class_kl, class_acc, class_hist; aliases pr, dc, prdc
    extractor: "auto", "mnist", "inception", a torch module, or a FeatureExtractor
    fake_labels: the class each fake image was drawn for (class_acc)
    option_overrides: any EvalOptions field, e.g. kid_subsets=50
    """
    names = parse_metrics(metrics)
    o = options or EvalOptions()
    if option_overrides:
        unknown = set(option_overrides) - {f.name for f in fields(EvalOptions)}
        if unknown:
            raise ConfigError(f"unknown evaluation option(s) {sorted(unknown)}; "
                              f"choose from {[f.name for f in fields(EvalOptions)]}")
        o = replace(o, **option_overrides)
    chosen = [METRICS.get(n) for n in names]

    images, labels, _ = load_images(fake, data_root)
    if fake_labels is not None:
        labels = np.asarray(fake_labels.cpu() if isinstance(fake_labels, torch.Tensor) else fake_labels)
        if labels.shape != (len(images),):
            raise DataError(f"{len(labels)} fake labels for {len(images)} images")
    extractor_obj = get_extractor(extractor, device, tuple(images.shape))

    ref_set = None
    if any(m.needs_ref for m in chosen):
        if ref is None:
            need = [n for n, m in zip(names, chosen) if m.needs_ref]
            raise ConfigError(f"metric(s) {', '.join(need)} compare against data: give a reference (--ref)")
        ref_set = reference_features(ref, extractor_obj, options=o, device=device, data_root=data_root,
                                     cache=cache, cache_dir=cache_dir, like=tuple(images.shape))
        mine = f"{extractor_obj.name}/{extractor_obj.fingerprint()}"
        if ref_set.extractor != mine:
            raise GankitError(f"reference statistics were computed with extractor {ref_set.extractor}, not {mine}; "
                              f"recompute them with the same extractor")
        if ref_set.image_shape is not None and tuple(ref_set.image_shape) != tuple(images.shape[1:]):
            shape = "x".join(map(str, ref_set.image_shape))
            raise DataError(f"reference statistics were computed on {shape} (C x H x W) images, the samples are "
                            f"{'x'.join(map(str, images.shape[1:]))}; compare images of the same size")
    if any(m.needs_logits for m in chosen) and extractor_obj.num_classes is None:
        need = [n for n, m in zip(names, chosen) if m.needs_logits]
        raise GankitError(f"metric(s) {', '.join(need)} need class logits; extractor {extractor_obj.name!r} gives "
                          f"only features (use mnist or inception)")

    fake_set = build_feature_set(images, extractor_obj, keep=o.max_features, seed=o.seed + 1,
                                 batch_size=o.batch_size, labels=labels)
    if fake_set.mu is None and "fid" in names:
        raise DataError("FID needs at least 2 images")
    out: dict[str, float] = {}
    groups: dict[str, dict[str, float]] = {}  # one k-NN pass serves precision, recall, density, coverage
    for name, metric in zip(names, chosen):
        try:
            if metric.group:
                if metric.group not in groups:
                    want = {n for n, m in zip(names, chosen) if m.group == metric.group}
                    groups[metric.group] = metric.fn(fake_set, ref_set, o, want)
                out[name] = groups[metric.group][name]
            else:
                out.update(metric.fn(fake_set, ref_set, o, {name}))
        except ValueError as exc:  # the metrics' own checks: too few images for k, splits or subsets
            counts = f"{len(images)} samples" + (f", {ref_set.count} reference images" if ref_set else "")
            raise DataError(f"{name}: {exc} ({counts})") from None
    return out


def classify(images: Any, device: str | torch.device = "cpu", batch_size: int = 500) -> torch.Tensor:
    """Predicted digit (int64, (N,)) of each image under the built-in MNIST classifier."""
    imgs, _, _ = load_images(images)
    ex = get_extractor("mnist", device)
    out = ex.extract(imgs, batch_size)
    return torch.from_numpy(out.logits.argmax(1).astype(np.int64))
