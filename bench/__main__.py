"""gankit's benchmarks: ``python -m bench`` (or ``make bench``) runs them all and writes the results.

    python -m bench                          # everything, full size (hours on a 2-core CPU: see docs/performance.md)
    python -m bench throughput hardware      # only these
    python -m bench ttq --budget 3m --contenders tutorial-dcgan,mnist-fast
    python -m bench --quick                  # seconds-long smoke version (CI), embedded digits

Results: bench/results/<bench>.json (with the machine), bench/results/README.md (Markdown tables),
plots in docs/images/. Only ratios measured side by side in one run count: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCHES = ("throughput", "micro", "hardware", "scaling", "bf16", "ttq", "anomaly", "ssgan", "apps")
REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from gankit.config import parse_duration

    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benches", nargs="*", choices=[[], *BENCHES], metavar="BENCH",
                   help=f"which benches to run: {', '.join(BENCHES)} (default: all)")
    p.add_argument("--quick", action="store_true", help="seconds-long smoke version on the embedded digits (CI)")
    p.add_argument("--budget", default="10m", help="time-to-quality (and apps) training budget per contender "
                   "(default 10m)")
    p.add_argument("--contenders", default="", help="time-to-quality contenders, comma-separated "
                   "(tutorial-mlp-gan, tutorial-dcgan, recipe names; default: all)")
    p.add_argument("--samples", type=int, default=10000, help="samples per FID evaluation (default 10000)")
    p.add_argument("--data", default="mnist", help="dataset name (default mnist)")
    p.add_argument("--data-root", default=None, help="folder holding MNIST/raw (default $GANKIT_DATA or ./data)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per throughput contender (default 5)")
    p.add_argument("--points", type=int, default=6, help="time-to-quality evaluations per run (default 6)")
    p.add_argument("--jobs", type=int, default=1, help="time-to-quality contenders run at once, one process each "
                   "(default 1; use cores / --threads on an otherwise idle machine)")
    p.add_argument("--bf16-steps", type=int, default=300, help="steps per run of the bf16 quality check")
    p.add_argument("--variants", default="", help="throughput: gankit variants to time, comma-separated "
                   "(default: all; see bench/throughput.py VARIANTS)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (compiles for minutes on CPU)")
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9", help="anomaly: normal digits (default all ten)")
    p.add_argument("--anomaly-steps", type=int, default=300,
                   help="anomaly: steps of the GAN, its encoder and the autoencoder per digit (default 300)")
    p.add_argument("--label-seeds", default="0,1,2", help="ssgan: label selections (data.label_seed), default 0,1,2")
    p.add_argument("--ssgan-steps", type=int, default=3000, help="ssgan: training steps of each contender")
    p.add_argument("--tag", default="", help="suffix of the result files (ttq-TAG.json), to keep several runs")
    p.add_argument("--out", default=str(REPO / "bench" / "results"), help="results folder")
    p.add_argument("--plots", default=str(REPO / "docs" / "images"), help="plots folder")
    args = p.parse_args(argv)
    try:
        args.budget_s = parse_duration(args.budget)
    except ValueError as exc:
        p.error(f"--budget: {exc}")
    if args.budget_s <= 0:
        p.error("--budget must be positive")
    if args.points < 1 or args.bf16_steps < 1 or args.samples < 2 or args.repeats < 1:
        p.error("--points, --bf16-steps and --repeats must be at least 1, --samples at least 2")
    from bench.throughput import VARIANTS

    bad = [v for v in args.variants.split(",") if v.strip() and v.strip() not in VARIANTS]
    if bad:
        p.error(f"--variants: unknown variant {bad[0].strip()!r}; choose from {', '.join(VARIANTS)}")
    args.benches = args.benches or list(BENCHES)
    return args


def main(argv: list[str] | None = None) -> int:
    import torch

    from bench import common
    from gankit.errors import GankitError
    from gankit.metrics.evaluate import default_data_root

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out, plots = Path(args.out), Path(args.plots)
    root = args.data_root or default_data_root()
    data, limit = ("digits", None) if args.quick else (args.data, None)
    print(f"machine: {common.machine_line()}")
    try:
        for name in args.benches:
            t = time.perf_counter()
            result = run_bench(name, args, data, root, limit, plots)
            result["command"] = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
            result["wall_s"] = round(time.perf_counter() - t, 1)
            path = common.write_json(name + suffix(args), result, out)
            if name == "ttq" and not args.quick:
                from bench.time_to_quality import update_recipes_doc

                update_recipes_doc(result)
            print(f"{name}: {result['wall_s']:.0f} s -> {path}")
            print(markdown(name, result))
    except GankitError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    write_readme(out, quick=args.quick)
    return 0


def suffix(args: argparse.Namespace) -> str:
    return ("-quick" if args.quick else "") + (f"-{args.tag}" if args.tag else "")


def run_bench(name: str, args: argparse.Namespace, data: str, root: str, limit: int | None, plots: Path
              ) -> dict[str, Any]:
    q = args.quick
    if name == "throughput":
        from bench import throughput

        return throughput.run(data, root, batch_size=32 if q else 128, steps=1 if q else 5,
                              repeats=1 if q else args.repeats, limit=limit if q else 20000, compile_=args.compile,
                              variants=[v.strip() for v in args.variants.split(",") if v.strip()] or None)
    if name == "bf16":
        from bench import bf16_quality

        return bf16_quality.run(data, root, steps=3 if q else args.bf16_steps, n_samples=200 if q else args.samples)
    if name == "micro":
        from bench import micro

        return micro.run(data, root, batch_size=32 if q else 128, repeats=1 if q else 7, steps=2 if q else 5,
                         limit=limit if q else 20000)
    if name == "hardware":
        from bench import hardware

        return hardware.run(data, root, batch_size=32 if q else 128, repeats=1 if q else 5, peak_n=256 if q else 2048,
                            limit=limit if q else 20000)
    if name == "scaling":
        from bench import scaling

        kw = dict(batch_sizes=(16, 32), resolutions=(28, 32), threads=(1,), eval_sizes=(100, 200), repeats=1,
                  limit=None) if q else {}
        result = scaling.run(data, root, **kw)
        result["plot"] = str(scaling.plot(result, plots / f"bench_scaling{suffix(args)}.png"))
        return result
    if name == "ssgan":
        from bench import ssgan

        seeds = [int(s) for s in args.label_seeds.split(",") if s.strip()]
        return ssgan.run(root, seeds[:1] if q else seeds, steps=3 if q else args.ssgan_steps, threads=args.threads)
    if name == "anomaly":
        from bench import anomaly

        digits = [int(d) for d in args.digits.split(",") if d.strip()]
        return anomaly.run(root, digits[:1] if q else digits, steps=5 if q else args.anomaly_steps,
                           threads=args.threads, quick=q)
    if name == "apps":
        from bench import apps

        return apps.run(data, root, budget=3.0 if q else args.budget_s, n_test=100 if q else 2000,
                        threads=args.threads, plots=plots, suffix=suffix(args))
    from bench import time_to_quality as ttq

    names = [c.strip() for c in args.contenders.split(",") if c.strip()] or None
    if q:
        names = names or ["tutorial-dcgan", "dcgan"]
    known = ttq.all_contenders()
    for n in names or []:
        if n not in known:
            from gankit.errors import ConfigError
            from gankit.registry import unknown_name_message

            raise ConfigError(unknown_name_message("contender", n, known))
    result = ttq.run(names, budget=2.0 if q else args.budget_s, n_samples=200 if q else args.samples, data=data,
                     data_root=root, limit=limit, fractions=(0.5, 1.0) if q else ttq.fractions(args.points),
                     jobs=args.jobs)
    result["plot"] = str(ttq.plot(result, plots / f"bench_time_to_quality{suffix(args)}.png"))
    return result


def markdown(name: str, result: dict[str, Any]) -> str:
    import importlib

    module = importlib.import_module(f"bench.{MODULES.get(name, name)}")
    return module.markdown(result)


MODULES = {"ttq": "time_to_quality", "bf16": "bf16_quality"}
TITLES = {"throughput": "Throughput at equal work (images/s, gankit vs the tutorial-style loop, side by side)",
          "micro": "Engine micro-benchmarks (guard and sampler, before/after, side by side)",
          "bf16": "bf16 autocast: effect on quality at equal steps",
          "hardware": "Hardware efficiency (achieved GFLOP/s vs measured matmul peak)",
          "scaling": "Scaling (step time vs batch size, resolution, threads; evaluation time vs samples)",
          "ttq": "Time to quality (FID vs training wall-clock)",
          "apps": "Image-to-image: pix2pix against the classical methods and the L1-only U-Net",
          "ssgan": "Semi-supervised MNIST, 100 labels: test error of ssgan vs the same D on the labelled images only",
          "anomaly": "One-class MNIST anomaly detection (AUROC %, f-AnoGAN vs baselines on pixels, and the Deep SVDD paper)"}


def write_readme(out: Path, quick: bool = False) -> Path:
    """bench/results/README.md: every result JSON in the folder as a Markdown section, with its machine."""
    from bench import common

    suffix = "-quick" if quick else ""
    parts = ["# gankit bench results", "", "Written by `python -m bench`; each section names the command and machine "
             "that produced it. Ratios are measured side by side in one process (the machine is shared).", ""]
    for name in BENCHES:
        paths = sorted(out.glob(f"{name}{suffix}*.json"))
        if not quick:
            paths = [p for p in paths if "-quick" not in p.name]
        for path in paths:
            result = json.loads(path.read_text())
            parts += [f"## {TITLES[name]}", "", f"`{result.get('command', '')}` ({result.get('wall_s', '?')} s) on "
                      f"{common.machine_line(result['machine'])}.", "", markdown(name, result), ""]
    readme = out / f"README{suffix}.md"
    readme.write_text("\n".join(parts))
    return readme


if __name__ == "__main__":
    sys.exit(main())
