"""The engine goldens: every recipe's first 20 steps of losses and a hash of its final weights.

``tests/fixtures/goldens.json`` and the run directory ``tests/fixtures/run-format1/`` (checkpoint
format 1, before tasks) were recorded by this file's ``main`` at the commit before the task engine
(issue 12: commit 5bf39d9 with this script); ``test_golden.py`` checks today's engine against them.
Every run is on CPU, one thread, autocast off (bf16 depends on the CPU), on the embedded digits, so
the numbers depend only on the code and the kind of CPU (``cpu_kind``): float results repeat bit for
bit only on the same vector units. ``python tests/engine/goldens.py --out DIR`` records them again
with today's code (for a CPU kind the committed goldens were not recorded on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
from pathlib import Path

import torch

import gankit
from gankit.app.training import resolve_config, run_config
from gankit.engine.callbacks import Callback
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.recipes import RECIPES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STEPS = 20
# The recipe's own networks and losses; only what makes 20 steps quick and machine-independent changes.
COMMON = {"steps": STEPS, "batch_size": 16, "data.limit": 256, "train.device": "cpu", "train.threads": 1,
          "perf.autocast": "off", "log.log_every": 1, "log.sample_every": 1000, "log.checkpoint_every": 1000,
          "log.progress": False, "log.tensorboard": False, "log.report": False, "log.n_samples": 8}


# Stabilizers and speed settings no recipe uses, on top of a recipe, so the goldens cover them too.
VARIANTS = {
    "dcgan+stabilizers": ("dcgan", {"augment.policy": "color,translation,cutout", "augment.instance_noise": 0.1,
                                    "reg.r1_gamma": 1.0, "reg.r1_every": 4, "stabilize.label_smoothing": 0.1,
                                    "stabilize.label_flip": 0.05, "stabilize.grad_clip_d": 1.0,
                                    "stabilize.grad_clip_g": 1.0, "perf.reuse_fake": False,
                                    "optim.lr_d": 4e-4}),
    "cgan+embed-sgd": ("cgan", {"model.conditioning": "embed", "optim.name": "sgd", "ema.decay": 0.9,
                                "perf.fused_optimizer": False, "perf.channels_last": True}),
}


class Record(Callback):
    """Every step's statistics exactly (the float32 values as Python floats, not the rounded log)."""

    def __init__(self):
        self.rows: list[dict[str, float]] = []

    def on_step(self, trainer, stats):
        self.rows.append({"step": trainer.step, **{k: float(v) for k, v in sorted(stats.items())}})


def record_losses(recipe: str, settings: dict, run_dir: Path) -> list[dict[str, float]]:
    rec = Record()
    run_config(resolve_config(recipe, None, {**settings, "out": str(run_dir)}), callbacks=[rec], quiet=True)
    return rec.rows


def cpu_kind() -> str:
    """What decides whether float results repeat bit for bit: torch's build and the CPU's vector units."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = set(next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), []))
    except OSError:
        pass
    units = [u for u in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni") if u in flags]
    return f"torch {torch.__version__.split('+')[0]}, {platform.machine()}, {'+'.join(units) or 'no avx'}"


def weights_digest(named: dict[str, dict[str, torch.Tensor]]) -> str:
    h = hashlib.sha256()
    for net in sorted(named):
        for key in sorted(named[net]):
            t = named[net][key].detach().cpu().contiguous()
            h.update(f"{net}.{key}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def main(out_dir: Path) -> None:
    torch.set_num_threads(1)
    out = {"cpu_kind": cpu_kind(), "steps": STEPS, "common": COMMON, "recipes": {}}
    tmp = out_dir / ".golden-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cases = {name: (name, {}) for name in RECIPES.names() if RECIPES.get(name).task == "gan"}
    cases.update(VARIANTS)
    for case, (recipe, extra) in cases.items():
        losses = record_losses(recipe, {**COMMON, **extra}, tmp / case)
        weights, _ = load_checkpoint(list_checkpoints(tmp / case)[-1])
        out["recipes"][case] = {"recipe": recipe, "settings": extra, "losses": losses,
                                "weights_sha256": weights_digest(weights), "networks": sorted(weights)}
        print(case, losses[-1], file=sys.stderr)

    # A small run in the old format: 10 steps done (checkpoint at 10), and the hash of the same run
    # trained straight to 20 steps and the fixture resumed to 20 (which the task engine must reproduce).
    fixture = {"steps": 10, "batch_size": 16, "data.limit": 128, "model.width": 8, "model.z_dim": 8,
               "train.device": "cpu", "train.threads": 1, "perf.autocast": "off", "log.log_every": 5,
               "log.sample_every": 5, "log.checkpoint_every": 5, "log.keep_checkpoints": 1, "log.n_samples": 8,
               "log.progress": False, "log.tensorboard": False, "log.report": False}
    run_dir = out_dir / "run-format1"
    shutil.rmtree(run_dir, ignore_errors=True)
    gankit.train(recipe="dcgan-fast", quiet=True, out=str(run_dir), **fixture)
    shutil.copytree(run_dir, tmp / "resumed")
    resumed = gankit.resume(tmp / "resumed", steps=20, quiet=True)
    resumed_weights, _ = load_checkpoint(list_checkpoints(resumed.dir)[-1])
    straight = gankit.train(recipe="dcgan-fast", quiet=True, out=str(tmp / "straight"), **{**fixture, "steps": 20})
    weights, _ = load_checkpoint(list_checkpoints(straight.dir)[-1])
    sample = straight.sample(4, seed=0)
    old = gankit.load_run(run_dir).sample(4, seed=0)
    out["fixture"] = {"recipe": "dcgan-fast", "settings": fixture, "resumed_to": 20,
                      "weights_sha256_at_20": weights_digest(weights),
                      "sample_seed0_sum": float(old.double().sum()),
                      "sample_at_20_seed0_sum": float(sample.double().sum()),
                      "weights_sha256_resumed_to_20": weights_digest(resumed_weights),
                      "sample_resumed_to_20_seed0_sum": float(resumed.sample(4, seed=0).double().sum())}
    shutil.rmtree(tmp, ignore_errors=True)
    (out_dir / "goldens.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out_dir / 'goldens.json'} ({out['cpu_kind']})", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for goldens.json and run-format1/ "
                        "(tests/fixtures only when the engine's numbers are meant to change)")
    main(parser.parse_args().out)
