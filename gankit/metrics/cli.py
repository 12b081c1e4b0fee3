"""``gankit eval`` (its parser is in gankit.app.cli): a thin layer over ``gankit.metrics.evaluate``."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from gankit.data import DATASETS, load_dataset
from gankit.engine.rundir import load_run
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate, load_images, parse_metrics, reference_features
from gankit.metrics.extractors import get_extractor
from gankit.metrics.extractors.inception import download_weights
from gankit.utils import atomic_write_text, resolve_device

DEFAULT_RUN_SAMPLES = 10000


def _source(args: argparse.Namespace):
    """(images or dataset spec, labels, default reference, description) for SOURCE."""
    src = Path(args.source)
    if src.is_dir() and (src / "config.yaml").is_file() and (src / "run.json").is_file():
        run = load_run(src, args.checkpoint, args.device)
        n = args.num_samples or DEFAULT_RUN_SAMPLES
        labels = None
        if run.num_classes:  # balanced classes, so class_acc covers every class
            labels = torch.arange(n) % run.num_classes
        images = run.sample(n, seed=args.seed, y=labels)
        ref = None
        if args.ref is None:  # the run's dataset: its test split at the run's resolution and channels
            data = run.config.data
            update = {"limit": None, **({"split": "test"} if data.name in DATASETS else {}),
                      **({"root": args.data_root} if args.data_root else {})}
            ref = load_dataset(data.model_copy(update=update))
        return images, labels, ref, f"{n} samples from {src}"
    if not os.path.lexists(src) and ":" not in args.source and "/" in args.source:  # a symlink loop: load_dataset says so
        raise GankitError(f"source not found: {src}")
    return args.source, None, None, str(args.source)


def run(args: argparse.Namespace) -> int:
    if args.num_samples is not None and args.num_samples <= 0:
        raise GankitError(f"--num-samples must be positive, got {args.num_samples}")
    if args.batch_size <= 0:
        raise GankitError(f"--batch-size must be positive, got {args.batch_size}")
    resolve_device(args.device)  # an unknown or absent device fails here, before anything is computed or cached
    names = parse_metrics(args.metrics)  # fail on a typo before any work
    if args.inception_weights:
        os.environ["GANKIT_INCEPTION_WEIGHTS"] = args.inception_weights
    if args.download:
        print(f"InceptionV3 weights: {download_weights()}")
    t0 = time.perf_counter()
    fake, labels, default_ref, what = _source(args)
    ref = args.ref or default_ref
    shown_ref = args.ref
    if shown_ref is None and default_ref is not None:
        shown_ref = f"{default_ref.name} (the run's dataset; test split if it has one)"
    images, file_labels, _ = load_images(fake, args.data_root)
    if args.num_samples is not None and isinstance(fake, str) and args.num_samples < len(images):
        images = images[: args.num_samples]  # the first N of a folder, array or dataset
        file_labels = None if file_labels is None else file_labels[: args.num_samples]
        what = f"the first {args.num_samples} images of {what}"
    extractor = get_extractor(args.extractor, args.device, tuple(images.shape))
    ref_set = None
    if ref is not None:
        ref_set = reference_features(ref, extractor, device=args.device, data_root=args.data_root,
                                     cache=not args.no_cache, like=tuple(images.shape))
        if args.save_ref:
            ref_set.save(Path(args.save_ref))
            print(f"saved reference statistics to {args.save_ref}")
    results = evaluate(images, ref_set, names, extractor, fake_labels=labels if labels is not None else file_labels,
                       device=args.device, batch_size=args.batch_size)
    seconds = time.perf_counter() - t0
    _print_table(results, what, shown_ref, extractor.name, len(images), seconds)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(results, indent=2) + "\n")
    return 0


MEANING = {"fid": "lower is better", "kid": "lower is better (mean ± std over subsets)", "is": "higher is better",
           "precision": "samples on the data manifold", "recall": "data covered by samples",
           "density": "~1 for data-like samples", "coverage": "data balls holding a sample",
           "mnist_score": "1..10, higher is better", "class_kl": "0 = same class mix as data",
           "class_acc": "samples classified as their class"}


def _print_table(results: dict[str, float], what: str, ref: str | None, extractor: str, n: int,
                 seconds: float) -> None:
    table = Table(title=f"{what} vs {ref or '(no reference)'} - extractor {extractor}, {n} images, "
                        f"{seconds:.1f}s")
    for col in ("metric", "value", ""):
        table.add_column(col)
    for key, value in results.items():
        if key.endswith("_std"):
            continue
        shown = f"{value:.4f}"
        if f"{key}_std" in results:
            shown = f"{value:.4f} ± {results[key + '_std']:.4f}"
        table.add_row(key, shown, MEANING.get(key, ""))
    Console().print(table)
