"""Small shared helpers: atomic file writes, seeding, devices, image grids."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import random
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.config import DEVICE_CHOICES, DEVICE_PATTERN
from gankit.errors import GankitError

_UMASK = os.umask(0)
os.umask(_UMASK)


# atomic_path writes .gankit-NAME.XXXX.tmp beside NAME, then renames it; the prefix marks it as gankit's own,
# so a resume removes only the leftovers gankit made, never a user's .tmp file.
TEMP_PREFIX, TEMP_SUFFIX = ".gankit-", ".tmp"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place.

    A crash or an exception leaves the old file (or nothing) at ``path``, never a half-written one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise GankitError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
        fsync_dir(path.parent)  # make the rename itself durable
    except OSError as exc:
        _unlink_quiet(tmp)
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise GankitError(f"cannot write {path}: {reason}") from None
    except BaseException:
        _unlink_quiet(tmp)
        raise


def remove_temporaries(*folders: Path) -> None:
    """Delete what ``atomic_path`` leaves in these folders (not below them) when the process is killed mid-write."""
    for folder in folders:
        for leftover in Path(folder).glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename, a new file); best effort where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _unlink_quiet(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def idle_cores() -> int:
    """CPU cores not busy with other processes, by the 1-minute load average (at least 1).

    On a shared machine, more PyTorch threads than idle cores make the threads wait on each other:
    on 2 cores at load 5, a DCGAN run took 4x longer with 2 threads than with 1.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def resolve_threads(threads: int | str | None) -> int:
    """The CPU thread count a run uses: the number given, the idle cores for 'auto', else torch's default.

    The default depends only on the machine and OMP_NUM_THREADS, so the same command and seed give the
    same run; 'auto' trades that for speed on a busy machine.
    """
    if threads == "auto":
        return idle_cores()
    return int(threads) if threads else torch.get_num_threads()


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for --device, refused in one line when unknown or absent (torch raises a bare
    RuntimeError for 'foo', and only fails at the first tensor for a CUDA device on a CPU-only build)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, torch.device) and not re.fullmatch(DEVICE_PATTERN, str(name)):
        raise GankitError(f"unknown device {name!r} (--device); choose from {DEVICE_CHOICES}")
    device = torch.device(name)
    name = str(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise GankitError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s), cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GankitError(f"device {name!r} requested but MPS is not available; use --device cpu")
    return device


def check_memory(nbytes: int, what: str, hint: str, error: type[GankitError] = GankitError) -> None:
    """Refuse in one line what would not fit in memory, before allocating it (the allocator's own
    failure is a traceback, or the kernel's OOM killer)."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise error(f"{what} needs {human_bytes(nbytes)} of memory, but only {human_bytes(free)} is "
                    f"available; {hint}")


def available_memory() -> int | None:
    """Bytes this process can still allocate: the kernel's MemAvailable, capped by a container's cgroup
    limit (a container sees the host's memory in /proc/meminfo); None where neither can be read."""
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as fh:
            found += [int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:")]
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2, v1
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        with contextlib.suppress(OSError, ValueError):
            cap = Path(limit).read_text().strip()
            if cap != "max" and int(cap) < 2**60:  # v1 writes "no limit" as a huge number
                found.append(max(0, int(cap) - int(Path(usage).read_text())))
    if not found and hasattr(os, "sysconf"):
        with contextlib.suppress(OSError, ValueError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(found) if found else None


def human_bytes(n: float) -> str:
    """5.2 GB, 830.0 MB, 12 bytes: sizes in error messages."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H', W', C) uint8 mosaic, as square as possible."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(np.ceil(np.sqrt(n))))
    ncol = int(np.ceil(n / nrow))
    grid = np.zeros((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return grid


def save_image_grid(images: torch.Tensor | np.ndarray, path: Path, nrow: int | None = None,
                    scale: int | None = None) -> None:
    """Write a PNG grid atomically; ``scale`` enlarges small images so a person can see them
    (default: each image about 64 px, so 28 px digits are doubled and 64 px images kept as they are)."""
    arr = to_uint8(images) if isinstance(images, torch.Tensor) else images
    if scale is None:
        scale = max(1, round(64 / arr.shape[2]))  # (N, H, W, C)
    grid = make_grid(arr, nrow=nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


@contextlib.contextmanager
def eval_mode(*nets: torch.nn.Module) -> Iterator[None]:
    """Networks in eval mode inside the block (no BatchNorm update, no dropout), their own mode after it."""
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)


def write_images(images: torch.Tensor, out: Path, nrow: int | None = None, labels: torch.Tensor | None = None) -> None:
    """(N, C, H, W) in [-1, 1] -> a PNG grid (``nrow`` images per row) or an .npz with uint8 N x H x W x C
    under 'images' (and the int64 class of each image under 'labels', when given), chosen by the suffix of ``out``."""
    if Path(out).suffix.lower() == ".png":
        save_image_grid(images, out, nrow=nrow)
    else:
        buf = io.BytesIO()
        extra = {} if labels is None else {"labels": np.asarray(labels, dtype=np.int64)}
        np.savez_compressed(buf, images=to_uint8(images), **extra)
        atomic_write_bytes(out, buf.getvalue())


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
