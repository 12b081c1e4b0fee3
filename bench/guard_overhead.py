"""What the divergence guard costs per training step, and what a checkpoint costs.

    .venv/bin/python bench/guard_overhead.py            # dcgan and mlp-gan recipes, 1 thread
    .venv/bin/python bench/guard_overhead.py --threads 2 --recipes dcgan

For each recipe (its real model sizes, batch 128, digits at 28 px) it times, as the minimum over
repeats so that other processes on a shared machine inflate the numbers as little as possible:
one training step (D + G update), the guard's per-step NaN/Inf check, its in-memory snapshot
(taken every ``guard.snapshot_every`` steps, default every step), the mode-collapse check (every
``guard.collapse_every`` steps, default ``log.sample_every``) and one atomic checkpoint write.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import cpu_model  # noqa: E402


def _min_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(recipe: str, repeats: int) -> dict:
    from gankit.app.training import resolve_config
    from gankit.engine.checkpoint import save_checkpoint
    from gankit.engine.trainer import Trainer

    cfg = resolve_config(recipe, None, {"steps": 1000, "batch_size": 128, "log.progress": False})
    t = Trainer(cfg)
    guard = t.guard
    for _ in range(2):  # warm-up: optimizer state exists, allocator is warm
        stats = t.train_step()
    guard.snapshot(t)
    step = _min_time(t.train_step, repeats)
    stats = t.train_step()
    check = _min_time(lambda: guard.find_nonfinite(t, stats), repeats * 3)
    snap = _min_time(lambda: guard.snapshot(t), repeats * 3)
    collapse = _min_time(lambda: guard.diversity(t), repeats)
    with tempfile.TemporaryDirectory() as d:
        weights = lambda: {n: m.state_dict() for n, m in t.networks.items()}  # noqa: E731
        ckpt = _min_time(lambda: save_checkpoint(Path(d), t.step, weights(), t.state_dict(), keep=1), repeats)
    params = sum(p.numel() for net in t.networks.values() for p in net.parameters())
    return {"recipe": recipe, "parameters": params, "step_ms": round(step * 1e3, 2),
            "check_ms": round(check * 1e3, 3), "snapshot_ms": round(snap * 1e3, 3),
            "check_pct_of_step": round(100 * check / step, 2), "snapshot_pct_of_step": round(100 * snap / step, 2),
            "collapse_check_ms": round(collapse * 1e3, 2), "checkpoint_write_ms": round(ckpt * 1e3, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="dcgan,mlp-gan")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
               "python": platform.python_version()}
    rows = [measure(r.strip(), args.repeats) for r in args.recipes.split(",") if r.strip()]
    print(json.dumps({"machine": machine, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
