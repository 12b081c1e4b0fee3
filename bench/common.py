"""What every bench shares: the machine description, data, gankit trainers, side-by-side timing, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.data import ImageDataset

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_support() -> dict[str, Any]:
    """Whether bf16 has hardware behind it here (AVX512-BF16 / AMX) and whether autocast runs at all."""
    flags = cpu_flags()
    native = sorted(flags & {"avx512_bf16", "amx_bf16"})
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ok = torch.mm(torch.ones(4, 4), torch.ones(4, 4)).dtype == torch.bfloat16
    except RuntimeError:
        ok = False
    return {"native": native, "autocast_works": ok}


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "bf16": bf16_support(),
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def machine_line(m: dict[str, Any] | None = None) -> str:
    m = m or machine()
    return (f"{m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), torch {m['torch']}, "
            f"1-min load {m['load_avg_1m']}")


def save_figure(fig: Any, path: Path, m: dict[str, Any]) -> Path:
    """Caption a bench plot with the machine it was measured on, then write and close it."""
    fig.text(0.01, 0.01, f"{m['cpu']}, {m['cores']} cores, {m['torch_threads']} threads, torch {m['torch']}",
             fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def load_images(data: str, data_root: str, limit: int | None = None, split: str = "train",
                resolution: int | None = None) -> ImageDataset:
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    return load_dataset(DataConfig(name=data, root=data_root, split=split, limit=limit, download=False,
                                   resolution=resolution))


def gankit_config(recipe: str, overrides: dict[str, Any] | None = None) -> Config:
    """A recipe's config for bench runs: no logging, no files, no progress bar."""
    from gankit.app.training import resolve_config

    quiet = {"log.progress": False, "log.tensorboard": False, "log.report": False}
    return resolve_config(recipe, None, {**quiet, **(overrides or {})})


def side_by_side(contenders: dict[str, Callable[[int], None]], steps: int, repeats: int,
                 warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per step of each contender, timed in turn (A, B, C, C, B, A, ...) within one process so that
    load from other users of the machine falls on all of them alike. ``contenders[name](n)`` runs n steps."""
    for fn in contenders.values():
        fn(warmup)
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(repeats):
        names = list(contenders) if r % 2 == 0 else list(reversed(contenders))  # no one always goes first
        for name in names:
            t = time.perf_counter()
            contenders[name](steps)
            out[name].append((time.perf_counter() - t) / steps)
    return out


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ratio_stats(baseline: list[float], other: list[float]) -> dict[str, float]:
    """Speed of ``other`` relative to ``baseline`` (> 1: faster), per paired repeat: median, min, max."""
    ratios = [b / o for b, o in zip(baseline, other)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "n": len(ratios)}


def write_json(name: str, payload: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def class_accuracy(run: Any, per_class: int = 100, seed: int = 200) -> dict[str, float]:
    """Share of ``per_class`` samples drawn for each class k (as ``gankit sample --class k``) that the built-in
    MNIST classifier calls k: the mean over classes and the worst class."""
    from gankit.metrics.evaluate import classify

    per = [(classify(run.sample(per_class, seed=seed + k, y=k)) == k).float().mean().item()
           for k in range(run.num_classes)]
    return {"class_acc": round(sum(per) / len(per), 4), "class_acc_min": round(min(per), 4)}


def update_doc(doc: Path, block: str, text: str) -> None:
    """Replace what lies between <!-- bench:BLOCK:start --> and <!-- bench:BLOCK:end --> in ``doc``."""
    start, end = f"<!-- bench:{block}:start -->", f"<!-- bench:{block}:end -->"
    if not doc.is_file():
        return
    content = doc.read_text(encoding="utf-8")
    if start in content and end in content:
        head, rest = content.split(start, 1)
        _, tail = rest.split(end, 1)
        doc.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")
