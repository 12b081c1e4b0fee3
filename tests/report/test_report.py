"""The HTML report: its plotted data equals metrics.jsonl, it is self-contained, and it renders in Chromium."""

from __future__ import annotations

import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_helpers import browser, finished_run, run_copy, values_equal  # noqa: F401  (fixtures)

from gankit.app.cli import main
from gankit.engine.callbacks import read_metrics
from gankit.report import write_report
from gankit.report.images import sample_frames


class _Collect(HTMLParser):
    """Every tag with its attributes, and the id of each <section>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(path: Path) -> list[tuple[str, dict]]:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p.tags


def _no_nan(name: str):
    raise AssertionError(f"{name} in a data-series attribute: a browser's JSON.parse rejects it")


def plots(tags) -> dict[str, list[dict]]:
    return {a["data-plot"]: json.loads(a["data-series"], parse_constant=_no_nan)
            for t, a in tags if t == "figure" and "data-plot" in a}


def logged(run_dir: Path, key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def test_plotted_curves_are_the_logged_values(finished_run, tmp_path):
    out = write_report(finished_run, out=tmp_path / "r.html", gif=False)
    figs = plots(parse(out))
    assert {"losses", "metrics", "stats", "timing"} <= set(figs)
    losses = {k: v for panel in figs["losses"] for k, v in panel["series"].items()}
    assert {"d_loss", "g_loss"} <= set(losses)
    metrics = {k: v for panel in figs["metrics"] for k, v in panel["series"].items()}
    assert {"fid", "kid"} <= set(metrics)
    assert "d_loss" not in metrics and "fid" not in losses and "eval_seconds" not in metrics
    timing = {k: v for panel in figs["timing"] for k, v in panel["series"].items()}
    assert {"images_per_s", "eval_seconds"} <= set(timing)
    for key, series in {**losses, **metrics, "eval_seconds": timing["eval_seconds"]}.items():
        steps, values = logged(finished_run, key)
        assert series["x"] == steps, key
        assert values_equal(series["y"], values), key
    # the NaN FID is a gap (null) in the page, not NaN, which the browser's JSON.parse would reject
    assert metrics["fid"]["y"][1] is None


def test_report_is_self_contained(finished_run):
    text = (finished_run / "report.html").read_text(encoding="utf-8")
    tags = parse(finished_run / "report.html")
    for tag, attrs in tags:
        for name in ("src", "href"):
            value = attrs.get(name, "")
            assert not re.match(r"(https?:)?//", value), f"<{tag} {name}={value[:60]}> fetches from the network"
        assert tag not in ("link", "iframe", "object"), tag
    assert "@import" not in text and "url(http" not in text
    srcs = [a["src"] for t, a in tags if t == "img"]
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_report_sections_for_a_conditional_run(finished_run):
    tags = parse(finished_run / "report.html")
    sections = [a["id"] for t, a in tags if t == "section"]
    for needed in ("summary", "samples", "progress", "losses", "classes", "interpolation", "timing", "config"):
        assert needed in sections, needed
    frames = [a for t, a in tags if t == "img" and "frame" in a.get("class", "")]
    assert [f["data-label"] for f in frames] == [f"step {s}" for s, _ in sample_frames(finished_run)]


def test_progress_gif_has_one_frame_per_saved_grid(finished_run):
    with Image.open(finished_run / "progress.gif") as gif:
        assert gif.n_frames == len(sample_frames(finished_run)) >= 3
        first = np.asarray(gif.convert("L"))
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("L"))
    assert first.shape == last.shape and not np.array_equal(first, last)  # training changed the samples


def test_report_renders_in_headless_chromium(finished_run, browser):
    browser.get((finished_run / "report.html").resolve().as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) >= 5
    broken = [alt for alt, complete, w, h in images if not (complete and w > 0 and h > 0)]
    assert broken == [], f"images that did not load: {broken}"
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
    assert fetched == [], f"the page fetched {fetched}"
    svgs = browser.execute_script("return document.querySelectorAll('figure.plot svg').length")
    assert svgs >= 3
    # the slider shows the frame it points at
    label = browser.execute_script(
        "var r = document.querySelector('.flipbook input[type=range]'); r.value = 0;"
        "r.dispatchEvent(new Event('input')); return [document.querySelector('.frame-label').textContent,"
        "Array.from(document.querySelectorAll('img.frame')).filter(i => !i.hidden).length]")
    assert label == ["step 0", 1]
    shot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L"), dtype=np.float64)
    assert shot.std() > 10 and len(np.unique(shot)) > 20, "screenshot is blank"


def test_report_without_checkpoint_still_shows_the_logs(run_copy, capsys):
    shutil.rmtree(run_copy / "checkpoints")
    assert main(["report", str(run_copy), "--no-gif"]) == 0
    text = (run_copy / "report.html").read_text(encoding="utf-8")
    assert "holds no complete checkpoint" in text
    assert 'data-plot="losses"' in text
    assert str(run_copy / "report.html") in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["report", "{missing}"], "run directory not found"),
    (["report", "{not_run}"], "is not a gankit run directory"),
    (["report", "{run}", "--out", "{tmp}/report.txt"], "must end in .html"),
    (["report", "{run}", "--max-frames", "0"], "--max-frames must be at least 1"),
])
def test_report_errors_are_one_line(args, message, run_copy, tmp_path, capsys):
    (tmp_path / "not_run").mkdir()
    fill = {"missing": tmp_path / "nope", "not_run": tmp_path / "not_run", "run": run_copy, "tmp": tmp_path}
    before = sorted(p.name for p in run_copy.iterdir())
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in run_copy.iterdir()) == before  # nothing half-written


def test_unconditional_run_with_codes_gets_interpolations_but_no_class_grid(tmp_path):
    from report_helpers import tiny_overrides

    import gankit
    from gankit.app.training import resolve_config

    run_dir = tmp_path / "infogan"
    gankit.train(resolve_config("infogan", None, tiny_overrides(run_dir, steps=2, **{"log.tensorboard": False})),
                 quiet=True)
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    interp = text.split('<section id="interpolation">', 1)[1].split("</section>", 1)[0]
    assert '<img class="grid" alt="latent interpolations"' in interp
    assert 'id="classes"' not in text
    codes = text.split('<section id="codes">', 1)[1].split("</section>", 1)[0]
    assert codes.count("<img ") == 3  # the infogan recipe's categorical code and its two continuous codes


def test_final_grid_is_the_last_frame_when_training_stopped_between_saved_grids(run_copy):
    (run_copy / "samples" / "step-00000006.png").unlink()  # as if log.sample_every did not divide the steps
    frames = sample_frames(run_copy)
    assert frames[-1] == (6, run_copy / "samples" / "final.png") and [s for s, _ in frames] == [0, 2, 4, 6]
    write_report(run_copy)
    labels = [a["data-label"] for t, a in parse(run_copy / "report.html") if t == "img" and "data-label" in a]
    assert labels == ["step 0", "step 2", "step 4", "step 6"]
    with Image.open(run_copy / "progress.gif") as gif:
        assert gif.n_frames == 4
