"""User data: image folders (class subfolders become labels) and .npy/.npz arrays."""

from __future__ import annotations

import errno
import math
import os
import stat
import tokenize
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.dataset import ImageDataset, check_memory, fit_images, to_uint8_tensor
from gankit.errors import DataError, first_line
from gankit.utils import available_memory

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
_MODE_CHANNELS = {"1": 1, "L": 1, "I;16": 1, "I": 1, "F": 1, "LA": 1, "P": 3, "RGB": 3, "RGBA": 3, "CMYK": 3,
                  "YCbCr": 3}


def data_path_kind(path: Path) -> str:
    """'folder' or 'file'; anything else is refused here, since opening a FIFO or a terminal blocks for
    ever, and ``Path.exists`` calls a symlink loop missing."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"dataset path {path} is a symlink loop (following its links leads back to them)") \
                from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = f" (a symlink to the missing {os.readlink(path)})" if path.is_symlink() else ""
            raise DataError(f"dataset path not found: {path}{broken}") from None
        raise DataError(f"cannot read dataset path {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    what = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device file" if stat.S_ISCHR(mode) or
            stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise DataError(f"dataset path {path} is {what}; expected an image folder, a .npy or a .npz file")


def load_folder(root: Path, resolution: int | None, channels: int | None) -> ImageDataset:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"image folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    rel_parents = [f.relative_to(root).parts[:-1] for f in files]
    labelled = all(rel_parents)
    class_names = sorted({parts[0] for parts in rel_parents}) if labelled else []

    pil_images: list[Image.Image] = []
    free, decoded = available_memory(), 0  # each image is within PIL's bounds; all of them must fit too
    for f in files:
        try:
            with warnings.catch_warnings():  # a header claiming a huge image is refused before decoding
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    decoded += im.width * im.height * len(im.getbands())
                    if free is not None and decoded > free:
                        check_memory(decoded, f"image folder {root}: decoding {len(files)} images",
                                     "use fewer or smaller images")
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
    # the resized arrays, their stack and its tensor copy
    check_memory(3 * len(pil_images) * channels * resolution * resolution,
                 f"image folder {root}: resizing {len(pil_images)} images to {resolution}x{resolution}",
                 "lower data.resolution")
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
IMAGE_KEYS, LABEL_KEYS = ("images", "x", "arr_0"), ("labels", "y")  # what an .npz may call them, in order


def _array_header(fh) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = read(fh)
    return shape, dtype


def _stored_arrays(path: Path, npz: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of each array in a .npy (key "") or .npz, from the headers alone: nothing is
    decompressed (an 875 KB .npz of zeros can expand to 2 GB)."""
    if not npz:
        with open(path, "rb") as fh:
            return {"": _array_header(fh)}
    found = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith(".npy"):
                with zf.open(name) as member:
                    found[name[: -len(".npy")]] = _array_header(member)
    return found


def _check_array_memory(path: Path, arrays: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """What loading the images (and labels) holds at once, checked before any of it is read."""
    image_key = "" if "" in arrays else next((k for k in IMAGE_KEYS if k in arrays), None)
    label_key = None if "" in arrays else next((k for k in LABEL_KEYS if k in arrays), None)
    if image_key is None:
        return  # no images: load_array says so
    shape, dtype = arrays[image_key]
    # the array, its uint8 copy, and a float64 copy while floats or wider integers are converted
    need = math.prod(shape) * (dtype.itemsize + 1 + (0 if dtype == np.uint8 else 8))
    if label_key is not None:
        label_shape, label_dtype = arrays[label_key]
        need += math.prod(label_shape) * (label_dtype.itemsize + 8)  # and their int64 copy
    check_memory(need, f"{path}: loading {len(shape) and shape[0]} images of shape {shape} ({dtype})",
                 "store fewer or smaller images per file")


def load_array(path: Path, resolution: int | None, channels: int | None) -> ImageDataset:
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
        if not head.startswith(_ARRAY_MAGIC):
            raise DataError(f"{path} is not a NumPy .npy/.npz file (it does not start with their magic bytes)")
        arrays = _stored_arrays(path, npz=not head.startswith(_ARRAY_MAGIC[0]))
        _check_array_memory(path, arrays)
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile, zlib.error,
            NotImplementedError) as exc:  # a damaged .npy header or .npz archive
        raise DataError(f"cannot read array file {path}: {first_line(exc)}") from None
    labels = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            img_key = next((k for k in IMAGE_KEYS if k in keys), None)
            if img_key is None:
                raise DataError(f"{path}: no 'images' array (keys: {', '.join(keys) or 'none'})")
            try:
                array = loaded[img_key]
                lbl_key = next((k for k in LABEL_KEYS if k in keys), None)
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
