"""Engine micro-benchmarks: the per-step pieces of gankit's loop that the tutorial loop does not have,
before and after their optimisation, side by side on the MLP GAN (3M parameters, batch 128).

- the divergence guard's finiteness check: max-abs (``_foreach_norm(inf)``, the original) vs the L2 fast
  path (``find_nonfinite`` now), over every weight and gradient;
- the guard's per-step snapshot: fresh clones (the original) vs copying into the previous snapshot;
- drawing a batch: gankit's uint8 sampler (converts on the fly) vs the tutorial's float tensor.
"""

from __future__ import annotations

from typing import Any

import torch

from bench.common import gankit_config, load_images, machine, ratio_stats, side_by_side
from bench.tutorial_loops import TutorialGAN
from gankit.data import ImageDataset
from gankit.engine import guard as guard_module
from gankit.engine.trainer import Trainer


def run(data: str = "mnist", data_root: str = "data", arch: str = "mlp-gan", batch_size: int = 128,
        repeats: int = 7, steps: int = 5, limit: int | None = 20000) -> dict[str, Any]:
    ds = load_images(data, data_root, limit)
    tr = Trainer(gankit_config(arch, {"train.batch_size": batch_size, "train.steps": 10**9}),
                 ImageDataset(ds.images, name="bench"))
    stats = tr.train_step()
    g = tr.guard
    names, tensors = g._watched(tr, stats)
    parts = g._parts(tr)
    old_snapshot = {n: guard_module._clone(o.state_dict()) for n, o in parts.items()}
    tut = TutorialGAN(arch, ds.images, batch_size)

    def loop(fn):
        return lambda n: [fn() for _ in range(n)]

    pairs = {
        "guard check": {
            "before: max-abs of every tensor": loop(lambda: torch._foreach_norm(tensors, float("inf"))),
            "after: L2 fast path (find_nonfinite)": loop(lambda: g.find_nonfinite(tr, stats))},
        "guard snapshot": {
            "before: clone every tensor": loop(lambda: {n: guard_module._clone(o.state_dict()) for n, o in parts.items()}),
            "after: copy into the last snapshot": loop(
                lambda: {n: guard_module._copy_into(old_snapshot.get(n), o.state_dict()) for n, o in parts.items()})},
        "batch": {
            "tutorial: index a float tensor": loop(tut.next_batch),
            "gankit: index uint8, convert": loop(tr.sampler.next)},
    }
    rows = []
    for what, contenders in pairs.items():
        times = side_by_side(contenders, steps, repeats)
        (a, ta), (b, tb) = times.items()
        rows.append({"what": what, "a": a, "b": b, "a_ms": 1000 * sorted(ta)[len(ta) // 2],
                     "b_ms": 1000 * sorted(tb)[len(tb) // 2], "speedup_b_vs_a": ratio_stats(ta, tb)})
    n_elems = sum(t.numel() for t in tensors)
    return {"bench": "micro", "machine": machine(), "arch": arch, "watched_elements": n_elems, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"{result['arch']}, {result['watched_elements'] / 1e6:.1f}M watched weight and gradient elements.", "",
             "| piece | A | ms | B | ms | B vs A (median, min-max) |", "|---|---|---:|---|---:|---|"]
    for r in result["rows"]:
        q = r["speedup_b_vs_a"]
        lines.append(f"| {r['what']} | {r['a']} | {r['a_ms']:.2f} | {r['b']} | {r['b_ms']:.2f} | "
                     f"**{q['median']:.2f}x** ({q['min']:.2f}-{q['max']:.2f}) |")
    return "\n".join(lines)
