"""User data: image folders (class subfolders become labels) and .npy/.npz arrays."""

from __future__ import annotations

import tokenize
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.dataset import ImageDataset, fit_images, to_uint8_tensor
from gankit.errors import DataError, first_line

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
_MODE_CHANNELS = {"1": 1, "L": 1, "I;16": 1, "I": 1, "F": 1, "LA": 1, "P": 3, "RGB": 3, "RGBA": 3, "CMYK": 3,
                  "YCbCr": 3}


def load_folder(root: Path, resolution: int | None, channels: int | None) -> ImageDataset:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"image folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    rel_parents = [f.relative_to(root).parts[:-1] for f in files]
    labelled = all(rel_parents)
    class_names = sorted({parts[0] for parts in rel_parents}) if labelled else []

    pil_images: list[Image.Image] = []
    for f in files:
        try:
            with warnings.catch_warnings():  # a header claiming a huge image is refused before decoding
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    im.load()
                    pil_images.append(im.copy())
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DataError(f"cannot read image {f}: {first_line(exc)}") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"cannot read image {f}: {first_line(exc)}") from None

    modes = Counter(_MODE_CHANNELS.get(im.mode, 3) for im in pil_images)
    if channels is None:
        if len(modes) > 1:
            raise DataError(f"image folder {root} mixes grayscale ({modes[1]}) and colour ({modes[3]}) images; "
                            f"set data.channels to 1 or 3 to convert them")
        channels = next(iter(modes))
    sizes = Counter(im.size for im in pil_images)
    if resolution is None:
        if len(sizes) > 1:
            (a, na), (b, nb) = sizes.most_common(2)
            raise DataError(f"image folder {root} mixes image sizes ({a[0]}x{a[1]}: {na}, {b[0]}x{b[1]}: {nb}, ...); "
                            f"set data.resolution to resize them")
        w, h = next(iter(sizes))
        if w != h:
            raise DataError(f"images in {root} are {w}x{h}, not square; set data.resolution to crop and resize")
        resolution = w

    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(_square(im.convert(mode), resolution)) for im in pil_images]
    stacked = np.stack(arrays)  # (N, H, W) or (N, H, W, 3): say so, tiny images are ambiguous to guess
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    images = to_uint8_tensor(stacked, str(root))
    labels = None
    if labelled:
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[parts[0]] for parts in rel_parents], dtype=torch.int64)
    return ImageDataset(images, labels, len(class_names), name=str(root), class_names=class_names)


def _square(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize with a proper low-pass filter."""
    w, h = im.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    return im if im.size == (size, size) else im.resize((size, size), Image.BICUBIC)


_ARRAY_MAGIC = (b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")  # .npy, .npz (an empty .npz has no entries)


def load_array(path: Path, resolution: int | None, channels: int | None) -> ImageDataset:
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
        if not head.startswith(_ARRAY_MAGIC):
            raise DataError(f"{path} is not a NumPy .npy/.npz file (it does not start with their magic bytes)")
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile,
            NotImplementedError) as exc:  # a damaged .npy header or .npz archive
        raise DataError(f"cannot read array file {path}: {first_line(exc)}") from None
    labels = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            img_key = next((k for k in ("images", "x", "arr_0") if k in keys), None)
            if img_key is None:
                raise DataError(f"{path}: no 'images' array (keys: {', '.join(keys) or 'none'})")
            try:
                array = loaded[img_key]
                lbl_key = next((k for k in ("labels", "y") if k in keys), None)
                labels = None if lbl_key is None else loaded[lbl_key]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
                raise DataError(f"cannot read array file {path}: {first_line(exc)}") from None
    else:
        array = loaded
    images = to_uint8_tensor(array, str(path))
    label_tensor = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{path}: labels of shape {labels.shape} do not match {len(images)} images")
        if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
            raise DataError(f"{path}: labels must be non-negative integers, got dtype {labels.dtype}")
        label_tensor = torch.from_numpy(labels.astype(np.int64))
    images = fit_images(images, resolution, channels, str(path))
    h, w = images.shape[2:]
    if h != w:
        raise DataError(f"images in {path} are {w}x{h}, not square; set data.resolution to crop and resize")
    return ImageDataset(images, label_tensor, name=str(path))
