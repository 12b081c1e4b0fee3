"""Time to quality: FID against training wall-clock under a fixed budget, gankit recipes next to the
tutorial-style loops.

Every contender trains on MNIST train for ``budget`` seconds of its own training clock (evaluation
pauses it). At fixed fractions of the budget, 10k samples (fixed latents, G in eval mode, the EMA copy
where a recipe keeps one) are scored by FID with the built-in MNIST classifier against MNIST test
(cached statistics). gankit contenders run ``Trainer.fit`` (divergence guard included); the budget is
``train.max_time``. Targets for the recommended recipe (``RECOMMENDED``) against the tutorial DCGAN:
FID at the budget at least 3x lower, and the tutorial's final FID reached within a fifth of the budget.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import class_accuracy, gankit_config, load_images, machine, machine_line, save_figure
from bench.tutorial_loops import TutorialGAN
from gankit.errors import GankitError

RECOMMENDED = "projection-cgan"  # lowest FID at the 10-minute budget, within the time target
FRACTIONS = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
TUTORIALS = ("tutorial-mlp-gan", "tutorial-dcgan")


def fractions(points: int) -> tuple[float, ...]:
    """Evaluation times as fractions of the budget: the default six, or ``points`` spaced evenly in log."""
    if points == len(FRACTIONS):
        return FRACTIONS
    if points < 1:
        raise ValueError("need at least one evaluation point")
    return tuple(round(0.05 ** (1 - i / (points - 1)), 4) for i in range(points)) if points > 1 else (1.0,)


def all_contenders() -> list[str]:
    from gankit.recipes import RECIPES

    return [*TUTORIALS, *(name for name in RECIPES.names() if RECIPES.get(name).task == "gan")]  # z -> image recipes


class Contender:
    """A training run the bench can advance to a time and sample from."""

    def __init__(self, name: str, dataset: Any, overrides: dict[str, Any]):
        self.name = name
        if name.startswith("tutorial-"):
            self.loop = TutorialGAN(name.removeprefix("tutorial-"), dataset.images)
            self.trainer = None
        else:
            from gankit.engine.trainer import Trainer

            cfg = gankit_config(name, {"train.steps": None, "train.epochs": None, "train.max_time": 1.0,
                                       **overrides})
            ds = dataset
            if cfg.data.resolution and cfg.data.resolution != dataset.shape[1]:
                from gankit.data import fit_images

                ds = type(dataset)(fit_images(dataset.images, cfg.data.resolution, None, name), dataset.labels,
                                   dataset.num_classes, dataset.name, dataset.class_names)
            self.trainer = Trainer(cfg, ds)

    @property
    def elapsed(self) -> float:
        return self.loop.elapsed if self.trainer is None else self.trainer.elapsed

    @property
    def steps(self) -> int:
        return self.loop.steps if self.trainer is None else self.trainer.step

    @property
    def batch_size(self) -> int:
        return self.loop.batch_size if self.trainer is None else self.trainer.config.train.batch_size

    def train_until(self, seconds: float) -> None:
        if self.trainer is None:
            self.loop.train_for(seconds - self.loop.elapsed)
            return
        self.trainer.config.train.max_time = seconds
        self.trainer.fit()

    @property
    def conditional(self) -> bool:
        return self.trainer is not None and bool(self.trainer.task.num_classes)

    def run(self) -> Any:
        from gankit.engine.rundir import Run

        return Run("", trainer=self.trainer)

    def sample(self, n: int) -> torch.Tensor:
        return self.loop.sample(n, seed=0) if self.trainer is None else self.run().sample(n, seed=0)


def run_contender(name: str, dataset: Any, ref: Any, budget: float, n_samples: int, fractions: tuple[float, ...],
                  overrides: dict[str, Any] | None = None, log: Any = print, label: str | None = None
                  ) -> dict[str, Any]:
    """Train ``name`` (a recipe or tutorial loop, plus config ``overrides``) and score it along the way.
    ``ref=None`` keeps the samples (uint8) in the curve for ``score_later`` instead of scoring them now."""
    from gankit.metrics import evaluate

    torch.manual_seed(0)
    c = Contender(name, dataset, overrides or {})
    name = label or name
    curve, status = [], "ok"
    for f in fractions:
        try:
            c.train_until(budget * f)
        except GankitError as exc:  # diverged (the guard gave up): the curve ends here
            status = f"stopped: {exc}"
            break
        t = time.perf_counter()
        fake = c.sample(n_samples)
        point = {"train_s": round(c.elapsed, 2), "steps": c.steps, "images_seen": c.steps * c.batch_size,
                 "load_avg_1m": round(os.getloadavg()[0], 2)}  # other users of the machine slow every contender
        if ref is None:
            point["samples"] = fake.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
            log(f"  {name:24s} t={point['train_s']:7.1f}s steps={point['steps']:6d} (scored later)")
        else:
            final = f == fractions[-1]  # the budget's end also gets KID and, if conditional, class accuracy
            scores = evaluate(fake, ref, metrics="fid,kid" if final else "fid", extractor="mnist")
            point.update({k: scores[k] for k in ("fid", "kid") if k in scores})
            if final and c.conditional:
                point.update(class_accuracy(c.run(), per_class=100))
            point["eval_s"] = round(time.perf_counter() - t, 2)
            log(f"  {name:24s} t={point['train_s']:7.1f}s steps={point['steps']:6d} FID={point['fid']:8.2f} "
                f"(eval {point['eval_s']:.1f}s)")
        curve.append(point)
    return {"contender": name, "overrides": overrides or {}, "curve": curve, "status": status}


def score_later(runs: list[dict[str, Any]], ref: Any, log: Any = print) -> None:
    """Score the samples ``run_contender(ref=None)`` kept, in place."""
    from gankit.metrics import evaluate

    for r in runs:
        for p in r["curve"]:
            if "samples" in p:
                t = time.perf_counter()
                p["fid"] = evaluate(p.pop("samples"), ref, metrics="fid", extractor="mnist")["fid"]
                p["eval_s"] = round(time.perf_counter() - t, 2)
                log(f"  {r['contender']:24s} t={p['train_s']:7.1f}s FID={p['fid']:8.2f}")


def time_to_reach(curve: list[dict[str, Any]], target: float) -> float | None:
    """Training seconds at which the curve first reaches ``target`` FID, interpolated in log FID between
    the evaluation before and the one at which it got there; None if it never did."""
    prev = None
    for p in curve:
        if p["fid"] <= target:
            if prev is None or prev["fid"] <= p["fid"]:
                return p["train_s"]
            a, b = math.log(prev["fid"]), math.log(p["fid"])
            w = (a - math.log(target)) / (a - b)
            return prev["train_s"] + w * (p["train_s"] - prev["train_s"])
        prev = p
    return None


def targets(runs: list[dict[str, Any]], recommended: str = RECOMMENDED) -> dict[str, Any]:
    by = {r["contender"]: r for r in runs if r["curve"]}
    if recommended not in by or "tutorial-dcgan" not in by:
        return {}
    rec, tut = by[recommended]["curve"], by["tutorial-dcgan"]["curve"]
    budget_t = tut[-1]["train_s"]
    reach = time_to_reach(rec, tut[-1]["fid"])
    return {"recommended": recommended, "tutorial_dcgan_final_fid": tut[-1]["fid"], "recommended_final_fid": rec[-1]["fid"],
            "fid_ratio": tut[-1]["fid"] / rec[-1]["fid"], "fid_ratio_target": 3.0,
            "time_to_tutorial_final_fid_s": reach,
            "time_fraction": None if reach is None else reach / budget_t, "time_fraction_target": 0.2}


def _job(name: str, data: str, data_root: str, limit: int | None, budget: float, n_samples: int,
         fractions: tuple[float, ...], overrides: dict[str, Any] | None, threads: int) -> dict[str, Any]:
    """One contender in a worker process of its own (``run(jobs=N)``)."""
    from gankit.metrics.evaluate import reference_features

    torch.set_num_threads(threads)
    dataset = load_images(data, data_root, limit)
    ref = reference_features(f"{data}:test", "mnist", data_root=data_root)
    return run_contender(name, dataset, ref, budget, n_samples, fractions, overrides, log=_flush_print)


def _flush_print(line: str) -> None:
    print(line, flush=True)


def run(contenders: list[str] | None = None, budget: float = 600.0, n_samples: int = 10000,
        data: str = "mnist", data_root: str = "data", limit: int | None = None,
        fractions: tuple[float, ...] = FRACTIONS, overrides: dict[str, dict[str, Any]] | None = None,
        log: Any = print, jobs: int = 1) -> dict[str, Any]:
    """Every contender for ``budget`` seconds. ``jobs`` > 1 runs that many contenders at once, each in its own
    process with the torch thread count of this one: on an otherwise idle machine with ``jobs`` x threads
    cores, each gets the same hardware it would get alone, and the whole run takes 1/jobs of the time."""
    from gankit.metrics.evaluate import reference_features

    names = contenders or all_contenders()
    overrides = overrides or {}
    ref = reference_features(f"{data}:test", "mnist", data_root=data_root)  # builds the cache once, up front
    log(f"time to quality: budget {budget:g}s each, {jobs} at a time, FID of {n_samples} samples vs {data} test; "
        f"{machine_line()}")
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_job, name, data, data_root, limit, budget, n_samples, fractions,
                                   overrides.get(name), torch.get_num_threads()) for name in names]
            runs = [f.result() for f in futures]
    else:
        dataset = load_images(data, data_root, limit)
        runs = [run_contender(name, dataset, ref, budget, n_samples, fractions, overrides.get(name), log)
                for name in names]
    return {"bench": "time_to_quality", "machine": machine(), "budget_s": budget, "n_samples": n_samples,
            "data": data, "limit": limit, "jobs": jobs, "runs": runs, "targets": targets(runs)}


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    colors = plt.get_cmap("tab20").colors  # 15+ contenders: tab10 would give two curves one colour
    for i, r in enumerate(result["runs"]):
        if not r["curve"]:
            continue
        name = r["contender"]
        tutorial = name.startswith("tutorial-")
        ax.plot([p["train_s"] for p in r["curve"]], [p["fid"] for p in r["curve"]], "o--" if tutorial else "o-",
                lw=3.5 if name == RECOMMENDED else 1.5, color="k" if name == "tutorial-dcgan" else colors[i % 20],
                label=name + (" (recommended)" if name == RECOMMENDED else ""))
    ax.set(xscale="log", yscale="log", xlabel="training wall-clock (s, evaluation excluded)",
           ylabel=f"FID ({result['n_samples']} samples vs MNIST test, built-in extractor)",
           title=f"time to quality, budget {result['budget_s']:g} s per run")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, path, result["machine"])


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Budget {result['budget_s']:g} s of training per contender; FID of {result['n_samples']} samples.", "",
             "| contender | steps | images/s | FID at 1/5 budget | FID at budget | KID at budget | class acc (worst) "
             "| status |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        c = r["curve"]
        if not c:
            lines.append(f"| {r['contender']} | | | | | | | {r['status']} |")
            continue
        fifth = min(c, key=lambda p: abs(p["train_s"] - 0.2 * result["budget_s"]))
        end = c[-1]
        ips = end["images_seen"] / end["train_s"] if end["train_s"] else 0
        kid = f"{end['kid']:.4f}" if "kid" in end else ""
        acc = f"{100 * end['class_acc']:.1f} % ({100 * end['class_acc_min']:.0f} %)" if "class_acc" in end else ""
        lines.append(f"| {r['contender']} | {end['steps']} | {ips:.0f} | {fifth['fid']:.1f} | **{end['fid']:.1f}** | "
                     f"{kid} | {acc} | {r['status'][:80]} |")
    t = result.get("targets")
    if t:
        reach = t["time_to_tutorial_final_fid_s"]
        lines += ["", f"Recommended recipe `{t['recommended']}` vs the tutorial DCGAN loop: FID at the budget "
                  f"{t['recommended_final_fid']:.1f} vs {t['tutorial_dcgan_final_fid']:.1f} = **{t['fid_ratio']:.1f}x lower** "
                  f"(target >= 3x); reaches the tutorial's final FID after "
                  + (f"**{reach:.0f} s = {100 * t['time_fraction']:.0f}% of the budget** (target <= 20%)." if reach is not None
                     else "**never within the budget**.")]
    return "\n".join(lines)


RECIPES_DOC = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"


def update_recipes_doc(result: dict[str, Any], doc: Path = RECIPES_DOC) -> bool:
    """Put the table into docs/recipes.md (the ``bench:recipes`` block) when the run covered every recipe:
    it is the recipes' FID/KID and class accuracy at one fixed budget, measured side by side."""
    from bench.common import update_doc
    from gankit.recipes import RECIPES

    if not {n for n in RECIPES.names() if RECIPES.get(n).task == "gan"} <= {r["contender"] for r in result["runs"]}:
        return False
    m = result["machine"]
    head = (f"`{result.get('command', 'python -m bench ttq')}` on {m['cpu']}, {m['cores']} cores, "
            f"{m['torch_threads']} torch thread(s) per contender, {result.get('jobs', 1)} contenders at a time, "
            f"torch {m['torch']}. Class accuracy: 100 samples per class drawn with `--class k` and classified "
            "by the built-in MNIST classifier (mean over classes, worst class in brackets).\n\n")
    update_doc(doc, "recipes", head + markdown(result) + "\n")
    return True
