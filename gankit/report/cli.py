"""``gankit report`` and ``gankit compare`` (registered through gankit.app.cli.COMMAND_MODULES)."""

from __future__ import annotations

import argparse


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


def register(sub: argparse._SubParsersAction) -> None:
    _add_report(sub)
    _add_compare(sub)
