"""Benchmark: every named recipe trained on MNIST for the same CPU time, then scored.

    .venv/bin/python bench/bench_recipes.py --budget 60 --wall-limit 300 --data-root ../shared/data

For each recipe (default: all of them) this trains on MNIST train for ``--budget`` seconds of CPU time
of the training process (one torch thread by default; a wall-clock cap guards a very busy machine),
draws ``--samples`` images (the EMA generator when a recipe has one) and
scores them against MNIST test with gankit's built-in digit classifier features:
FID and KID (``gankit.metrics.evaluate``). Conditional recipes also get their class accuracy: 100
samples drawn for each class k (as ``gankit sample --class k``) classified by the built-in MNIST
classifier (``gankit.metrics.classify``); the issue asks for at least 90 %. InfoGAN gets the purity
of its categorical code (the share of the most common digit among samples drawn for each category).

Runs are kept in ``--workdir``, one folder per recipe, length and seed, and a run already trained there
is skipped, so an interrupted bench continues where it stopped; ``--train-only`` and ``--score-only``
split the two passes. Writes bench/results/recipes[-seedS].json/.md, or with ``--steps N``
recipes-steps-N[-seedS].*, whose tables of every seed measured so far go into docs/recipes.md (the
``bench:conditional`` block). ``--check`` exits 1 when a conditional recipe falls below 90 %. The
recipes' table at a fixed time budget in docs/recipes.md comes from ``python -m bench ttq`` instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import class_accuracy, update_doc  # noqa: E402
from gankit.app.training import resolve_config, run_config  # noqa: E402
from gankit.engine.callbacks import Callback  # noqa: E402
from gankit.engine.rundir import load_run  # noqa: E402
from gankit.metrics import evaluate  # noqa: E402
from gankit.metrics.evaluate import classify  # noqa: E402
from gankit.recipes import RECIPES  # noqa: E402
from gankit.sampling import code_sweep  # noqa: E402

DOC = REPO / "docs" / "recipes.md"
ORDER = ["mlp-gan", "dcgan", "wgan", "wgan-gp", "lsgan", "hinge", "sngan", "cgan", "projection-cgan", "acgan",
         "infogan"]


def machine(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": threads, "torch": torch.__version__,
            "python": platform.python_version(), "load_avg_1m": round(os.getloadavg()[0], 2)}


class CPUBudget(Callback):
    """Stops training once the process has used ``seconds`` of CPU time since training began.

    On a machine shared with other users, wall-clock budgets give each recipe whatever CPU the others
    leave; CPU time of a single-threaded run is the same compute for every recipe."""

    def __init__(self, seconds: float):
        self.seconds, self.used, self.hit = seconds, 0.0, False

    def on_start(self, trainer) -> None:
        self.start = time.process_time()

    def on_step(self, trainer, stats) -> None:
        self.used = time.process_time() - self.start
        if self.used >= self.seconds:
            self.hit = True
            trainer.total_steps = trainer.step  # the loop stops before the next step


def run_dir_of(name: str, args: argparse.Namespace) -> Path:
    """Where a recipe's run is kept: one folder per recipe, length of training and seed, so that a run is
    only reused by an invocation that would have trained exactly it."""
    length = f"steps{args.steps}" if args.steps else f"cpu{args.budget:g}s"
    return args.workdir / f"{name}-{length}-seed{args.seed}"


def train_recipe(name: str, args: argparse.Namespace) -> dict:
    """Train one recipe into ``run_dir_of`` (kept, so the scoring pass can be re-run on its own)."""
    run_dir = run_dir_of(name, args)
    if (run_dir / "summary.json").is_file() and (run_dir / "bench.json").is_file():
        return json.loads((run_dir / "bench.json").read_text())  # trained by an earlier invocation
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a run cut short by an earlier invocation: start it again
    overrides = {"data.name": "mnist", "data.root": args.data_root, "data.download": False,
                 "train.max_time": args.wall_limit, "train.steps": args.steps, "train.threads": args.threads,
                 "train.seed": args.seed,
                 "log.progress": False, "log.tensorboard": False, "log.report": False,
                 "log.sample_every": 10**9, "log.checkpoint_every": 10**9, "log.log_every": 100,
                 "out": str(run_dir)}
    cfg = resolve_config(name, None, overrides)
    load_before = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    budget = CPUBudget(args.budget if not args.steps else float("inf"))
    run_config(cfg, callbacks=[budget], quiet=True, progress=False)
    wall = time.perf_counter() - t0
    summary = json.loads((run_dir / "summary.json").read_text())
    row = {"recipe": name, "seed": args.seed, "paper": RECIPES.get(name).paper, "steps": summary["steps"],
           "epochs": summary["epochs"], "cpu_seconds": round(budget.used, 1),
           "train_seconds": summary["train_seconds"], "wall_seconds": round(wall, 1),
           "stopped": "CPU budget" if budget.hit else summary["stopped"],
           "images_per_step": cfg.train.batch_size * (cfg.optim.n_critic + 1), "load_avg_1m": load_before}
    (run_dir / "bench.json").write_text(json.dumps(row, indent=2))
    return row


def score_recipe(row: dict, args: argparse.Namespace) -> dict:
    """FID/KID of the run's samples (its EMA generator when it has one), class accuracy, code purity."""
    run = load_run(run_dir_of(row["recipe"], args))
    t1 = time.perf_counter()
    fake = run.sample(args.samples, seed=args.seed + 100)
    scores = evaluate(fake, "mnist", metrics="fid,kid", extractor="mnist", data_root=args.data_root)
    row = {**row, "fid": round(scores["fid"], 3), "kid": round(scores["kid"], 5)}
    if run.num_classes:
        row.update(class_accuracy(run, args.per_class, seed=args.seed + 200))
    m = run.config.model
    if m.info_categories:
        images, per_row = code_sweep(run, "cat", rows=args.per_class, seed=args.seed + 300)
        pred = classify(images).view(-1, per_row)  # (rows, categories)
        purity = [torch.bincount(pred[:, c], minlength=10).max().item() / pred.shape[0] for c in range(per_row)]
        row.update(info_purity=round(sum(purity) / len(purity), 4))
    row["eval_seconds"] = round(time.perf_counter() - t1, 1)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    mc = meta["machine"]
    how = (f"{meta['steps']} generator steps" if meta.get("steps") else
           f"{meta['budget']:g} s of CPU time (one thread; at most {meta['wall_limit']:g} s wall clock)")
    lines = [
        f"Each recipe trained on MNIST train for {how}, then "
        f"{meta['samples']} samples scored against MNIST test with the built-in digit-classifier features "
        f"(FID, KID: lower is better). Class accuracy: {meta['per_class']} samples per class drawn with "
        f"`--class k` and classified by the built-in MNIST classifier (mean over classes, worst class in "
        f"brackets). Machine: {mc['cpu']}, {mc['cores']} cores shared with other users, "
        f"{mc['torch_threads']} torch thread(s), torch {mc['torch']}. Command: `{meta['command']}` "
        f"({meta['date']}).",
        "",
        "| recipe | steps | epochs | CPU s | wall s | FID | KID | class acc | paper |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['recipe']} | failed: {r['error']} | | | | | | | {r.get('paper', '')} |")
            continue
        acc = f"{100 * r['class_acc']:.1f} % ({100 * r['class_acc_min']:.0f} %)" if "class_acc" in r else \
            (f"code purity {100 * r['info_purity']:.1f} %" if "info_purity" in r else "")
        lines.append(f"| {r['recipe']} | {r['steps']} | {r['epochs']:.2f} | {r['cpu_seconds']:.0f} | "
                     f"{r['wall_seconds']:.0f} | {r['fid']:.2f} | {r['kid']:.4f} | {acc} | {r['paper']} |")
    return "\n".join(lines) + "\n"


def seeds_table(out: Path, steps: int) -> str:
    """The class-accuracy tables of every seed run at ``steps`` (recipes-steps-N[-seedS].json), then each
    recipe's mean and worst seed."""
    parts, acc = [], {}
    for path in sorted(out.glob(f"recipes-steps-{steps}*.json")):
        result = json.loads(path.read_text())
        seed = result["rows"][0].get("seed", 0) if result["rows"] else 0
        parts.append(f"Seed {seed}. " + markdown(result["rows"], result))
        for r in result["rows"]:
            if "class_acc" in r:
                acc.setdefault(r["recipe"], []).append(r["class_acc"])
    if acc:
        parts.append("| recipe | seeds | mean class acc | worst seed |\n|---|---:|---:|---:|\n" + "".join(
            f"| {name} | {len(a)} | {100 * sum(a) / len(a):.1f} % | {100 * min(a):.1f} % |\n" for name, a in acc.items()))
    return "\n".join(parts)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=os.environ.get("GANKIT_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training per recipe (default 60)")
    p.add_argument("--wall-limit", type=float, default=300.0,
                   help="wall-clock cap per recipe, for a very busy machine (default 300 s)")
    p.add_argument("--steps", type=int, default=None,
                   help="train a fixed number of generator steps instead of the CPU budget (the class-accuracy "
                        "check of the conditional recipes); results go to recipes-steps-N.json/.md")
    p.add_argument("--recipes", default=",".join(ORDER), help="comma list (default: all)")
    p.add_argument("--samples", type=int, default=5000, help="samples scored for FID/KID (default 5000)")
    p.add_argument("--per-class", type=int, default=100, help="samples per class for class accuracy")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1: a shared machine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--check", action="store_true", help="exit 1 if a conditional recipe is below 90 %% accuracy")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite the table in docs/recipes.md")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "gankit-bench-recipes",
                   help="where the runs are kept; a recipe already trained there is not trained again")
    p.add_argument("--train-only", action="store_true", help="train (or find) the runs, do not score them")
    p.add_argument("--score-only", action="store_true", help="score the runs already in --workdir")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    for n in names:
        RECIPES.get(n)  # unknown names fail before any training

    trained = []
    if not args.score_only:
        for name in names:
            length = f"{args.steps} steps" if args.steps else f"{args.budget:g} CPU s"
            print(f"[{time.strftime('%H:%M:%S')}] {name}: training {length} ...", flush=True)
            try:
                trained.append(train_recipe(name, args))
            except Exception as exc:  # one broken recipe must not hide the others' numbers
                trained.append({"recipe": name, "paper": RECIPES.get(name).paper, "error": _why(exc)})
            print(f"    {json.dumps(trained[-1])}", flush=True)
    else:
        trained = [json.loads((run_dir_of(n, args) / "bench.json").read_text()) for n in names]
    if args.train_only:
        return 0
    rows = []
    for row in trained:
        if "error" not in row:
            print(f"[{time.strftime('%H:%M:%S')}] {row['recipe']}: scoring ...", flush=True)
            try:
                row = score_recipe(row, args)
            except Exception as exc:
                row = {**row, "error": _why(exc)}
        rows.append(row)

    meta = {"budget": args.budget, "wall_limit": args.wall_limit, "samples": args.samples, "per_class": args.per_class,
            "machine": machine(args.threads), "date": time.strftime("%Y-%m-%d"),
            "command": "python bench/bench_recipes.py " + " ".join(sys.argv[1:])}
    meta["steps"] = args.steps
    table = markdown(rows, meta)
    stem = (f"recipes-steps-{args.steps}" if args.steps else "recipes") + (f"-seed{args.seed}" if args.seed else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(table)
    if not args.no_doc and args.steps:  # every seed run so far of this length, one table
        update_doc(DOC, f"conditional-{args.steps}", seeds_table(args.out, args.steps))
    print(table)
    low = [r["recipe"] for r in rows if r.get("class_acc", 1.0) < 0.9 or "error" in r]
    if args.check and low:
        print(f"below 90 % class accuracy or failed: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
