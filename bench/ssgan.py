"""Semi-supervised MNIST from 100 labels (10 per class), Salimans et al. 2016's setting: the ssgan recipe
(K+1-class D, feature matching) against the same D trained on the 100 labelled images alone at the same
number of steps, error on all of MNIST test, per label selection (data.label_seed).

    python -m bench ssgan --data-root ../shared/data --label-seeds 0,1,2 --ssgan-steps 3000
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import common

PAPER = {"error_pct": 0.93, "std_pct": 0.07, "cite": "Salimans et al. 2016, Improved Techniques for Training GANs, "
         "Table 1 (MNIST, 100 labels, feature matching)"}
CONTENDERS = {"ssgan": [], "D on the labelled images only": ["--set", "task.supervised_only=true"]}


def run(data_root: str, seeds: list[int], steps: int, threads: int = 1, per_class: int = 10) -> dict[str, Any]:
    from gankit.app.classify import Classifier
    from gankit.app.cli import main as gankit
    from gankit.metrics.evaluate import load_images

    test_x, test_y, _ = load_images("mnist:test", data_root)
    errors: dict[str, dict[str, float]] = {c: {} for c in CONTENDERS}
    seconds: dict[str, float] = {c: 0.0 for c in CONTENDERS}
    with tempfile.TemporaryDirectory(prefix="gankit-ssgan-") as tmp:
        for seed in seeds:
            for name, extra in CONTENDERS.items():
                t = time.perf_counter()
                out = Path(tmp) / f"{len(extra)}-{seed}"
                args = ["train", "--recipe", "ssgan", "--data", "mnist", "--data-root", data_root, "--steps", str(steps),
                        "--set", f"data.labels_per_class={per_class}", "--set", f"data.label_seed={seed}",
                        "--set", f"train.threads={threads}", "--out", str(out), "--quiet", "--no-tensorboard",
                        "--no-report", *extra]
                if gankit(args) != 0:
                    raise RuntimeError(f"training {name} (label seed {seed}) failed")
                pred = Classifier(out)(test_x)
                errors[name][str(seed)] = float((pred != test_y).mean())
                seconds[name] += time.perf_counter() - t
                print(f"label seed {seed}: {name} error {100 * errors[name][str(seed)]:.2f} %", flush=True)
    summary = {n: {"mean": float(np.mean(list(e.values()))), "std": float(np.std(list(e.values())))}
               for n, e in errors.items()}
    return {"machine": common.machine(), "seeds": seeds, "steps": steps, "labels": per_class * 10, "errors": errors,
            "summary": summary, "seconds": {k: round(v, 1) for k, v in seconds.items()}, "paper": PAPER}


def markdown(result: dict[str, Any]) -> str:
    seeds = result["seeds"]
    lines = ["| method | " + " | ".join(f"label seed {s}" for s in seeds) + " | mean ± std | seconds |",
             "|---|" + "---:|" * (len(seeds) + 2)]
    for name, per in result["errors"].items():
        s = result["summary"][name]
        lines.append(f"| {name} | " + " | ".join(f"{100 * per[str(x)]:.2f} %" for x in seeds)
                     + f" | {100 * s['mean']:.2f} ± {100 * s['std']:.2f} % | {result['seconds'][name]:.0f} |")
    p = result["paper"]
    lines.append("| paper (Salimans et al. 2016) | " + " | ".join("" for _ in seeds)
                 + f" | {p['error_pct']:.2f} ± {p['std_pct']:.2f} % | |")
    return "\n".join(lines)
