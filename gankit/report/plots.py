"""Line plots of logged series, as inline SVG for the HTML report or as PNG/SVG files.

Each plot also returns the exact data it drew (``PlotData``), which the report embeds beside the picture
so tests (and curious readers) can check the curves against metrics.jsonl without reading pixels.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gankit.report.series import Series

X_LABELS = {"step": "generator step", "time": "training seconds", "epoch": "epoch"}


@dataclass
class Panel:
    """One axes: several series against the same x quantity."""

    title: str
    series: list[tuple[str, Series]]  # (legend label, series)
    x: str = "step"
    ylabel: str = ""
    markers: bool = False

    def data(self) -> dict:
        return {"title": self.title, "x": self.x,
                "series": {label: s.to_json(self.x) for label, s in self.series}}


def _pyplot():
    import matplotlib  # matplotlib (half a second to import) only when a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render(panels: Sequence[Panel], ncols: int = 1, fmt: str = "svg", salt: str = "gankit",
           panel_size: tuple[float, float] = (6.4, 3.2)) -> bytes:
    """Draw panels on a grid of axes and return the file bytes (svg or png)."""
    plt = _pyplot()
    nrows = max(1, -(-len(panels) // ncols))
    # svg.hashsalt keeps the ids of several inline SVGs in one page distinct; fonttype none keeps text as text.
    with plt.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none", "font.size": 9}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                                 dpi=100, squeeze=False)
        for ax, panel in zip(axes.flat, panels):
            for label, s in panel.series:
                xs = getattr(s, panel.x)
                ys = [float("nan") if v is None else v for v in s.value]
                ax.plot(xs, ys, label=label, marker="o" if panel.markers or len(xs) < 3 else None, markersize=3,
                        linewidth=1.2)
            values = [v for _, s in panel.series for v in s.value if v is not None and v == v]
            if values and min(values) > 0 and max(values) / min(values) >= 20:
                ax.set_yscale("log")  # e.g. FID from 1500 down to 50: a linear axis flattens the end
            ax.set_title(panel.title)
            ax.set_xlabel(X_LABELS.get(panel.x, panel.x))
            if panel.ylabel:
                ax.set_ylabel(panel.ylabel)
            ax.grid(alpha=0.3)
            if len(panel.series) > 1:
                ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        plt.close(fig)
    return buf.getvalue()


def inline_svg(svg: bytes) -> str:
    """Strip the XML prolog, DOCTYPE and RDF metadata so the SVG can sit inside an HTML page that
    names no outside address at all (the metadata only cites matplotlib's and Creative Commons' sites)."""
    text = svg.decode("utf-8")
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns:xlink="[^"]*"', "", text)  # inline SVG in HTML needs no namespaces
    text = re.sub(r'\s+xmlns="[^"]*"', "", text, count=1)
    return text.strip()
