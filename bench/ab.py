"""A/B step time of the engine: the working tree against another commit, in alternating processes.

    python -m bench.ab --base 5bf39d9 --recipes mlp-gan,dcgan --steps 200 --rounds 5

Each round starts one fresh process per side (the base checked out with ``git worktree`` into a
temporary folder) that builds the recipe's Trainer on the embedded digits and times ``train_step``
(after warm-up, one thread, guard and defaults as the recipe has them). Sides alternate, so a busy
machine slows both alike; the result is the median ratio base / tree (> 1: the tree is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import RESULTS, machine, machine_line, write_json

REPO = Path(__file__).resolve().parents[1]
# Runs inside each side's process; the Trainer moved between packages over time, so both homes are tried.
PROBE = r"""
import json, sys, time, torch
torch.set_num_threads(1)
try:
    from gankit.engine.trainer import Trainer
    from gankit.app.training import resolve_config
except ImportError:
    from gankit.train.engine import Trainer
    from gankit.train.run import resolve_config
recipe, steps = sys.argv[1], int(sys.argv[2])
cfg = resolve_config(recipe, None, {"data": "digits", "steps": 10**6, "train.device": "cpu", "perf.autocast": "off"})
t = Trainer(cfg)
for _ in range(10):
    t.train_step()
t0 = time.perf_counter()
for _ in range(steps):
    t.train_step()
    if t.guard is not None:
        t.guard.after_step(t, {})
print(json.dumps({"s_per_step": (time.perf_counter() - t0) / steps}))
"""


def time_side(src: Path, recipe: str, steps: int) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, recipe, str(steps)], cwd=src, capture_output=True, text=True,
                         env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["s_per_step"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the commit to compare the working tree with")
    p.add_argument("--recipes", default="mlp-gan,dcgan")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), args.base], cwd=REPO, check=True)
        try:
            results = {}
            for recipe in args.recipes.split(","):
                times: dict[str, list[float]] = {"base": [], "tree": []}
                for _ in range(args.rounds):
                    for side, src in (("base", base), ("tree", REPO)):
                        times[side].append(time_side(src, recipe, args.steps))
                ratios = [b / t for b, t in zip(times["base"], times["tree"])]
                results[recipe] = {"base_ms_per_step": [round(1e3 * x, 3) for x in times["base"]],
                                   "tree_ms_per_step": [round(1e3 * x, 3) for x in times["tree"]],
                                   "median_ratio_base_over_tree": round(statistics.median(ratios), 4)}
                print(f"{recipe}: base {1e3 * statistics.median(times['base']):.2f} ms/step, tree "
                      f"{1e3 * statistics.median(times['tree']):.2f} ms/step, median ratio base/tree "
                      f"{results[recipe]['median_ratio_base_over_tree']:.3f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)
    payload = {"machine": machine(), "base": args.base, "steps": args.steps, "rounds": args.rounds, "results": results}
    print(machine_line(payload["machine"]))
    print(f"wrote {write_json('ab', payload, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
