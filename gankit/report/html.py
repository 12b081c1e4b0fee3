"""``gankit report RUN_DIR``: one self-contained HTML page that shows how a run went.

Everything is inside the file — images as base64 data URIs, plots as inline SVG, a few lines of CSS
and JavaScript — so it opens offline, from an e-mail attachment or a copied folder. Each plot carries
the numbers it drew in a ``data-series`` attribute (JSON), which is what the tests check against
metrics.jsonl.
"""

from __future__ import annotations

import html
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit import __version__, sampling
from gankit.engine.rundir import Run, load_run, read_run_dir
from gankit.errors import CheckpointError, GankitError
from gankit.recipes import RECIPES
from gankit.report import images as im
from gankit.report.plots import Panel, inline_svg, render
from gankit.report.series import Series, read_series
from gankit.utils import atomic_write_text, human_duration

SECTIONS = [("summary", "Summary"), ("samples", "Samples"), ("progress", "Samples over training"),
            ("losses", "Losses"), ("metrics", "Metrics"), ("stats", "Training statistics"),
            ("classes", "Per class"), ("codes", "InfoGAN codes"), ("interpolation", "Latent interpolation"), ("timing", "Timing"),
            ("config", "Config")]

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d1d9}nav{padding:8px 28px;background:#e9ecf0;position:sticky;top:0;z-index:1}
nav a{margin-right:14px;color:#1d4f91;text-decoration:none;font-size:14px}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{margin:0 0 10px;font-size:18px}table{border-collapse:collapse;font-size:14px}
td,th{padding:3px 14px 3px 0;text-align:left;vertical-align:top}th{color:#57606a;font-weight:600}
img.grid{image-rendering:pixelated;max-width:100%;height:auto;border:1px solid #dde1e6}
.note{color:#57606a;font-size:13px}pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:13px}
figure{margin:0}figure svg{max-width:100%;height:auto}.controls{display:flex;gap:12px;align-items:center;margin:8px 0}
.controls input{flex:1;max-width:520px}button{font-size:14px;padding:3px 12px}
"""

JS = """
document.querySelectorAll('.flipbook').forEach(function (book) {
  var frames = book.querySelectorAll('img.frame');
  var range = book.querySelector('input[type=range]');
  var label = book.querySelector('.frame-label');
  var button = book.querySelector('button');
  var timer = null;
  function show(i) {
    frames.forEach(function (f, j) { f.hidden = j !== i; });
    range.value = i;
    label.textContent = frames[i].dataset.label;
  }
  range.addEventListener('input', function () { show(Number(range.value)); });
  button.addEventListener('click', function () {
    if (timer) { clearInterval(timer); timer = null; button.textContent = 'play'; return; }
    button.textContent = 'pause';
    timer = setInterval(function () { show((Number(range.value) + 1) % frames.length); }, 300);
  });
  show(frames.length - 1);
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f"<table>{body}</table>"


def _img(png: bytes, alt: str, cls: str = "grid", extra: str = "") -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="{im.data_uri(png)}"{extra}>'


def _json_attr(data: Any) -> str:
    # allow_nan=False: a browser's JSON.parse rejects NaN, so non-finite values must already be None.
    return _e(json.dumps(data, allow_nan=False, separators=(",", ":")))


def _figure(name: str, panels: list[Panel], ncols: int = 1) -> str:
    svg = inline_svg(render(panels, ncols=ncols, salt=name))
    data = [p.data() for p in panels]
    return f'<figure class="plot" data-plot="{_e(name)}" data-series="{_json_attr(data)}">{svg}</figure>'


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _file_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _version() -> str:
    return __version__


def _torch_version() -> str:
    return torch.__version__


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class _Page:
    def __init__(self) -> None:
        self.parts: dict[str, str] = {}

    def add(self, key: str, body: str) -> None:
        title = dict(SECTIONS)[key]
        self.parts[key] = f'<section id="{key}"><h2>{_e(title)}</h2>{body}</section>'

    def html(self, title: str, subtitle: str) -> str:
        order = [k for k, _ in SECTIONS if k in self.parts]
        nav = "".join(f'<a href="#{k}">{_e(dict(SECTIONS)[k])}</a>' for k in order)
        footer = (f'<p class="note">Written by gankit {__version__} on {time.strftime("%Y-%m-%d %H:%M")}. '
                  f"Self-contained: images and plots are embedded, nothing is fetched.</p>")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
                f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header><nav>{nav}</nav><main>"
                + "".join(self.parts[k] for k in order) + footer + f"</main><script>{JS}</script></body></html>\n")


def _load_generator_run(run_dir: Path, run: Run | None) -> tuple[Run | None, str]:
    if run is None:
        try:
            run = load_run(run_dir)
        except CheckpointError as exc:
            return None, str(exc)
    if not run.draws_from_latents:
        return None, "this run's generator restores images (the grids above: input | output | target), it has no latents"
    return run, ""


def build_report(run_dir: str | Path, run: Run | None = None, max_frames: int = 48, seed: int = 0) -> str:
    """The report page as a string. ``run``: a loaded run to sample from (default: the latest checkpoint)."""
    run_dir = Path(run_dir)
    config, meta = read_run_dir(run_dir)
    summary = _read_json(run_dir / "summary.json")
    series, groups = read_series(run_dir)
    page = _Page()

    # -- summary
    recipe = config.recipe or "custom"
    about = RECIPES.get(recipe).description if recipe in RECIPES.names() else ""
    shape = "x".join(str(s) for s in meta.get("shape", []))
    last = {k: s.last for k, s in series.items()}
    rows = [("recipe", recipe), ("what it is", about), ("data", f"{meta.get('dataset', config.data.name)} "
            f"({meta.get('dataset_size', '?')} images, {shape})"),
            ("classes", meta.get("num_classes") or "unconditional"),
            ("steps", summary.get("steps")), ("epochs", summary.get("epochs")),
            ("training time", human_duration(summary["train_seconds"]) if "train_seconds" in summary else None),
            ("stopped", summary.get("stopped") or "(no summary.json: still running or interrupted hard)"),
            ("device", summary.get("device")), ("started", meta.get("created"))]
    rows += [(f"last {k}", f"{v:.4g}") for k, v in last.items() if v is not None and k in groups["losses"]]
    rows += [(f"last {k}", f"{v:.4g}") for k, v in last.items() if v is not None and k in groups["metrics"]]
    page.add("summary", _table(rows))

    # -- samples
    frames = im.sample_frames(run_dir)
    final = _file_bytes(run_dir / "samples" / "final.png") or (_file_bytes(frames[-1][1]) if frames else None)
    if final:
        page.add("samples", _img(final, "final samples from the fixed latent batch")
                 + '<p class="note">The fixed latent batch after the last step (EMA generator when the run has one).</p>')

    # -- sample grid over training time: a slider over the saved fixed-latent grids
    shown = im.thin(frames, max_frames)
    imgs = []
    for step, path in shown:
        png = _file_bytes(path)
        if png:
            imgs.append(_img(png, f"samples at step {step}", "grid frame", f' data-label="step {step}"'))
    if imgs:
        note = (f"{len(shown)} of {len(frames)} saved grids" if len(shown) < len(frames) else f"{len(frames)} grids")
        page.add("progress", f'<div class="flipbook"><div class="controls"><button type="button">play</button>'
                 f'<input type="range" min="0" max="{len(imgs) - 1}" value="{len(imgs) - 1}" '
                 f'aria-label="training step"><span class="frame-label"></span></div>{"".join(imgs)}</div>'
                 f'<p class="note">The same latent vectors at each saved step ({note}); progress.gif holds the '
                 f"same animation.</p>")

    # -- curves
    def panel(title: str, keys: list[str], x: str = "step", markers: bool = False) -> Panel:
        return Panel(title, [(k, series[k]) for k in keys], x=x, markers=markers)

    if groups["losses"]:
        page.add("losses", _figure("losses", [panel("losses (window means)", groups["losses"])]))
    if groups["metrics"]:
        mpanels = [panel(k, [k], markers=True) for k in groups["metrics"]]
        page.add("metrics", _figure("metrics", mpanels, ncols=2 if len(mpanels) > 1 else 1))
    else:
        page.add("metrics", '<p class="note">No evaluation metrics were logged in this run '
                 "(FID, KID, ... appear here when the run evaluates them).</p>")
    if groups["stats"]:
        page.add("stats", _figure("stats", [panel("other training statistics", groups["stats"])]))

    # -- pictures that need the generator (gankit.sampling: the same as gankit sample / gankit interpolate)
    gen_run, why = _load_generator_run(run_dir, run)
    if gen_run is not None:
        m = gen_run.config.model
        infogan = bool(m.info_categories or m.info_continuous)
        if gen_run.num_classes:
            images, n = sampling.class_grid(gen_run, per_class=8, seed=seed)
            k = gen_run.num_classes
            names = [str(c) for c in (gen_run.class_names or range(k))]
            grid = im.label_rows(im.grid_image(images, nrow=n), names, rows=k)
            page.add("classes", _img(im.png_bytes(grid), "samples per class")
                     + f'<p class="note">One row per class; column j uses the same latent in every row '
                     f"(seed {seed}), so only the label changes down a column.</p>")
        images, steps = sampling.interpolation(gen_run, rows=6, steps=10, seed=seed)
        held = (" with the class fixed along each row" if gen_run.num_classes else
                " with the InfoGAN codes fixed along each row" if infogan else "")
        page.add("interpolation", _img(im.png_bytes(im.grid_image(images, nrow=steps)), "latent interpolations")
                 + f'<p class="note">Each row walks along a great circle (slerp) between two random latents'
                 f"{held}. Smooth changes mean the generator learned a continuous space, not a lookup table.</p>")
        if infogan:
            codes = (["cat"] if m.info_categories else []) + [str(i) for i in range(m.info_continuous)]
            body = ""
            for code in codes:
                images, steps = sampling.code_sweep(gen_run, code, rows=6, seed=seed)
                what = "the categorical code, one category per column" if code == "cat" else \
                    f"continuous code {code} from -1 to 1"
                body += (f"<h3>{_e(what)}</h3>" + _img(im.png_bytes(im.grid_image(images, nrow=steps)),
                                                        f"InfoGAN sweep of code {code}"))
            page.add("codes", body + '<p class="note">Each row keeps z and the other codes fixed and varies one '
                     "code (gankit sample --sweep-code). A code the generator learned to use changes one "
                     "property of the image (digit class, slant, width).</p>")
    else:
        page.add("interpolation", f'<p class="note">Not available: {_e(why)}.</p>')

    # -- timing
    speed = series.get("images_per_s")
    t_rows: list[tuple[str, Any]] = [("training time", summary.get("train_seconds") and
                                      f"{summary['train_seconds']:.1f} s"),
                                     ("steps", summary.get("steps"))]
    if summary.get("steps") and summary.get("train_seconds"):
        t_rows.append(("seconds per step", f"{summary['train_seconds'] / summary['steps']:.4g}"))
    if speed and speed.last is not None:
        vals = [v for v in speed.value if v is not None]
        t_rows += [("images per second (mean of logged windows)", f"{sum(vals) / len(vals):.1f}"),
                   ("images per second (last window)", f"{speed.last:.1f}")]
    t_rows += [("device", summary.get("device")), ("batch size", config.train.batch_size),
               ("D steps per G step", config.optim.n_critic),
               ("report written with", f"gankit {_version()}, torch {_torch_version()}, Python "
                                       f"{platform.python_version()} on {_cpu_model()}")]
    body = _table(t_rows)
    if speed:
        elapsed = Series("elapsed", speed.step, speed.epoch, speed.time, list(speed.time))
        tpanels = [Panel("throughput", [("images_per_s", speed)], ylabel="images / s"),
                   Panel("wall clock", [("training seconds", elapsed)], ylabel="seconds")]
        tpanels += [Panel(k, [(k, series[k])], markers=True) for k in groups["speed"] if k != "images_per_s"]
        body += _figure("timing", tpanels, ncols=2)
    page.add("timing", body)

    # -- config
    page.add("config", f"<pre>{_e(yaml.safe_dump(config.to_dict(), sort_keys=False))}</pre>")

    title = f"gankit report: {config.name or run_dir.resolve().name}"
    subtitle = f"{recipe} on {meta.get('dataset', config.data.name)} — {summary.get('stopped', 'no summary yet')}"
    return page.html(title, subtitle)


def write_report(run_dir: str | Path, out: str | Path | None = None, run: Run | None = None,
                 max_frames: int = 48, gif: bool = True) -> Path:
    """Write RUN_DIR/report.html (or ``out``) and, with ``gif``, RUN_DIR/progress.gif; returns the page's path."""
    run_dir = Path(run_dir)
    if max_frames < 1:
        raise GankitError(f"--max-frames must be at least 1, got {max_frames}")
    out = Path(out) if out else run_dir / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"report output must end in .html, got {out}")
    page = build_report(run_dir, run=run, max_frames=max_frames)
    if gif:
        im.write_progress_gif(run_dir)
    atomic_write_text(out, page)
    return out
