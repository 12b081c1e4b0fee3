"""The ``gankit`` command line: argument parsing only; the work is done by the library.

Each subcommand lives in a function ``register(subparsers)`` that adds its parser and sets
``func`` to a handler returning the exit code. User errors (``GankitError``) print one line and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

from gankit.errors import GankitError
from gankit.utils import seed_arg

# Modules that contribute subcommands through ``register(subparsers)``; optional ones may be absent.
COMMAND_MODULES = ["gankit.app.cli", "gankit.report.cli", "gankit.metrics.cli", "gankit.sampling"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other user error
        self.exit(2, f"gankit: error: {message} (see {self.prog} --help)\n")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from gankit.recipes import DEFAULT_RECIPE, RECIPES

    p = sub.add_parser("train", help="train a GAN into a run directory",
                       description="Train a GAN. With no arguments: the default recipe on the embedded digits.")
    p.add_argument("--recipe", help=f"named recipe ({', '.join(RECIPES.names())}; default {DEFAULT_RECIPE})")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON config; flags given here override it")
    p.add_argument("--data", help="dataset name (digits, mnist, fashion-mnist) or a folder / .npy / .npz path")
    p.add_argument("--data-root", help="folder with named datasets (ROOT/MNIST/raw/...)")
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

    from gankit.config import parse_override
    from gankit.app.training import SHORTCUTS, resolve_config, train

    overrides = {key: getattr(args, key) for key in SHORTCUTS if getattr(args, key, None) is not None}
    overrides.update(parse_override(item) for item in args.set)
    if args.resume:
        return _resume(args, overrides)
    cfg = resolve_config(args.recipe, args.config, overrides)
    if args.dry_run:
        from gankit.utils import resolve_threads

        cfg.train.threads = resolve_threads(cfg.train.threads)  # as run_config records it in config.yaml
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    train(cfg, quiet=args.quiet)
    return 0


def _resume(args: argparse.Namespace, overrides: dict) -> int:
    import yaml

    from gankit.engine.checkpoint import latest_intact_checkpoint
    from gankit.app.training import resume

    if args.recipe or args.config:
        raise GankitError("--resume uses the run's saved config; drop --recipe/--config")
    if args.dry_run:
        from gankit.app.training import _saved_config

        run_dir = Path(args.resume)
        print(yaml.safe_dump(_saved_config(run_dir).to_dict(), sort_keys=False), end="")
        ckpt, _ = latest_intact_checkpoint(run_dir)
        print(f"# would resume from {ckpt or 'the start (no complete checkpoint yet)'}")
        return 0
    resume(args.resume, quiet=args.quiet, **overrides)
    return 0


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write N samples as a PNG grid (.png) or a uint8 array (.npz, key 'images').")
    p.add_argument("run_dir", help="run directory written by gankit train")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--out", required=True, help="output file: .png grid or .npz array")
    p.add_argument("--checkpoint", help="a checkpoint directory (default: the latest)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="conditional runs: draw only class K")
    p.add_argument("--grid-by-class", action="store_true", help="conditional runs: one row per class")
    p.add_argument("--sweep-code", metavar="CODE", help="InfoGAN runs: vary code 'cat' or continuous code 0, 1, ...")
    p.add_argument("--per-class", type=int, default=8, help="images per row of --grid-by-class / rows of --sweep-code")
    p.add_argument("--sweep-limit", type=float, default=1.0, help="continuous sweeps run from -L to L (default 1)")
    p.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise GankitError(f"--out must end in .png or .npz, got {out}")
    from gankit.engine.rundir import load_run
    from gankit.utils import write_images

    run = load_run(args.run_dir, args.checkpoint, args.device)
    from gankit.sampling import sample_command

    done = sample_command(args, run, out)  # --grid-by-class / --sweep-code
    if done:
        print(done)
        return 0
    images = run.sample(args.n, seed=args.seed, y=args.class_)
    write_images(images, out)
    print(f"wrote {args.n} samples to {out}")
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


def register(sub: argparse._SubParsersAction) -> None:
    _add_train(sub)
    _add_sample(sub)
    _add_recipes(sub)


def build_parser() -> argparse.ArgumentParser:
    from gankit import __version__

    parser = _Parser(prog="gankit", description="Train, evaluate and apply GANs.")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
