"""Throughput at equal work: images/s of gankit's training loop vs the tutorial-style loop, side by side.

Both train the same networks (batch 128, Adam 2e-4 / 0.5, data in memory) in one process; the
contenders take turns (A B C ... C B A ...) for ``repeats`` rounds of ``steps`` steps, so the load of
other users of the machine falls on all of them alike, and each round gives one paired ratio.
gankit runs its real loop, ``Trainer.fit`` (divergence guard included), with only logging turned off.
Besides the defaults, each speed setting is timed alone so its own effect shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import bf16_support, gankit_config, load_images, machine, ratio_stats, side_by_side
from bench.tutorial_loops import TutorialGAN
from gankit.engine.trainer import Trainer

# name -> config overrides on top of the recipe; "defaults" is what `gankit train --recipe R` runs
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "reuse_fake=false (second G forward)": {"perf.reuse_fake": False},
    "fused_optimizer=false (for-loop Adam)": {"perf.fused_optimizer": False},
    "guard off": {"guard.enabled": False},
    "guard.snapshot_every=10": {"guard.snapshot_every": 10},
    "+channels_last": {"perf.channels_last": True},
    "+bf16 autocast": {"perf.autocast": "bf16"},
    "+channels_last +bf16": {"perf.channels_last": True, "perf.autocast": "bf16"},
}
CONV_ONLY = {"+channels_last", "+channels_last +bf16"}


def gankit_steps(trainer: Trainer) -> Callable[[int], None]:
    """Run n more steps of gankit's own loop (``fit``), no callbacks."""

    def run(n: int) -> None:
        trainer.total_steps = trainer.step + n
        trainer.fit()

    return run


def tutorial_steps(loop: TutorialGAN) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            loop.step()

    return run


def bench_arch(arch: str, images: Any, batch_size: int, steps: int, repeats: int, variants: list[str],
               compile_: bool) -> dict[str, Any]:
    from gankit.data import ImageDataset

    ds = ImageDataset(images, name="bench")
    contenders: dict[str, Callable[[int], None]] = {
        "tutorial": tutorial_steps(TutorialGAN(arch, images, batch_size))}
    for name in variants:
        overrides = {"train.batch_size": batch_size, "train.steps": 10**9, **VARIANTS[name]}
        contenders[f"gankit {name}"] = gankit_steps(Trainer(gankit_config(arch, overrides), ds))
    compile_info = None
    if compile_:
        tr = Trainer(gankit_config(arch, {"train.batch_size": batch_size, "train.steps": 10**9,
                                          "perf.compile": True}), ds)
        run = gankit_steps(tr)
        t = time.perf_counter()
        run(2)  # the first steps compile the forward and backward graphs
        compile_info = {"first_2_steps_s": time.perf_counter() - t}
        contenders["gankit +compile"] = run
    times = side_by_side(contenders, steps, repeats)
    base = times["tutorial"]
    rows = []
    for name, t in times.items():
        med = sorted(t)[len(t) // 2]
        rows.append({"contender": name, "s_per_step": t, "images_per_s": batch_size / med,
                     "ratio_vs_tutorial": ratio_stats(base, t)})
    return {"arch": arch, "batch_size": batch_size, "steps": steps, "repeats": repeats, "rows": rows,
            "compile": compile_info}


def run(data: str = "mnist", data_root: str = "data", archs: tuple[str, ...] = ("mlp-gan", "dcgan"),
        batch_size: int = 128, steps: int = 5, repeats: int = 5, limit: int | None = 20000,
        variants: list[str] | None = None, compile_: bool = False) -> dict[str, Any]:
    ds = load_images(data, data_root, limit)
    wanted = variants or list(VARIANTS)
    if not bf16_support()["autocast_works"]:
        wanted = [v for v in wanted if "bf16" not in v]
    out = {"bench": "throughput", "machine": machine(), "data": data, "results": []}
    for arch in archs:
        names = [v for v in wanted if arch != "mlp-gan" or v not in CONV_ONLY]
        out["results"].append(bench_arch(arch, ds.images, batch_size, steps, repeats, names, compile_))
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["| architecture | contender | images/s | speed vs tutorial (median, min-max of paired rounds) |",
             "|---|---|---:|---|"]
    for r in result["results"]:
        for row in r["rows"]:
            q = row["ratio_vs_tutorial"]
            lines.append(f"| {r['arch']} | {row['contender']} | {row['images_per_s']:.0f} | "
                         f"**{q['median']:.2f}x** ({q['min']:.2f}-{q['max']:.2f}, n={q['n']}) |")
        if r.get("compile"):
            lines.append(f"| {r['arch']} | torch.compile: first 2 steps (compiling) | "
                         f"{r['compile']['first_2_steps_s']:.1f} s | |")
    return "\n".join(lines)
