"""Hardware efficiency: achieved GFLOP/s of a training step as a fraction of this machine's matmul peak.

The peak is measured here, not taken from a datasheet: the best of several large square fp32 matmuls
(and bf16 ones where the CPU has AMX / AVX512-BF16). FLOPs of one training step are counted by
``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions, forward and backward; the
elementwise work it does not count makes the fraction a lower bound).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import bf16_support, gankit_config, load_images, machine
from bench.tutorial_loops import TutorialGAN
from gankit.data import ImageDataset
from gankit.engine.trainer import Trainer


def matmul_peak(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up: threads and kernels
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    flops = 2 * n**3
    return {"n": n, "dtype": str(dtype).replace("torch.", ""), "best_gflops": flops / min(times) / 1e9,
            "median_gflops": flops / statistics.median(times) / 1e9}


def count_flops(step: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def step_efficiency(name: str, step: Any, batch_size: int, peak: float, repeats: int) -> dict[str, Any]:
    flops = count_flops(step)
    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    best, med = min(times), statistics.median(times)
    return {"contender": name, "gflop_per_step": flops / 1e9, "gflop_per_image": flops / batch_size / 1e9,
            "s_per_step_best": best, "s_per_step_median": med, "achieved_gflops_best": flops / best / 1e9,
            "fraction_of_fp32_peak_best": flops / best / 1e9 / peak}


def run(data: str = "mnist", data_root: str = "data", archs: tuple[str, ...] = ("mlp-gan", "dcgan"),
        batch_size: int = 128, repeats: int = 5, peak_n: int = 2048, limit: int | None = 20000) -> dict[str, Any]:
    peaks = {"fp32": matmul_peak(peak_n, repeats)}
    if bf16_support()["native"]:
        peaks["bf16"] = matmul_peak(peak_n, repeats, torch.bfloat16)
    peak = peaks["fp32"]["best_gflops"]
    ds = load_images(data, data_root, limit)
    images = ds.images
    rows = []
    for arch in archs:
        tut = TutorialGAN(arch, images, batch_size)
        rows.append({"arch": arch, **step_efficiency("tutorial", tut.step, batch_size, peak, repeats)})
        for label, extra in (("gankit defaults", {}), ("gankit +bf16 autocast", {"perf.autocast": "bf16"})):
            if extra and not bf16_support()["autocast_works"]:
                continue
            tr = Trainer(gankit_config(arch, {"train.batch_size": batch_size, "train.steps": 10**9,
                                              "guard.enabled": False, **extra}), ImageDataset(images, name="bench"))
            row = {"arch": arch, **step_efficiency(label + " (train_step)", tr.train_step, batch_size, peak, repeats)}
            if extra and "bf16" in peaks:
                row["fraction_of_bf16_peak_best"] = row["achieved_gflops_best"] / peaks["bf16"]["best_gflops"]
            rows.append(row)
    return {"bench": "hardware", "machine": machine(), "peaks": peaks, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    p = result["peaks"]
    lines = [f"Measured matmul peak ({p['fp32']['n']}x{p['fp32']['n']}, best of runs): "
             f"fp32 **{p['fp32']['best_gflops']:.0f} GFLOP/s**"
             + (f", bf16 **{p['bf16']['best_gflops']:.0f} GFLOP/s**" if "bf16" in p else "") + ".", "",
             "| architecture | contender | GFLOP / step | s / step (best) | achieved GFLOP/s | fraction of fp32 peak "
             "| fraction of bf16 peak |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['arch']} | {r['contender']} | {r['gflop_per_step']:.2f} | {r['s_per_step_best']:.3f} | "
                     f"{r['achieved_gflops_best']:.0f} | {100 * r['fraction_of_fp32_peak_best']:.0f}% | "
                     + (f"{100 * r['fraction_of_bf16_peak_best']:.0f}% |" if "fraction_of_bf16_peak_best" in r else "|"))
    return "\n".join(lines)
