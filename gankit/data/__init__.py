"""Datasets by name or path, as in-memory uint8 tensors with labels when known.

``load_dataset(DataConfig)`` is the one entry point: a registered name (``digits``, ``mnist``,
``fashion-mnist``), an image folder, or an ``.npy``/``.npz`` file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data.dataset import BatchSampler, ImageDataset, fit_images, to_uint8_tensor
from gankit.data.files import data_path_kind, load_array, load_folder
from gankit.data.idx import CLASS_NAMES, load_idx_dataset
from gankit.data.photos import load_photos
from gankit.data.select import SelectedDataset, select
from gankit.errors import DataError
from gankit.registry import IMPORT_PATH, Registry, unknown_name_message

# A plugin (``--data mypkg.data:load``) is a function from the data config to an ImageDataset.
DATASETS: Registry[Callable[[DataConfig], ImageDataset]] = Registry("dataset", plugins=True)

__all__ = ["DATASETS", "BatchSampler", "ImageDataset", "SelectedDataset", "load_dataset"]


@DATASETS.register("digits", "scikit-learn's 8x8 handwritten digits (1,797 images, embedded, offline), resized")
def _digits(cfg: DataConfig) -> ImageDataset:
    from sklearn.datasets import load_digits  # scikit-learn loads in a second; only for this dataset

    bunch = load_digits()
    rng = np.random.default_rng(0)  # a fixed train/test split: 80/20
    order = rng.permutation(len(bunch.images))
    cut = int(0.8 * len(order))
    idx = order[:cut] if cfg.split == "train" else order[cut:]
    images = to_uint8_tensor(bunch.images[idx] / 16.0, "digits")
    images = fit_images(images, cfg.resolution or 28, cfg.channels, "digits")
    labels = torch.from_numpy(bunch.target[idx].astype(np.int64))
    return ImageDataset(images, labels, 10, "digits", [str(i) for i in range(10)])


def _idx_loader(name: str) -> Callable[[DataConfig], ImageDataset]:
    def load(cfg: DataConfig) -> ImageDataset:
        images, labels = load_idx_dataset(name, cfg.root, cfg.split, cfg.download)
        tensor = fit_images(to_uint8_tensor(images, name), cfg.resolution, cfg.channels, name)
        return ImageDataset(tensor, torch.from_numpy(labels), 10, name, CLASS_NAMES[name])

    return load


DATASETS.add("mnist", _idx_loader("mnist"), "MNIST handwritten digits, 28x28 (ROOT/MNIST/raw, downloaded if missing)")
DATASETS.add("fashion-mnist", _idx_loader("fashion-mnist"),
             "Fashion-MNIST clothing, 28x28 (ROOT/FashionMNIST/raw, downloaded if missing)")
DATASETS.add("photos", load_photos, "32x32 RGB patches of scikit-learn's two sample photographs (offline; train: "
             "left 80 %, test: right 20 %)")


def load_dataset(cfg: DataConfig) -> ImageDataset:
    if cfg.name in DATASETS or (IMPORT_PATH.fullmatch(cfg.name) and not Path(cfg.name).exists()):
        ds = DATASETS.get(cfg.name)(cfg)
        if not isinstance(ds, ImageDataset):
            raise DataError(f"dataset {cfg.name!r} returned a {type(ds).__name__}, not a gankit.data.ImageDataset")
    else:
        path = Path(cfg.name).expanduser()
        looks_like_path = any(ch in cfg.name for ch in "/\\.") or os.path.lexists(path)
        if not looks_like_path:
            raise DataError(unknown_name_message("dataset", cfg.name, DATASETS.names()) + ", or a path")
        if data_path_kind(path) == "folder":
            ds = load_folder(path, cfg.resolution, cfg.channels)
        elif path.suffix.lower() in (".npy", ".npz"):
            ds = load_array(path, cfg.resolution, cfg.channels)
        else:
            raise DataError(f"cannot load {path}: expected an image folder, a .npy or a .npz file")
    return select(ds.subset(cfg.limit) if cfg.limit else ds, cfg)  # data.classes, data.labels_per_class
