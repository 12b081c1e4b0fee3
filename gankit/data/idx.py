"""MNIST-family datasets in the IDX format, laid out as torchvision does (ROOT/NAME/raw/*.gz).

Local files are used as they are; missing files are downloaded from the official mirrors and checked
against their published MD5 before they are put in place.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import DataError
from gankit.utils import atomic_path

# name -> (folder, mirrors, {file: md5}) ; checksums as published with torchvision.
SOURCES: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "mnist": ("MNIST", ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"], {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    "fashion-mnist": ("FashionMNIST", ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"], {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
}

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzipped or not), validating magic number, dimensions and length."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or not 1 <= raw[3] <= 4:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (header needs {header} bytes, file has {len(raw)})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path} is truncated or padded: dims {dims} need {expected} data bytes, "
                        f"found {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def load_idx_dataset(name: str, root: str | Path, split: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    folder, mirrors, files = SOURCES[name]
    raw_dir = Path(root).expanduser() / folder / "raw"
    prefix = "train" if split == "train" else "t10k"
    img_file, lbl_file = f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"
    paths = []
    for fname in (img_file, lbl_file):
        path = _find(raw_dir, fname)
        if path is None:
            if not download:
                raise DataError(f"{name}: {raw_dir / fname} not found; put the IDX files in {raw_dir} "
                                f"(or pass --data-root)")
            path = _download(name, raw_dir, fname, mirrors, files[fname])
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{paths[0]}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{paths[1]}: {labels.shape[0] if labels.ndim else 0} labels do not match "
                        f"{len(images)} images in {paths[0]}")
    return images, labels.astype(np.int64)


def _find(raw_dir: Path, fname: str) -> Path | None:
    for candidate in (raw_dir / fname, raw_dir / fname.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _download(name: str, raw_dir: Path, fname: str, mirrors: list[str], md5: str) -> Path:
    target = raw_dir / fname
    errors = []
    for mirror in mirrors:
        url = mirror + fname
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                data = resp.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        digest = hashlib.md5(data).hexdigest()
        if digest != md5:
            errors.append(f"{url}: checksum mismatch (md5 {digest}, expected {md5})")
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        return target
    raise DataError(f"{name}: {target} not found and download failed ({errors[0] if errors else 'no mirror'}); "
                    f"offline? put the IDX files in {raw_dir} or pass --data-root")
