"""``gankit compare RUN_DIR...``: several runs side by side — a table of where each ended, and each chosen
quantity plotted against generator steps and against training seconds (a fast run that is worse per
step can still be better per minute)."""

from __future__ import annotations

import difflib
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from gankit.engine.rundir import read_run_dir
from gankit.errors import GankitError
from gankit.report.plots import Panel, inline_svg, render
from gankit.report.series import Series, read_series
from gankit.utils import atomic_write_bytes, atomic_write_text, human_duration

DEFAULT_MAX_KEYS = 6


@dataclass
class RunInfo:
    label: str
    dir: Path
    recipe: str
    data: str
    steps: int | None
    seconds: float | None
    series: dict[str, Series] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float | None:
        s = self.series.get("images_per_s")
        vals = [v for v in s.value if v is not None] if s else []
        return sum(vals) / len(vals) if vals else None


@dataclass
class Comparison:
    runs: list[RunInfo]
    keys: list[str]

    def header(self) -> list[str]:
        return ["run", "recipe", "data", "steps", "train time", "images/s"] + [f"last {k}" for k in self.keys]

    def rows(self) -> list[list[str]]:
        out = []
        for r in self.runs:
            ips = r.images_per_s
            row = [r.label, r.recipe, r.data, "" if r.steps is None else str(r.steps),
                   "" if r.seconds is None else human_duration(r.seconds), "" if ips is None else f"{ips:.1f}"]
            for k in self.keys:
                last = r.series[k].last if k in r.series else None
                row.append("" if last is None else f"{last:.4g}")
            out.append(row)
        return out

    def panels(self) -> list[Panel]:
        """Two panels per key: against steps, then against training seconds."""
        panels = []
        for k in self.keys:
            lines = [(r.label, r.series[k]) for r in self.runs if k in r.series]
            markers = any(k in r.groups.get("metrics", []) for r in self.runs)
            panels += [Panel(f"{k} by step", lines, x="step", markers=markers),
                       Panel(f"{k} by training time", lines, x="time", markers=markers)]
        return panels

    def data(self) -> list[dict]:
        return [p.data() for p in self.panels()]

    def print_table(self) -> None:
        from rich.console import Console  # rich only where a table is printed
        from rich.table import Table

        console = Console()
        header, rows = self.header(), self.rows()
        width = sum(max(len(c) for c in col) + 3 for col in zip(header, *rows)) + 1
        table = Table(title="gankit compare")
        if width <= console.width:  # a row per run
            for col in header:
                table.add_column(col, overflow="fold")
            for row in rows:
                table.add_row(*row)
        else:  # too wide for the terminal: a column per run instead of cells folded into fragments
            table.add_column("")
            for r in self.runs:
                table.add_column(r.label, overflow="fold")
            for i, name in enumerate(header[1:], start=1):
                table.add_row(name, *(row[i] for row in rows))
        console.print(table)

    def write(self, out: str | Path) -> Path:
        """A plot (.png, .svg) or a self-contained page with the table and the plots (.html)."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix not in (".png", ".svg", ".html"):
            raise GankitError(f"--out must end in .png, .svg or .html, got {out}")
        if not self.keys:
            raise GankitError("the runs share no logged quantity to plot (is metrics.jsonl empty?)")
        if suffix == ".html":
            atomic_write_text(out, self._html())
        else:
            atomic_write_bytes(out, render(self.panels(), ncols=2, fmt=suffix[1:], salt="compare"))
        return out

    def _html(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self.header())
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in self.rows())
        svg = inline_svg(render(self.panels(), ncols=2, salt="compare"))
        data = e(json.dumps(self.data(), allow_nan=False, separators=(",", ":")), quote=True)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gankit compare</title>"
                "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#1d232a}table{border-collapse:"
                "collapse;font-size:14px}td,th{padding:3px 14px 3px 0;text-align:left}th{color:#57606a}"
                "svg{max-width:100%;height:auto}</style></head><body><h1>gankit compare</h1>"
                f"<table><tr>{head}</tr>{body}</table>"
                f'<figure class="plot" data-plot="compare" data-series="{data}">{svg}</figure></body></html>\n')


def _labels(dirs: list[Path]) -> list[str]:
    names = [d.resolve().name for d in dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in dirs]


def compare_runs(run_dirs: list[str | Path], keys: list[str] | None = None,
                 max_keys: int = DEFAULT_MAX_KEYS) -> Comparison:
    """Read several run directories. ``keys``: what to plot (default: metrics first, then losses)."""

    if not run_dirs:
        raise GankitError("compare needs at least one run directory")
    dirs = [Path(d) for d in run_dirs]
    runs = []
    for d, label in zip(dirs, _labels(dirs)):
        config, meta = read_run_dir(d)
        try:
            summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            summary = {}
        series, groups = read_series(d)
        steps = summary.get("steps") if isinstance(summary, dict) else None
        seconds = summary.get("train_seconds") if isinstance(summary, dict) else None
        if steps is None and series:  # still running: take the latest logged line (with a time, for the time)
            last = max((s for s in series.values()), key=lambda s: s.step[-1])
            times = [t for s in series.values() for t in s.time if math.isfinite(t)]
            steps, seconds = last.step[-1], max(times, default=None)
        runs.append(RunInfo(label, d, config.recipe or "custom", str(meta.get("dataset", config.data.name)),
                            steps, seconds, series, groups))

    available: list[str] = []
    for group in ("metrics", "losses", "stats", "speed"):
        for r in runs:
            available += [k for k in r.groups.get(group, []) if k not in available]
    if keys:
        unknown = [k for k in keys if k not in available]
        if unknown:
            close = difflib.get_close_matches(unknown[0], available, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise GankitError(f"no run logged {unknown[0]!r}{hint}; logged keys: {', '.join(available) or '(none)'}")
        chosen = list(keys)
    else:
        chosen = [k for k in available if not k.endswith("_std")  # spreads, e.g. kid_std, ride with their mean
                  and any(k in r.groups.get(g, []) for r in runs for g in ("metrics", "losses"))]
        chosen = chosen[:max_keys]
    return Comparison(runs, chosen)

