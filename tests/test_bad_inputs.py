"""The bad-input catalogue: every case must end in one line naming the problem, a non-zero exit, no
traceback, and nothing partial written. Cases run the real CLI in-process (``gankit.app.cli.main``); a few
are repeated in a subprocess at the end to prove that no traceback reaches the terminal.

docs/reliability.md lists these cases; keep the two in step.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from bad_input_helpers import unblock_fifo_after
from PIL import Image

from gankit.app.cli import main
from gankit.engine.checkpoint import list_checkpoints

REPO = Path(__file__).resolve().parents[1]
TINY = ["--steps", "2", "--batch-size", "4", "--quiet", "--set", "model.width=8", "--set", "model.z_dim=8",
        "--set", "log.n_samples=4", "--set", "data.limit=40"]

CASES: dict[str, tuple[str, object]] = {}


@pytest.fixture(autouse=True)
def _one_thread():
    # The cores are shared: one thread avoids OpenMP oversubscription, which made these tiny runs 10-20x
    # slower under load (tests/conftest.py restores the thread count afterwards).
    torch.set_num_threads(1)


def case(name: str, needle: str):
    """Register ``setup(tmp, run) -> argv``: the error line must contain ``needle`` (case-insensitive)."""
    def register(setup):
        CASES[name] = (needle, setup)
        return setup
    return register


def _png(path: Path, size=(8, 8), mode="L", value=128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode in ("L", "1") else (value,) * len(mode)).save(path)
    return path


def _npy(path: Path, array) -> Path:
    np.save(path, array, allow_pickle=True)
    return path


def _train(tmp: Path, run: Path, data: str | Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(run), *TINY, *extra]


# ---------------------------------------------------------------------------------------------
# image folders


@case("corrupt PNG", "cannot read image")
def _(tmp, run):
    _png(tmp / "imgs" / "a.png")
    (tmp / "imgs" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return _train(tmp, run, tmp / "imgs")


@case("truncated PNG", "cannot read image")
def _(tmp, run):
    good = _png(tmp / "imgs" / "a.png", size=(64, 64))
    noisy = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(noisy).save(tmp / "imgs" / "b.png")
    data = (tmp / "imgs" / "b.png").read_bytes()
    (tmp / "imgs" / "b.png").write_bytes(data[: len(data) // 2])
    del good
    return _train(tmp, run, tmp / "imgs")


@case("empty folder", "holds no images")
def _(tmp, run):
    (tmp / "imgs").mkdir()
    (tmp / "imgs" / "notes.txt").write_text("not an image")
    return _train(tmp, run, tmp / "imgs")


@case("mixed image sizes", "mixes image sizes")
def _(tmp, run):
    _png(tmp / "imgs" / "a.png", (8, 8))
    _png(tmp / "imgs" / "b.png", (16, 16))
    return _train(tmp, run, tmp / "imgs")


@case("grayscale and RGB mixed", "mixes grayscale")
def _(tmp, run):
    _png(tmp / "imgs" / "a.png", mode="L")
    _png(tmp / "imgs" / "b.png", mode="RGB")
    return _train(tmp, run, tmp / "imgs")


@case("grayscale and RGBA mixed", "mixes grayscale")
def _(tmp, run):
    _png(tmp / "imgs" / "a.png", mode="L")
    _png(tmp / "imgs" / "b.png", mode="RGBA")
    return _train(tmp, run, tmp / "imgs")


@case("non-square images", "not square")
def _(tmp, run):
    _png(tmp / "imgs" / "a.png", (8, 12))
    return _train(tmp, run, tmp / "imgs")


# ---------------------------------------------------------------------------------------------
# arrays


@case("NaN in an .npy", "images contain NaN or Inf")
def _(tmp, run):
    a = np.zeros((10, 8, 8), np.float32)
    a[3, 2, 1] = np.nan
    return _train(tmp, run, _npy(tmp / "x.npy", a))


@case("wrong array rank", "expected images of shape")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.zeros((10, 64), np.uint8)))


@case("wrong channel count", "1, 3 or 4 channels")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.zeros((10, 8, 8, 2), np.uint8)))


@case("images without pixels (0x0)", "no pixels")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.zeros((5, 0, 0), np.uint8)))


@case("empty array", "x.npy: holds no images")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.zeros((0, 8, 8), np.uint8)))


@case("object array (would need pickle)", "cannot be loaded when allow_pickle=False")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.array([{"a": 1}, None], dtype=object)))


@case("integer pixels out of range", "integer images must lie in [0, 255]")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.full((10, 8, 8), 300, np.int32)))


@case("float pixels out of range", "float images must lie in [0, 1] or [-1, 1]")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.full((10, 8, 8), 7.5, np.float32)))


@case("labels that don't match images (.npz)", "labels of shape (9,) do not match 10 images")
def _(tmp, run):
    np.savez(tmp / "x.npz", images=np.zeros((10, 8, 8), np.uint8), labels=np.arange(9))
    return _train(tmp, run, tmp / "x.npz")


@case("negative labels", "labels must be non-negative")
def _(tmp, run):
    np.savez(tmp / "x.npz", images=np.zeros((10, 8, 8), np.uint8), labels=-np.ones(10, np.int64))
    return _train(tmp, run, tmp / "x.npz")


@case(".npz without images", "no 'images' array")
def _(tmp, run):
    np.savez(tmp / "x.npz", pictures=np.zeros((10, 8, 8), np.uint8))
    return _train(tmp, run, tmp / "x.npz")


@case("corrupt .npy", "cannot read array file")
def _(tmp, run):
    (tmp / "x.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    return _train(tmp, run, tmp / "x.npy")


@case("unsupported data file", "expected an image folder")
def _(tmp, run):
    (tmp / "x.txt").write_text("1 2 3")
    return _train(tmp, run, tmp / "x.txt")


@case("dataset path not found", "dataset path not found")
def _(tmp, run):
    return _train(tmp, run, tmp / "nowhere" / "x.npy")


@case("FIFO as --data (would block for ever)", "x.npy is a FIFO (named pipe)")
def _(tmp, run):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(tmp / "x.npy")
    unblock_fifo_after(tmp / "x.npy", seconds=20)  # a regression then fails on the garbage instead of hanging
    return _train(tmp, run, tmp / "x.npy")


@case("device file as --data (x.npy -> /dev/zero)", "x.npy is a device file")
def _(tmp, run):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this system")
    (tmp / "x.npy").symlink_to("/dev/zero")
    return _train(tmp, run, tmp / "x.npy")


@case("symlink loop as --data", "x.npy is a symlink loop")
def _(tmp, run):
    (tmp / "x.npy").symlink_to(tmp / "y.npy")
    (tmp / "y.npy").symlink_to(tmp / "x.npy")
    return _train(tmp, run, tmp / "x.npy")


@case(".npy whose header claims 50 TB", "loading 1000000 images of shape (1000000, 3, 4096, 4096) (uint8) needs 91.6 TB")
def _(tmp, run):
    with open(tmp / "x.npy", "wb") as fh:  # a header alone, as a damaged or malicious file can be
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10**6, 3, 4096, 4096)})
    return _train(tmp, run, tmp / "x.npy")


@case(".npz that decompresses beyond memory", "x.npz: loading 2000 images of shape (2000, 1, 512, 512) (uint8) needs")
def _(tmp, run):
    np.savez_compressed(tmp / "x.npz", images=np.zeros((2000, 1, 512, 512), np.uint8))  # 0.5 MB -> 500 MB
    _PATCHES.append(("gankit.utils.available_memory", lambda: 100 * 2**20))
    return _train(tmp, run, tmp / "x.npz")


@case("unknown dataset name", "unknown dataset 'mnits'")
def _(tmp, run):
    return _train(tmp, run, "mnits")


@case("text file named .npy", "is not a NumPy .npy/.npz file")
def _(tmp, run):
    (tmp / "x.npy").write_text("1 2 3\n4 5 6\n")
    return _train(tmp, run, tmp / "x.npy")


@case("absurd class label (10⁹)", "labels go up to")
def _(tmp, run):
    np.savez(tmp / "x.npz", images=np.zeros((40, 8, 8), np.uint8), labels=np.array([0] * 39 + [10**9]))
    return _train(tmp, run, tmp / "x.npz", "--set", "model.conditional=true")


@case("decompression bomb (PNG header claims 50000x50000)", "decompression bomb")
def _(tmp, run):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    _png(tmp / "imgs" / "a.png")
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0))
    (tmp / "imgs" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b""))
                                         + chunk(b"IEND", b""))
    return _train(tmp, run, tmp / "imgs")


# ---------------------------------------------------------------------------------------------
# IDX (MNIST-format) files


def _idx_root(tmp: Path, images: bytes, labels: bytes) -> Path:
    raw = tmp / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    return tmp / "root"


def _idx(dims: list[int], data: bytes, dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + data


@case("truncated IDX file", "is truncated or padded")
def _(tmp, run):
    root = _idx_root(tmp, _idx([10, 8, 8], bytes(10 * 64))[:-100], _idx([10], bytes(10)))
    return _train(tmp, run, "mnist", "--data-root", str(root), "--set", "data.download=false")


@case("wrong-magic IDX file", "not an IDX file")
def _(tmp, run):
    root = _idx_root(tmp, b"\x89PNG" + bytes(200), _idx([10], bytes(10)))
    return _train(tmp, run, "mnist", "--data-root", str(root), "--set", "data.download=false")


@case("IDX labels that don't match images", "7 labels do not match 10 images")
def _(tmp, run):
    root = _idx_root(tmp, _idx([10, 8, 8], bytes(10 * 64)), _idx([7], bytes(7)))
    return _train(tmp, run, "mnist", "--data-root", str(root), "--set", "data.download=false")


@case("MNIST missing with download off", "not found; put the IDX files in")
def _(tmp, run):
    return _train(tmp, run, "mnist", "--data-root", str(tmp / "empty"), "--set", "data.download=false")


# ---------------------------------------------------------------------------------------------
# sizes and config values


@case("batch size larger than the dataset", "larger than the dataset")
def _(tmp, run):
    return _train(tmp, run, _npy(tmp / "x.npy", np.zeros((3, 28, 28), np.uint8)))


@case("negative batch size", "train.batch_size: Input should be greater than 0")
def _(tmp, run):
    return _train(tmp, run, "digits", "--batch-size", "-4")


@case("zero steps", "train.steps: Input should be greater than 0")
def _(tmp, run):
    return _train(tmp, run, "digits", "--steps", "0")


@case("negative resolution", "data.resolution: Input should be greater than or equal to 4")
def _(tmp, run):
    return _train(tmp, run, "digits", "--resolution", "-28")


@case("--resolution 1024 beyond memory", "digits: resizing 1437 images to 1024x1024 needs 2.2 GB of memory, but only 1.0 GB")
def _(tmp, run):
    _PATCHES.append(("gankit.utils.available_memory", lambda: 2**30))
    return _train(tmp, run, "digits", "--resolution", "1024")


@case("unknown recipe", "unknown recipe 'dcgna'")
def _(tmp, run):
    return _train(tmp, run, "digits", "--recipe", "dcgna")


@case("typo in a config key (--set)", "did you mean 'train.batch_size'")
def _(tmp, run):
    return _train(tmp, run, "digits", "--set", "train.bach_size=4")


@case("typo in a config file", "did you mean 'optim.lr_d'")
def _(tmp, run):
    (tmp / "c.yaml").write_text(yaml.safe_dump({"optim": {"lr_dd": 1e-3}}))
    return _train(tmp, run, "digits", "--config", str(tmp / "c.yaml"))


@case("out-of-range learning rate", "optim.lr_g: Input should be less than or equal to 1")
def _(tmp, run):
    return _train(tmp, run, "digits", "--lr", "5")


@case("negative learning rate", "optim.lr_g: Input should be greater than 0")
def _(tmp, run):
    return _train(tmp, run, "digits", "--lr=-1e-4")


@case("wrong value type", "train.steps: Input should be a valid integer")
def _(tmp, run):
    return _train(tmp, run, "digits", "--set", "train.steps=many")


@case("unreadable duration", "cannot read duration '10 minutes'")
def _(tmp, run):
    return _train(tmp, run, "digits", "--max-time", "10 minutes")


@case("unknown command-line flag", "unrecognized arguments")
def _(tmp, run):
    return _train(tmp, run, "digits", "--lr-g", "1e-3")


@case("--set without =", "section.key=value")
def _(tmp, run):
    return _train(tmp, run, "digits", "--set", "optim.lr_d")


@case("unknown architecture", "unknown generator 'transformer'")
def _(tmp, run):
    return _train(tmp, run, "digits", "--set", "model.generator=transformer")


@case("config file not found", "config file not found")
def _(tmp, run):
    return _train(tmp, run, "digits", "--config", str(tmp / "missing.yaml"))


@case("config file with broken YAML", "cannot read config file")
def _(tmp, run):
    (tmp / "c.yaml").write_text("train: [unclosed\n")
    return _train(tmp, run, "digits", "--config", str(tmp / "c.yaml"))


@case("config section that is not a mapping (ema: fast)", "ema: Input should be a valid dictionary")
def _(tmp, run):
    (tmp / "c.yaml").write_text("ema: fast\n")
    return _train(tmp, run, "digits", "--config", str(tmp / "c.yaml"))


@case("recipe that is not a name (recipe: [dcgan])", "recipe must be a recipe name")
def _(tmp, run):
    (tmp / "c.yaml").write_text("recipe: [dcgan]\n")
    return _train(tmp, run, "digits", "--config", str(tmp / "c.yaml"))


@case("infinite epochs (--epochs inf)", "train.epochs: Input should be a finite number")
def _(tmp, run):
    return ["train", "--data", "digits", "--out", str(run), "--epochs", "inf", "--quiet"]


@case("config from a newer gankit", "written by a newer gankit")
def _(tmp, run):
    (tmp / "c.yaml").write_text("version: 99\n")
    return _train(tmp, run, "digits", "--config", str(tmp / "c.yaml"))


@case("CUDA requested but absent", "'cuda' requested but CUDA is not available")
def _(tmp, run):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    return _train(tmp, run, "digits", "--device", "cuda")


@case("unknown device (sample --device foo)", "unknown device 'foo' (--device); choose from auto, cpu, cuda")
def _(tmp, run):
    return ["sample", str(_trained(tmp, "mine")), "-n", "4", "--out", str(tmp / "out.png"), "--device", "foo"]


@case("unknown device (interpolate --device foo)", "unknown device 'foo' (--device); choose from auto, cpu, cuda")
def _(tmp, run):
    return ["interpolate", str(_trained(tmp, "mine")), "--out", str(tmp / "out.png"), "--device", "foo"]


@case("unknown device (eval --device foo)", "unknown device 'foo' (--device); choose from auto, cpu, cuda")
def _(tmp, run):
    return ["eval", "digits", "--ref", "digits:train", "--device", "foo", "--json", str(tmp / "out.json")]


@case("eval on CUDA without CUDA", "'cuda' requested but CUDA is not available")
def _(tmp, run):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    return ["eval", "digits", "--ref", "digits:train", "--device", "cuda", "--json", str(tmp / "out.json")]


@case("eval with --batch-size 0", "--batch-size must be positive, got 0")
def _(tmp, run):
    return ["eval", "digits", "--ref", "digits:train", "--batch-size", "0", "--json", str(tmp / "out.json")]


@case("eval with a negative --batch-size", "--batch-size must be positive, got -5")
def _(tmp, run):
    return ["eval", "digits", "--ref", "digits:train", "--batch-size=-5", "--json", str(tmp / "out.json")]


@case("extractor that is any callable (--extractor os:system)", "extractor 'os:system' is a builtin_function_or_method, "
                                                                "not a torch module")
def _(tmp, run):
    return ["eval", "digits", "--ref", "digits:train", "--extractor", "os:system", "--metrics", "fid",
            "--json", str(tmp / "out.json")]


# ---------------------------------------------------------------------------------------------
# output directory and disk


@case("output directory not empty", "already exists and is not empty")
def _(tmp, run):
    run.mkdir()
    (run / "mine.txt").write_text("someone else's file")
    return _train(tmp, run, "digits")


@case("--out is an existing file", "is a file, not a directory")
def _(tmp, run):
    (tmp / "afile").write_text("mine")
    return _train(tmp, tmp / "afile", "digits")


@case("read-only output directory", "cannot create run directory")
def _(tmp, run):
    parent = tmp / "ro"
    parent.mkdir()
    _make_read_only(parent)
    return _train(tmp, parent / "run", "digits")


@case("disk full (simulated ENOSPC)", "disk full")
def _(tmp, run):
    _DISK_FULL.append(True)
    return _train(tmp, run, "digits")


# ---------------------------------------------------------------------------------------------
# runs and checkpoints (a small trained run is copied in)


@case("checkpoint from an incompatible architecture", "does not fit this architecture")
def _(tmp, run):
    other = _trained(tmp, "other", "--set", "model.width=16")
    mine = _trained(tmp, "mine")
    return ["sample", str(mine), "--checkpoint", str(list_checkpoints(other)[-1]), "-n", "4",
            "--out", str(tmp / "out.png")]


@case("run directory from a newer format version", "was written by a newer gankit")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    meta = json.loads((mine / "run.json").read_text())
    (mine / "run.json").write_text(json.dumps({**meta, "format_version": 99}))
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("checkpoint from a newer format version", "step-00000002 was written by a newer gankit")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    ckpt = list_checkpoints(mine)[-1]
    meta = json.loads((ckpt / "state.json").read_text())
    (ckpt / "state.json").write_text(json.dumps({**meta, "format_version": 99}))
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("truncated checkpoint", "weights.safetensors is corrupt: size or SHA-256 differs")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    f = list_checkpoints(mine)[-1] / "weights.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("checkpoint without its checksums", "carries no checksum for state.json, weights.safetensors, state.safetensors")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    ckpt = list_checkpoints(mine)[-1]
    meta = json.loads((ckpt / "state.json").read_text())
    del meta["files"], meta["sha256"]  # would switch verification off, were it optional
    (ckpt / "state.json").write_text(json.dumps(meta))
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("pickle where a checkpoint should be", "weights.safetensors looks like a pickle")
def _(tmp, run):
    import pickle

    mine = _trained(tmp, "mine")
    (list_checkpoints(mine)[-1] / "weights.safetensors").write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("run.json without the image shape", "run.json is damaged: it needs 'shape'")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    (mine / "run.json").write_text(json.dumps({"format_version": 1}))
    return ["sample", str(mine), "-n", "4", "--out", str(tmp / "out.png")]


@case("--resume when every checkpoint is corrupt", "none of the 1 checkpoints in")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    for ckpt in list_checkpoints(mine):
        f = ckpt / "weights.safetensors"
        f.write_bytes(f.read_bytes()[:100])
    return ["train", "--resume", str(mine), "--steps", "4", "--quiet"]


@case("--resume of a folder that is not a run", "not a gankit run directory")
def _(tmp, run):
    (tmp / "junk").mkdir()
    return ["train", "--resume", str(tmp / "junk"), "--quiet"]


@case("--resume of a missing run", "run directory not found")
def _(tmp, run):
    return ["train", "--resume", str(tmp / "nowhere"), "--quiet"]


@case("--resume of a run from a newer gankit", "was written by a newer gankit")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    meta = json.loads((mine / "run.json").read_text())
    (mine / "run.json").write_text(json.dumps({**meta, "format_version": 99}))
    return ["train", "--resume", str(mine), "--steps", "4", "--quiet"]


@case("--resume changing the learning rate", "optim.lr_g cannot change there")
def _(tmp, run):
    return ["train", "--resume", str(_trained(tmp, "mine")), "--lr", "1e-3", "--quiet"]


@case("--resume after the model config was edited", "does not fit this architecture")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    cfg = yaml.safe_load((mine / "config.yaml").read_text())
    cfg["model"]["width"] = 16
    (mine / "config.yaml").write_text(yaml.safe_dump(cfg))
    return ["train", "--resume", str(mine), "--steps", "4", "--quiet"]


@case("--resume after the data changed", "changed since the run started")
def _(tmp, run):
    mine = _trained(tmp, "mine")
    cfg = yaml.safe_load((mine / "config.yaml").read_text())
    cfg["data"]["limit"] = 30
    (mine / "config.yaml").write_text(yaml.safe_dump(cfg))
    return ["train", "--resume", str(mine), "--steps", "4", "--quiet"]


@case("sample to an unknown file type", "--out must end in")
def _(tmp, run):
    return ["sample", str(_trained(tmp, "mine")), "-n", "4", "--out", str(tmp / "out.jpg")]


@case("sample zero images", "number of samples must be positive")
def _(tmp, run):
    return ["sample", str(_trained(tmp, "mine")), "-n", "0", "--out", str(tmp / "out.png")]


# ---------------------------------------------------------------------------------------------
# helpers for the cases above


_DISK_FULL: list[bool] = []
_PATCHES: list[tuple[str, object]] = []  # (dotted name, value) set while the case runs, e.g. less memory


_TRAINED: dict[str, Path] = {}


def _trained(tmp: Path, name: str, *extra: str) -> Path:
    """A finished 2-step run, trained once per test session and copied for each case."""
    key = name + "|".join(extra)
    if key not in _TRAINED:
        src = _SESSION_TMP[0] / f"trained-{len(_TRAINED)}"
        assert main(["train", "--data", "digits", "--out", str(src), *TINY, *extra]) == 0
        _TRAINED[key] = src
    dst = tmp / name
    shutil.copytree(_TRAINED[key], dst)
    return dst


_SESSION_TMP: list[Path] = []


def _make_read_only(path: Path) -> None:
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        _READ_ONLY.append(path)  # immutable even for root; undone after the test
        return
    path.chmod(0o555)
    probe = path / ".probe"
    try:
        probe.touch()
    except OSError:
        return
    probe.unlink()
    if os.environ.get("CI"):  # a reliability case must not quietly stop running in CI
        pytest.fail("cannot make a read-only directory here (root without chattr); CI must provide chattr")
    pytest.skip("cannot make a read-only directory here (root without chattr)")


_READ_ONLY: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _session_tmp(tmp_path_factory):
    _SESSION_TMP[:] = [tmp_path_factory.mktemp("trained")]
    yield
    _TRAINED.clear()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, capsys, monkeypatch):
    needle, setup = CASES[name]
    run = tmp_path / "run"
    _DISK_FULL.clear()
    _PATCHES.clear()
    argv = setup(tmp_path, run)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    if _DISK_FULL:
        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(os, "fsync", full)
    for target, value in _PATCHES:
        monkeypatch.setattr(target, value)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors: one line and exit 2 as well
        code = exc.code
    finally:
        monkeypatch.undo()
        for p in _READ_ONLY:
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)
        _READ_ONLY.clear()
    out, err = capsys.readouterr()
    assert code != 0, f"exit code {code} for {name}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in out + err
    # nothing partial: no temporary leftovers, no new run directory content, nothing existing changed
    after = _snapshot(tmp_path)
    new = sorted(set(after) - set(before))
    assert not [f for f in new if ".tmp" in f], new
    if argv[0] == "train" and "--resume" not in argv and name != "output directory not empty":
        assert not run.exists() or not any(run.iterdir()), new
    assert not (tmp_path / "out.png").exists()
    assert not new, new
    for key, data in before.items():
        assert after.get(key) == data, f"{key} was modified"


def test_catalogue_has_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("argv,needle", [
    (["train", "--data", "/nonexistent/x.npy", "--quiet"], "not found"),
    (["train", "--set", "trian.steps=3", "--quiet"], "unknown key 'trian'"),
    (["sample", "/nonexistent-run", "--out", "x.png"], "run directory not found"),
])
def test_real_process_prints_one_line_and_no_traceback(argv, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_logging_stops_with_one_line_and_keeps_the_checkpoints(tmp_path, capsys, monkeypatch):
    from gankit.engine import callbacks

    def full_after_two_lines(path, mode="r", *args, **kwargs):
        if str(path).endswith("metrics.jsonl") and "a" in mode and full_after_two_lines.calls >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        full_after_two_lines.calls += "a" in mode
        return open(path, mode, *args, **kwargs)

    full_after_two_lines.calls = 0
    monkeypatch.setattr(callbacks, "open", full_after_two_lines, raising=False)
    run = tmp_path / "run"
    argv = ["train", "--data", "digits", "--out", str(run), *TINY, "--steps", "8", "--set", "log.log_every=2",
            "--set", "log.checkpoint_every=2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0] and "No space left" in err[0], err
    ckpts = list_checkpoints(run)
    assert ckpts and all((c / "weights.safetensors").is_file() for c in ckpts)
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
