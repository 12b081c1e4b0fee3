"""What bf16 autocast does to quality: the same recipe, seed, data order and number of steps, trained with
``perf.autocast=off`` and ``bf16``; FID of 10k samples (built-in extractor, MNIST test) at the end of each,
and the training seconds each took.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import bf16_support, gankit_config, load_images, machine


def run(data: str = "mnist", data_root: str = "data", recipe: str = "mnist-fast", steps: int = 300,
        n_samples: int = 10000, limit: int | None = None) -> dict[str, Any]:
    from gankit.engine.rundir import Run
    from gankit.engine.trainer import Trainer
    from gankit.metrics import evaluate
    from gankit.metrics.evaluate import reference_features

    support = bf16_support()
    out: dict[str, Any] = {"bench": "bf16", "machine": machine(), "recipe": recipe, "steps": steps,
                           "n_samples": n_samples, "rows": []}
    if not support["autocast_works"]:
        out["skipped"] = "torch cannot autocast to bf16 on this CPU"
        return out
    ds = load_images(data, data_root, limit)
    ref = reference_features(f"{data}:test", "mnist", data_root=data_root)
    for mode in ("off", "bf16"):
        tr = Trainer(gankit_config(recipe, {"train.steps": steps, "train.max_time": None, "perf.autocast": mode}), ds)
        t = time.perf_counter()
        tr.fit()
        train_s = time.perf_counter() - t
        fake = Run("", trainer=tr).sample(n_samples, seed=0)
        fid = evaluate(fake, ref, metrics="fid", extractor="mnist")["fid"]
        out["rows"].append({"autocast": mode, "steps": tr.step, "train_s": train_s, "fid": fid})
    return out


def markdown(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return f"bf16 check skipped: {result['skipped']}"
    lines = [f"`{result['recipe']}`, {result['steps']} steps each, same seed and data order; FID of "
             f"{result['n_samples']} samples.", "", "| autocast | training s | FID |", "|---|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['autocast']} | {r['train_s']:.0f} | {r['fid']:.1f} |")
    return "\n".join(lines)
