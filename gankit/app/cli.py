"""The ``gankit`` command line: argument parsing only; the work is done by the library.

Every subcommand's parser is built here, and its handler imports the library when it runs, so that
``gankit --help`` and argument errors answer without loading torch (about 0.2 s instead of 3 s).
User errors (``GankitError``) print one line and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from gankit import __version__
from gankit.errors import GankitError

# Handlers below import what they use inside the function: the library's modules load torch, and a
# parser that imported them would make `gankit --help` take seconds.


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other user error
        self.exit(2, f"gankit: error: {message} (see {self.prog} --help)\n")


CHECKPOINT_HELP = "last (default), best (lowest FID), step-00002000 or 2000, or a checkpoint directory"


def add_loading_args(p: argparse.ArgumentParser) -> None:
    """The flags of every command that loads a trained run: which checkpoint, on which device."""
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps")


def seed_arg(text: str) -> int:
    """argparse type for --seed: an integer in [0, 2**63), refused in one line otherwise."""
    from gankit.config import MAX_SEED

    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**63 - 1], got {seed}")
    return seed


def class_list(text: str) -> list[int]:
    """argparse type for --classes: '0,1' -> [0, 1]."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class numbers separated by commas, e.g. 0,1; got {text!r}") from None


def image_out(text: str) -> Path:
    """--out of sample/interpolate: a .png grid or an .npz array."""
    path = Path(text)
    if path.suffix.lower() not in (".png", ".npz"):
        raise GankitError(f"--out must end in .png or .npz, got {path}")
    return path


# ---------------------------------------------------------------------------------------------
# train, recipes

def _add_train(sub: argparse._SubParsersAction) -> None:
    from gankit.recipes import DEFAULT_RECIPE, RECIPES

    p = sub.add_parser("train", help="train a GAN into a run directory",
                       description="Train a GAN. With no arguments: the default recipe on the embedded digits.")
    p.add_argument("--recipe", help=f"named recipe ({', '.join(RECIPES.names())}; default {DEFAULT_RECIPE})")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON config; flags given here override it")
    p.add_argument("--data", help="dataset name (digits, mnist, fashion-mnist) or a folder / .npy / .npz path")
    p.add_argument("--data-root", help="folder with named datasets (ROOT/MNIST/raw/...)")
    p.add_argument("--classes", type=class_list, metavar="K,K,...",
                   help="train on these classes only, e.g. 0 or 0,1 (same as --set data.classes=[0,1])")
    p.add_argument("--resolution", type=int, help="resize images to this size")
    p.add_argument("--epochs", type=float, help="stop after this many epochs")
    p.add_argument("--steps", type=int, help="stop after this many generator steps")
    p.add_argument("--max-time", help="stop after this long: seconds, or e.g. 10m, 1h")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate of both G and D")
    p.add_argument("--seed", type=seed_arg)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--out", help="run directory (default runs/RECIPE-DATA-TIME)")
    p.add_argument("--name", help="run name under runs/")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set optim.lr_d=4e-4 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                   help="log scalars and sample grids to RUN_DIR/tensorboard (default on)")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=None,
                   help="write RUN_DIR/report.html and progress.gif at the end (default on)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue RUN_DIR from its newest intact checkpoint, exactly (only --steps, --epochs, "
                        "--max-time, --device may change); the same command again also resumes an interrupted run")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    import yaml

    from gankit.app.training import SHORTCUTS, resolve_config, train
    from gankit.config import parse_override

    overrides = {key: getattr(args, key) for key in SHORTCUTS if getattr(args, key, None) is not None}
    overrides.update(parse_override(item) for item in args.set)
    if args.resume:
        return _resume(args, overrides)
    cfg = resolve_config(args.recipe, args.config, overrides)
    if args.dry_run:
        from gankit.utils import resolve_threads

        cfg.train.threads = resolve_threads(cfg.train.threads)  # as run_config records it in config.yaml
        selected = ""
        if cfg.data.classes is not None or cfg.data.labels_per_class is not None:  # load the data to show it
            from gankit.data import SelectedDataset, load_dataset

            ds = load_dataset(cfg.data)  # a bad selection fails here, before anything is printed
            if isinstance(ds, SelectedDataset) and ds.selection is not None:
                selected = f"# data selection: {ds.selection.describe()} (written to RUN_DIR/selection.json)\n"
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        print(selected, end="")
        return 0
    train(cfg, quiet=args.quiet)
    return 0


def _resume(args: argparse.Namespace, overrides: dict) -> int:
    import yaml

    from gankit.app.training import resume, saved_config
    from gankit.engine.checkpoint import latest_intact_checkpoint

    if args.recipe or args.config:
        raise GankitError("--resume uses the run's saved config; drop --recipe/--config")
    if args.dry_run:
        run_dir = Path(args.resume)
        print(yaml.safe_dump(saved_config(run_dir).to_dict(), sort_keys=False), end="")
        ckpt, _ = latest_intact_checkpoint(run_dir)
        print(f"# would resume from {ckpt or 'the start (no complete checkpoint yet)'}")
        return 0
    resume(args.resume, quiet=args.quiet, **overrides)
    return 0


def _add_recipes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the named recipes")
    p.set_defaults(func=_recipes)


def _recipes(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from gankit.recipes import RECIPES

    table = Table(title="gankit recipes")
    for col in ("recipe", "what it is", "paper"):
        table.add_column(col, overflow="fold")
    for name in RECIPES.names():
        r = RECIPES.get(name)
        table.add_row(name, r.description, r.paper)
    Console().print(table)
    return 0


# ---------------------------------------------------------------------------------------------
# sample, interpolate

def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write N samples as a PNG grid (.png) or a uint8 array (.npz, key 'images').")
    p.add_argument("run_dir", help="run directory written by gankit train")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--out", required=True, help="output file: .png grid or .npz array")
    add_loading_args(p)
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="conditional runs: draw only class K")
    p.add_argument("--grid-by-class", action="store_true", help="conditional runs: one row per class")
    p.add_argument("--sweep-code", metavar="CODE", help="InfoGAN runs: vary code 'cat' or continuous code 0, 1, ...")
    p.add_argument("--per-class", type=int, default=8, help="images per row of --grid-by-class / rows of --sweep-code")
    p.add_argument("--sweep-limit", type=float, default=1.0, help="continuous sweeps run from -L to L (default 1)")
    p.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    from gankit import sampling
    from gankit.engine.rundir import load_run
    from gankit.utils import write_images

    out = image_out(args.out)
    run = load_run(args.run_dir, args.checkpoint, args.device)
    if args.grid_by_class:
        images, per_row = sampling.class_grid(run, args.per_class, args.seed)
        write_images(images, out, nrow=per_row)
        print(f"wrote {run.num_classes} classes x {per_row} samples to {out}")
    elif args.sweep_code is not None:
        images, per_row = sampling.code_sweep(run, args.sweep_code, args.per_class, 10, args.seed, args.sweep_limit)
        write_images(images, out, nrow=per_row)
        print(f"wrote a sweep of InfoGAN code {args.sweep_code} ({len(images) // per_row} rows x {per_row}) to {out}")
    else:
        import torch

        labels = None  # class-conditional runs: classes in turn (or --class), written beside the images
        if run.num_classes:
            labels = torch.full((args.n,), args.class_) if args.class_ is not None else torch.arange(args.n) % run.num_classes
        write_images(run.sample(args.n, seed=args.seed, y=labels if labels is not None else args.class_), out,
                     labels=labels)
        print(f"wrote {args.n} samples{' and their labels' if labels is not None and out.suffix == '.npz' else ''} "
              f"to {out}")
    return 0


def _add_interpolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="write a latent-interpolation strip from a trained run",
                       description="Each row walks spherically between two random latents; class-conditional "
                                   "runs keep one class per row, InfoGAN runs keep their codes.")
    p.add_argument("run_dir", help="run directory written by gankit train")
    p.add_argument("--out", required=True, help="output file: .png strip or .npz array")
    p.add_argument("--rows", type=int, default=6, help="number of interpolations (default 6)")
    p.add_argument("--steps", type=int, default=10, help="images per interpolation (default 10)")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="conditional runs: use class K in every row")
    p.add_argument("--seed", type=seed_arg, default=0)
    add_loading_args(p)
    p.set_defaults(func=_interpolate)


def _interpolate(args: argparse.Namespace) -> int:
    from gankit.engine.rundir import load_run
    from gankit.sampling import interpolation
    from gankit.utils import write_images

    out = image_out(args.out)
    run = load_run(args.run_dir, args.checkpoint, args.device)
    images, per_row = interpolation(run, args.rows, args.steps, args.seed, args.class_)
    write_images(images, out, nrow=per_row)
    print(f"wrote {args.rows} interpolations of {args.steps} steps to {args.out}")
    return 0


# ---------------------------------------------------------------------------------------------
# report, compare

def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run",
                       description="Write RUN_DIR/report.html (config, loss and metric curves, samples over "
                                   "training, per-class grids, interpolations, timing) and RUN_DIR/progress.gif. "
                                   "The page embeds everything and opens offline.")
    p.add_argument("run_dir", help="run directory written by gankit train")
    p.add_argument("--out", help="where to write the page (default RUN_DIR/report.html)")
    p.add_argument("--max-frames", type=int, default=48,
                   help="most sample grids in the over-training slider (default 48, evenly spaced)")
    p.add_argument("--no-gif", action="store_true", help="do not (re)write RUN_DIR/progress.gif")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from gankit.report.html import write_report

    out = write_report(args.run_dir, out=args.out, max_frames=args.max_frames, gif=not args.no_gif)
    print(f"wrote {out}")
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare several runs: a table and curves by step and by time",
                       description="Print a table of where each run ended and plot the chosen quantities "
                                   "against generator steps and training seconds.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories written by gankit train")
    p.add_argument("--out", default="compare.png",
                   help="plot file: .png, .svg, or .html (table and plots in one page); default compare.png")
    p.add_argument("--key", action="append", dest="keys", metavar="NAME",
                   help="a logged quantity to plot, e.g. fid or g_loss (repeatable; default: metrics, then losses)")
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from gankit.report.compare import compare_runs

    comp = compare_runs(args.run_dirs, keys=args.keys)
    comp.print_table()
    out = comp.write(args.out)
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------------------------
# eval

EVAL_DESCRIPTION = """Evaluate generated images against reference data.

SOURCE is a run directory (samples are drawn from its latest checkpoint), an image folder, an .npz
(key 'images', uint8 N x H x W x C) or .npy file, or a dataset name with an optional split
(mnist:train). REF is a dataset name (default split: test), a folder, an .npz/.npy of images, or
reference statistics saved with --save-ref. Reference statistics are cached in $GANKIT_CACHE
(default ~/.cache/gankit)."""


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="FID, KID, IS, precision/recall, ... of samples against data",
                       description=EVAL_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="run directory, image folder, .npz/.npy file, or dataset[:split]")
    p.add_argument("--ref", help="reference: mnist, fashion-mnist, digits (optionally :train/:test), a folder, "
                                 "an .npz/.npy, or saved statistics (default: the run's dataset, test split)")
    p.add_argument("--metrics", default="fid,kid,precision,recall",
                   help="comma list of metrics: fid, kid, is, precision, recall, density, coverage, class_acc, "
                        "class_kl, mnist_score, and the aliases pr, dc, prdc (default fid,kid,precision,recall)")
    p.add_argument("--extractor", default="auto",
                   help="auto (mnist for small grayscale images, else inception), mnist, inception, "
                        "or package.module:attr naming a torch module")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as a JSON object keyed by metric")
    p.add_argument("-n", "--num-samples", type=int, default=None,
                   help="samples drawn from a run (default 10000); for other sources, use only the first N images")
    p.add_argument("--seed", type=seed_arg, default=0, help="latent seed for samples drawn from a run")
    p.add_argument("--data-root", help="folder with named datasets (default $GANKIT_DATA or ./data)")
    add_loading_args(p)
    p.add_argument("--batch-size", type=int, default=500, help="images per extractor batch")
    p.add_argument("--no-cache", action="store_true", help="recompute reference statistics, write no cache")
    p.add_argument("--save-ref", metavar="FILE", help="save the reference statistics (.npz) for later --ref FILE")
    p.add_argument("--inception-weights", metavar="PATH", help="InceptionV3 weights (.pth or .safetensors); "
                                                               "same as GANKIT_INCEPTION_WEIGHTS")
    p.add_argument("--download", action="store_true", help="download the InceptionV3 weights if missing (online)")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from gankit.metrics.cli import run

    return run(args)



# ---------------------------------------------------------------------------------------------
# degrade, apply (image-to-image runs)

def _add_degrade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("degrade", help="degrade clean images exactly as an image-to-image recipe trains on them",
                       description="Write the degradation of an image-to-image recipe (pix2pix-superres, "
                                   "pix2pix-inpaint, pix2pix-denoise, pix2pix-colorize) as an .npz: 'images' uint8 "
                                   "N x h x w x C, 'mask' uint8 N x H x W for inpainting (1 = missing), 'labels' "
                                   "when the source has them.")
    p.add_argument("task", metavar="TASK", help="an image-to-image recipe, e.g. pix2pix-superres")
    p.add_argument("--input", required=True, help="clean images: a dataset[:split] (mnist:test), a folder, .npz/.npy")
    p.add_argument("--out", required=True, help="the degraded images (.npz); never overwritten")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the noise and holes (default 0)")
    p.add_argument("-n", type=int, help="only the first N images")
    p.add_argument("--data-root", help="folder with named datasets (ROOT/MNIST/raw/...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a task key of the recipe, e.g. --set task.scale=2, --set task.holes=center (repeatable)")
    p.set_defaults(func=_degrade)


def _degrade(args: argparse.Namespace) -> int:
    from gankit.app.training import resolve_config
    from gankit.config import parse_override
    from gankit.recipes import RECIPES
    from gankit.restore import degrade_source, write_degraded

    i2i = [n for n in RECIPES.names() if RECIPES.get(n).task != "gan"]
    if args.task not in i2i:
        raise GankitError(f"TASK must be an image-to-image recipe ({', '.join(i2i)}), got {args.task!r}")
    overrides = dict(parse_override(item) for item in args.set)
    bad = [k for k in overrides if not k.startswith("task.")]
    if bad:
        raise GankitError(f"--set {bad[0]}: degrade takes only task keys (task.scale, task.sigma, task.holes)")
    cfg = resolve_config(args.task, None, overrides)
    degraded = degrade_source(cfg, args.input, data_root=args.data_root, n=args.n, seed=args.seed)
    out = Path(args.out)
    write_degraded(degraded, out)
    n, c, h, w = degraded.images.shape
    print(f"wrote {n} degraded images ({h}x{w}, {c} channel{'s' if c > 1 else ''}"
          f"{', with masks' if degraded.mask is not None else ''}) to {out}")
    return 0


def _add_inpaint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inpaint", help="fill holes with a trained GAN (latent search, no new training)",
                       description="Fill the holes of an .npz ('images', 'mask' with 1 = missing, as gankit degrade "
                                   "pix2pix-inpaint writes) from the sample of a z -> image GAN run that best "
                                   "matches the known pixels (Yeh et al. 2017); known pixels are kept.")
    p.add_argument("run_dir", metavar="RUN", help="run directory of a GAN recipe")
    p.add_argument("--input", required=True, help=".npz with 'images' and 'mask'")
    p.add_argument("--out", required=True, help="restored images: .npz or a new folder; never overwritten")
    p.add_argument("--steps", type=int, default=300, help="Adam steps of the latent search (default 300)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the starting latents")
    add_loading_args(p)
    p.set_defaults(func=_inpaint)


def _inpaint(args: argparse.Namespace) -> int:
    from gankit.restore import inpaint_run

    if args.steps < 0:
        raise GankitError(f"--steps must be at least 0, got {args.steps}")
    n = inpaint_run(args.run_dir, args.input, args.out, steps=args.steps, seed=args.seed, checkpoint=args.checkpoint,
                    device=args.device)
    print(f"wrote {n} inpainted images to {args.out}")
    return 0


def _add_invert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invert", help="the latents whose samples match given images (GAN inversion)",
                       description="Search the latent (and class) of a z -> image GAN run whose sample matches "
                                   "each image; writes 'z' (float32 N x z_dim) and, for conditional runs, 'labels'.")
    p.add_argument("run_dir", metavar="RUN", help="run directory of a GAN recipe")
    p.add_argument("--input", required=True, help="images: dataset[:split], folder, .npz/.npy")
    p.add_argument("--out", required=True, help="latents (.npz); never overwritten")
    p.add_argument("--steps", type=int, default=300, help="Adam steps of the latent search (default 300)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the starting latents")
    p.add_argument("--data-root", help="folder with named datasets")
    add_loading_args(p)
    p.set_defaults(func=_invert)


def _invert(args: argparse.Namespace) -> int:
    from gankit.restore import invert_run

    if args.steps < 0:
        raise GankitError(f"--steps must be at least 0, got {args.steps}")
    n = invert_run(args.run_dir, args.input, args.out, steps=args.steps, seed=args.seed, data_root=args.data_root,
                   checkpoint=args.checkpoint, device=args.device)
    print(f"wrote the latents of {n} images to {args.out}")
    return 0


def _add_apply(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="restore degraded images with an image-to-image run",
                       description="Restore the images of an .npz written by gankit degrade (or a folder) with a "
                                   "trained pix2pix run; writes 'images' uint8 N x H x W x C (as gankit sample, "
                                   "so gankit eval scores it) or a folder of PNGs.")
    p.add_argument("run_dir", metavar="RUN", help="run directory of an image-to-image recipe")
    p.add_argument("--input", required=True, help="degraded images: .npz ('images', and 'mask' for inpainting) or a folder")
    p.add_argument("--out", required=True, help="restored images: .npz or a new folder; never overwritten")
    p.add_argument("--grid", metavar="PNG", help="also write rows of input | output (| target) for the first 16 images")
    p.add_argument("--target", metavar="CLEAN", help="the clean images (any source gankit reads): print PSNR and SSIM")
    p.add_argument("--json", metavar="FILE", help="with --target: also write PSNR and SSIM as JSON")
    p.add_argument("--data-root", help="folder with named datasets, for --target mnist:test")
    add_loading_args(p)
    p.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    import json

    from gankit.restore import apply_run, check_new_output
    from gankit.utils import atomic_write_text

    if args.json and not args.target:
        raise GankitError("--json needs --target (the clean images to score against)")
    if args.json:
        check_new_output(Path(args.json), "--json")
    scores = apply_run(args.run_dir, args.input, args.out, grid=args.grid, target=args.target,
                       data_root=args.data_root, checkpoint=args.checkpoint, device=args.device)
    print(f"wrote restored images to {args.out}" + (f" and input | output rows to {args.grid}" if args.grid else ""))
    if scores:
        print(f"against {args.target}: PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}")
        if args.json:
            atomic_write_text(Path(args.json), json.dumps(scores, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------
# anomaly (f-AnoGAN)

def _add_anomaly(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anomaly", help="anomaly detection with a trained GAN (f-AnoGAN): fit, score",
                       description="f-AnoGAN (Schlegl et al. 2019): train an encoder for a GAN run trained on normal "
                                   "images only (e.g. --classes 0), then score images: higher = more anomalous.")
    asub = p.add_subparsers(dest="anomaly_command", metavar="fit|score", parser_class=_Parser, required=True)
    f = asub.add_parser("fit", help="train the encoder into RUN_DIR/anomaly (the same command again resumes it)")
    f.add_argument("run_dir", help="an unconditional GAN run written by gankit train")
    f.add_argument("--steps", type=int, help="encoder steps (default 2000; more steps extend a finished fit)")
    f.add_argument("--max-time", help="stop after this long: seconds, or e.g. 10m")
    f.add_argument("--batch-size", type=int, help="default: the GAN run's")
    f.add_argument("--lr", type=float, help="encoder learning rate (default: the GAN run's optim.lr_g)")
    f.add_argument("--kappa", type=float, help="weight of the discriminator-feature residual (default 1)")
    f.add_argument("--seed", type=seed_arg)
    f.add_argument("--quiet", action="store_true")
    f.set_defaults(func=_anomaly_fit)
    s = asub.add_parser("score", help="one anomaly score per image (higher = more anomalous) into a .npy")
    s.add_argument("run_dir", help="a GAN run whose encoder was fitted by gankit anomaly fit")
    s.add_argument("--input", required=True, help="images: .npz (key 'images', optional 'labels'), .npy, a folder, "
                                                  "or a dataset name with a split (mnist:test)")
    s.add_argument("--out", required=True, help="scores file (.npy, float64, one per image)")
    s.add_argument("--json", action="store_true", help="also print a JSON summary (with AUROC when the input has "
                                                       "labels and --normal-classes is given)")
    s.add_argument("--normal-classes", type=class_list, metavar="K,K,...", help="the classes that are normal, for AUROC")
    s.add_argument("--data-root", help="folder with named datasets, for --input mnist:test")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_anomaly_score)


def _anomaly_fit(args: argparse.Namespace) -> int:
    from gankit.app.anomaly import fit

    run = fit(args.run_dir, steps=args.steps, max_time=args.max_time, batch_size=args.batch_size, lr=args.lr,
              kappa=args.kappa, seed=args.seed, quiet=args.quiet)
    if not args.quiet:
        print(f"gankit: encoder ready in {run.dir}; score with: gankit anomaly score {args.run_dir} --input X --out Y")
    return 0


def _anomaly_score(args: argparse.Namespace) -> int:
    import io
    import json

    import numpy as np

    from gankit.app.anomaly import Scorer, auroc
    from gankit.metrics.evaluate import load_images
    from gankit.utils import atomic_write_bytes

    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        raise GankitError(f"--out must end in .npy, got {out}")
    scorer = Scorer(args.run_dir, args.device)  # before reading the input: no model, no work
    images, labels, _ = load_images(args.input, args.data_root)
    if args.normal_classes is not None and labels is None:
        raise GankitError(f"--normal-classes needs labels, but {args.input} has none (an .npz can carry 'labels')")
    scores = scorer(images)
    summary = {"images": len(scores), "mean_score": float(scores.mean()), "checkpoint": str(scorer.checkpoint)}
    if args.normal_classes is not None:
        summary["normal_classes"] = args.normal_classes
        summary["auroc"] = auroc(scores, labels, args.normal_classes)
    buf = io.BytesIO()
    np.save(buf, scores)
    atomic_write_bytes(out, buf.getvalue())
    print(json.dumps(summary) if args.json else f"wrote {len(scores)} anomaly scores to {out}"
          + (f" (AUROC {summary['auroc']:.4f})" if "auroc" in summary else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# classify (ssgan)

def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify images with a semi-supervised GAN's discriminator (ssgan runs)",
                       description="Write the class of each image (int64 .npy), from the K-class discriminator of "
                                   "a run of --recipe ssgan; with --json, accuracy and error when the input has labels.")
    p.add_argument("run_dir", help="a run of task ssgan")
    p.add_argument("--input", required=True, help="images: .npz (key 'images', optional 'labels'), .npy, a folder, "
                                                  "or a dataset name with a split (mnist:test)")
    p.add_argument("--out", required=True, help="predictions file (.npy, int64, one class per image)")
    p.add_argument("--json", action="store_true", help="also print a JSON summary (accuracy, error with labels)")
    p.add_argument("--data-root", help="folder with named datasets, for --input mnist:test")
    add_loading_args(p)
    p.set_defaults(func=_classify)


def _classify(args: argparse.Namespace) -> int:
    import io
    import json

    import numpy as np

    from gankit.app.classify import Classifier
    from gankit.metrics.evaluate import load_images
    from gankit.utils import atomic_write_bytes

    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        raise GankitError(f"--out must end in .npy, got {out}")
    clf = Classifier(args.run_dir, args.checkpoint, args.device)  # before reading the input: no head, no work
    images, labels, _ = load_images(args.input, args.data_root)
    pred = clf(images).astype(np.int64)
    summary: dict = {"images": len(pred), "checkpoint": str(clf.checkpoint)}
    if labels is not None:
        summary["accuracy"] = float((pred == labels).mean())
        summary["error"] = 1.0 - summary["accuracy"]
    buf = io.BytesIO()
    np.save(buf, pred)
    atomic_write_bytes(out, buf.getvalue())
    print(json.dumps(summary) if args.json else f"wrote {len(pred)} classes to {out}"
          + (f" (error {100 * summary['error']:.2f} %)" if "error" in summary else ""))
    return 0


# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Train, evaluate and apply GANs.")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_train, _add_sample, _add_recipes, _add_report, _add_compare, _add_eval, _add_interpolate,
                _add_degrade, _add_apply, _add_inpaint, _add_invert, _add_anomaly, _add_classify):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    warnings.formatwarning = lambda message, *_args, **_kw: f"gankit: warning: {message}\n"  # one line each
    try:
        return int(args.func(args) or 0)
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
        print(f"gankit: {getattr(exc, 'message', 'interrupted')}", file=sys.stderr)
        return 128 + getattr(exc, "signum", 2)


if __name__ == "__main__":
    sys.exit(main())
