"""Benchmark: how long evaluation takes on this machine, and the MNIST train-vs-test floor.

    .venv/bin/python bench/bench_eval.py --data-root ../shared/data

1. Reference statistics of MNIST test (10,000 images) with the built-in extractor, computed once and
   cached (timed separately: a training run or `gankit eval` pays this once per dataset).
2. FID + KID + precision/recall of N samples against those cached statistics, N = 1k, 2k, 5k, 10k,
   including feature extraction (the samples are MNIST train digits: the cost does not depend on
   what the images show). The 10k row is the issue's target: under 30 s on a 2-core CPU.
3. The floor: MNIST train (60,000) vs MNIST test with the built-in extractor - the FID that a perfect
   generator of MNIST-train-like digits would get, so any generator is compared to it.
Writes bench/results/eval.json and bench/results/eval.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import cpu_model  # noqa: E402
from gankit.config import DataConfig  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.metrics import EvalOptions, evaluate, get_extractor, reference_features  # noqa: E402
from gankit.metrics.evaluate import build_feature_set  # noqa: E402
from gankit.metrics.fid import frechet_distance  # noqa: E402
from gankit.metrics.kid import kid  # noqa: E402
from gankit.metrics.knn import manifold_metrics  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def timed_cpu(fn):
    """Wall seconds and this process's CPU seconds: with 2 threads on an idle 2-core machine CPU time
    approaches 2x wall; far less means other jobs were taking the cores."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=os.environ.get("GANKIT_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--sizes", default="1000,2000,5000,10000")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice, the core count)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "torch": torch.__version__, "python": platform.python_version(),
               "load_average_at_start": list(os.getloadavg())}
    print(f"machine: {machine}")
    opts = EvalOptions()
    metrics = "fid,kid,precision,recall"
    test = load_dataset(DataConfig(name="mnist", root=args.data_root, split="test", download=False))
    train = load_dataset(DataConfig(name="mnist", root=args.data_root, split="train", download=False))
    ex = get_extractor("mnist")
    cache = Path(tempfile.mkdtemp(prefix="gankit-bench-"))
    ref, t_ref = timed(lambda: reference_features(test, ex, options=opts, cache_dir=cache))
    _, t_ref_cached = timed(lambda: reference_features(test, ex, options=opts, cache_dir=cache))
    print(f"reference stats of MNIST test: {t_ref:.2f}s to compute and cache, {t_ref_cached:.2f}s from the cache")
    evaluate(train.images[:200], ref, "fid", ex, options=opts)  # warm-up (first-call allocations)

    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        fake = train.images[:n]
        result, total, cpu = timed_cpu(lambda: evaluate(fake, ref, metrics, ex, options=opts))  # noqa: B023
        # the same work step by step, to show where the time goes
        # each lambda runs at once, inside this iteration (B023 is about closures that outlive the loop)
        fs, t_feat = timed(lambda: build_feature_set(fake, ex, keep=opts.max_features, seed=opts.seed + 1))  # noqa: B023
        _, t_fid = timed(lambda: frechet_distance(*fs.stats(), *ref.stats()))  # noqa: B023
        _, t_kid = timed(lambda: kid(fs.features, ref.features, opts.kid_subsets, opts.kid_subset_size, opts.seed))  # noqa: B023
        _, t_pr = timed(lambda: manifold_metrics(fs.features, ref.features, pr_k=3, dc_k=None,  # noqa: B023
                                                 real_radii={3: ref.knn_radii(3)}))
        row = {"n": n, "total_s": round(total, 2), "cpu_s": round(cpu, 2), "features_s": round(t_feat, 2),
               "fid_s": round(t_fid, 3), "kid_s": round(t_kid, 2), "pr_s": round(t_pr, 2),
               **{k: round(v, 6) for k, v in result.items()}}
        rows.append(row)
        print(f"N={n:>6}: {total:6.2f}s total, {cpu:.2f}s CPU (features {t_feat:.2f}s, FID {t_fid:.3f}s, KID {t_kid:.2f}s, "
              f"PR {t_pr:.2f}s)  {result}", flush=True)

    floor = None
    if not args.skip_floor:
        floor, t_floor = timed(lambda: evaluate(train, ref, "fid,kid,prdc,class_kl,mnist_score", ex, options=opts))
        floor = {k: round(v, 6) for k, v in floor.items()}
        print(f"floor, MNIST train (60k) vs test (10k), built-in extractor: {floor} ({t_floor:.1f}s)")
    machine["load_average_at_end"] = list(os.getloadavg())

    args.out.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine, "metrics": metrics, "options": opts.__dict__, "reference_seconds": round(t_ref, 2),
              "reference_cached_seconds": round(t_ref_cached, 3), "rows": rows, "floor_train_vs_test": floor,
              "command": "python bench/bench_eval.py " + " ".join(sys.argv[1:])}
    (args.out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    md = ["# Evaluation speed (gankit.metrics)", "",
          f"Machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']} "
          f"({machine['torch_threads']} threads), load average at start {machine['load_average_at_start'][0]:.1f}.",
          f"Command: `{report['command']}`", "",
          f"Reference statistics of MNIST test (10k, built-in extractor): {t_ref:.2f} s once, then "
          f"{t_ref_cached:.2f} s from the cache.", "",
          "| samples | total wall (s) | process CPU (s) | features (s) | FID (s) | KID (s) | precision/recall (s) "
          "| FID | KID | precision | recall |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['n']} | {r['total_s']} | {r['cpu_s']} | {r['features_s']} | {r['fid_s']} | {r['kid_s']} | {r['pr_s']} | "
                  f"{r['fid']:.4f} | {r['kid']:.6f} | {r['precision']:.4f} | {r['recall']:.4f} |")
    if floor:
        md += ["", "Floor, MNIST train (60,000) vs MNIST test (10,000), built-in extractor:", "",
               "| " + " | ".join(floor) + " |", "|" + "---:|" * len(floor), "| " + " | ".join(f"{v:.4f}" if abs(v) > 1e-3
                                                                                           else f"{v:.2e}"
                                                                                           for v in floor.values()) + " |"]
    (args.out / "eval.md").write_text("\n".join(md) + "\n")
    print(f"wrote {args.out / 'eval.json'} and {args.out / 'eval.md'}")


if __name__ == "__main__":
    main()
