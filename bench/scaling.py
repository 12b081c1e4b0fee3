"""Scaling: step time against batch size (32-512), resolution (28, 32, 64) and threads; evaluation time
against the number of samples.

Each point is the median of a few timed ``Trainer.train_step`` calls (default perf settings, guard off,
so the number is the step itself); evaluation is ``gankit.metrics.evaluate(..., metrics="fid")`` with
the built-in MNIST extractor against cached MNIST-test statistics, sample generation included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from bench.common import gankit_config, load_images, machine, median_time, save_figure
from gankit.data import ImageDataset
from gankit.engine.trainer import Trainer
from gankit.errors import GankitError


def step_time(arch: str, ds: ImageDataset, batch_size: int, repeats: int, extra: dict[str, Any] | None = None
              ) -> float:
    tr = Trainer(gankit_config(arch, {"train.batch_size": batch_size, "train.steps": 10**9,
                                      "guard.enabled": False, **(extra or {})}), ds)
    return median_time(tr.train_step, repeats)


def run(data: str = "mnist", data_root: str = "data", batch_sizes: tuple[int, ...] = (32, 64, 128, 256, 512),
        resolutions: tuple[int, ...] = (28, 32, 64), threads: tuple[int, ...] = (1, 2),
        eval_sizes: tuple[int, ...] = (1000, 2500, 5000, 10000), repeats: int = 3, limit: int | None = 10000
        ) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "scaling", "machine": machine(), "data": data}
    ds = load_images(data, data_root, limit)
    out["batch"] = [{"arch": arch, "batch_size": b, "s_per_step": (t := step_time(arch, ds, b, repeats)),
                     "images_per_s": b / t}
                    for arch in ("mlp-gan", "dcgan") for b in batch_sizes if b <= len(ds)]
    res_rows = []
    for r in resolutions:
        dsr = ds if r == ds.shape[1] else load_images(data, data_root, limit, resolution=r)
        t = step_time("dcgan", dsr, 64, repeats)
        res_rows.append({"arch": "dcgan", "resolution": r, "batch_size": 64, "s_per_step": t, "images_per_s": 64 / t})
    out["resolution"] = res_rows
    before = torch.get_num_threads()
    thread_rows = []
    for n in threads:
        torch.set_num_threads(n)
        t = step_time("dcgan", ds, 128, repeats)
        thread_rows.append({"arch": "dcgan", "threads": n, "batch_size": 128, "s_per_step": t, "images_per_s": 128 / t})
    torch.set_num_threads(before)
    out["threads"] = thread_rows
    out["eval"] = eval_scaling(data, data_root, eval_sizes)
    return out


def eval_scaling(data: str, data_root: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Seconds to sample n images from a DCGAN generator and compute their FID against cached statistics."""
    from gankit.metrics import evaluate
    from gankit.metrics.evaluate import reference_features
    from gankit.models import build_generator

    try:
        t = time.perf_counter()
        ref = reference_features(f"{data}:test", "mnist", data_root=data_root)
        ref_s = time.perf_counter() - t
    except GankitError as exc:  # no built-in classifier weights, or no test split: say so, time nothing
        return {"skipped": str(exc), "rows": []}
    cfg = gankit_config("dcgan")
    G = build_generator(cfg.model, (1, 28, 28)).eval()
    rows = []
    for n in sizes:
        t = time.perf_counter()
        with torch.no_grad():
            fake = torch.cat([G(torch.randn(min(500, n - i), cfg.model.z_dim)) for i in range(0, n, 500)])
        t_gen = time.perf_counter() - t
        fid = evaluate(fake, ref, metrics="fid", extractor="mnist")["fid"]
        rows.append({"n_samples": n, "generate_s": t_gen, "total_s": time.perf_counter() - t, "fid_untrained": fid})
    return {"reference_s_first_call": ref_s, "rows": rows}


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    ax = axes[0]
    for arch in ("mlp-gan", "dcgan"):
        rows = [r for r in result["batch"] if r["arch"] == arch]
        ax.plot([r["batch_size"] for r in rows], [r["s_per_step"] * 1000 for r in rows], "o-", label=arch)
    ax.set(yscale="log", xlabel="batch size", ylabel="ms / step", title="step time vs batch size")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["batch_size"] for r in result["batch"]}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend()
    ax = axes[1]
    ax.plot([r["resolution"] for r in result["resolution"]], [r["s_per_step"] * 1000 for r in result["resolution"]],
            "o-", color="C1")
    ax.set(xlabel="resolution (px)", ylabel="ms / step", title="DCGAN step time vs resolution (batch 64)")
    ax = axes[2]
    ax.bar([str(r["threads"]) for r in result["threads"]], [r["images_per_s"] for r in result["threads"]], color="C2")
    ax.set(xlabel="torch threads", ylabel="images / s", title="DCGAN throughput vs threads (batch 128)")
    ax = axes[3]
    rows = result["eval"]["rows"]
    if rows:
        ax.plot([r["n_samples"] for r in rows], [r["total_s"] for r in rows], "o-", color="C3", label="sample + FID")
        ax.plot([r["n_samples"] for r in rows], [r["generate_s"] for r in rows], "s--", color="C4", label="sample only")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "skipped:\n" + result["eval"].get("skipped", "")[:60], ha="center", va="center", wrap=True)
    ax.set(xlabel="samples", ylabel="seconds", title="evaluation time vs samples")
    return save_figure(fig, path, result["machine"])


def markdown(result: dict[str, Any]) -> str:
    lines = ["| what | setting | ms / step | images / s |", "|---|---|---:|---:|"]
    for r in result["batch"]:
        lines.append(f"| {r['arch']} batch size | {r['batch_size']} | {1000 * r['s_per_step']:.0f} | {r['images_per_s']:.0f} |")
    for r in result["resolution"]:
        lines.append(f"| dcgan resolution (batch 64) | {r['resolution']} px | {1000 * r['s_per_step']:.0f} | "
                     f"{r['images_per_s']:.0f} |")
    for r in result["threads"]:
        lines.append(f"| dcgan threads (batch 128) | {r['threads']} | {1000 * r['s_per_step']:.0f} | {r['images_per_s']:.0f} |")
    ev = result["eval"]
    lines += ["", "| samples | generate (s) | generate + FID (s) |", "|---:|---:|---:|"]
    for r in ev["rows"]:
        lines.append(f"| {r['n_samples']} | {r['generate_s']:.2f} | {r['total_s']:.2f} |")
    if ev.get("skipped"):
        lines.append(f"| evaluation skipped: {ev['skipped']} | | |")
    return "\n".join(lines)
