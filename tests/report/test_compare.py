"""gankit compare: the table and the curves hold each run's logged numbers, by step and by time."""

from __future__ import annotations

import json
import re

import pytest
from report_helpers import append_metrics, finished_run, run_copy, values_equal  # noqa: F401  (fixtures)

from gankit.app.cli import main
from gankit.engine.callbacks import read_metrics
from gankit.report import compare_runs


def _logged(run_dir, key, x):
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if key in r]
    return [r[x] for r in rows], [r[key] for r in rows]


@pytest.fixture
def two_runs(finished_run, run_copy):
    # the copy "evaluated" once more, later and better, so the runs differ in what they logged
    append_metrics(run_copy, [{"step": 8, "fid": 199.5, "kid": 0.2}])
    return [finished_run, run_copy]


def test_curves_by_step_and_time_are_the_logged_values(two_runs):
    comp = compare_runs(two_runs)
    assert {"fid", "kid", "g_loss"} <= set(comp.keys)
    assert comp.keys.index("kid") < comp.keys.index("g_loss")  # metrics first, then losses
    panels = comp.data()
    assert [p["x"] for p in panels[:2]] == ["step", "time"]
    for panel in panels:
        key = panel["title"].split(" by ")[0]
        assert len(panel["series"]) == 2
        for run_dir, label in zip(two_runs, [r.label for r in comp.runs]):
            xs, ys = _logged(run_dir, key, panel["x"])
            assert panel["series"][label]["x"] == xs
            assert values_equal(panel["series"][label]["y"], ys)


def test_table_holds_each_runs_last_values(two_runs):
    comp = compare_runs(two_runs, keys=["fid", "g_loss"])
    header, rows = comp.header(), comp.rows()
    assert header[-2:] == ["last fid", "last g_loss"]
    assert [r[-2] for r in rows] == ["250.2", "199.5"]  # NaN is skipped; .4g formatting
    g_last = _logged(two_runs[0], "g_loss", "step")[1][-1]
    assert rows[0][-1] == f"{g_last:.4g}" and rows[0][3] == "6"


def test_cli_writes_png_and_html_and_prints_the_table(two_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich folds a wide table into a narrow terminal
    png, page = tmp_path / "cmp.png", tmp_path / "cmp.html"
    assert main(["compare", *map(str, two_runs), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "gankit compare" in out and "last fid" in out and png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", *map(str, two_runs), "--out", str(page), "--key", "kid"]) == 0
    text = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'data-series="([^"]*)"', text).group(1).replace("&quot;", '"'))
    assert [p["title"] for p in data] == ["kid by step", "kid by training time"]
    assert "http://" not in text.split("<svg", 1)[0]  # no external resources before the inline plot


def test_a_row_logged_without_a_time_is_drawn_by_step_only(two_runs, tmp_path, capsys):
    """metrics.jsonl rows written by hand or by another tool may lack "time": the page (strict JSON) used to
    fail on the NaN; now the by-time curve has a gap (null) there, and the by-step curve and table keep it."""
    with open(two_runs[1] / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": 9, "fid": 150.5}) + "\n")
    page = tmp_path / "cmp.html"
    assert main(["compare", *map(str, two_runs), "--out", str(page), "--key", "fid"]) == 0
    text = page.read_text(encoding="utf-8")
    by_step, by_time = json.loads(re.search(r'data-series="([^"]*)"', text).group(1).replace("&quot;", '"'))
    label = compare_runs(two_runs).runs[1].label
    steps, fids = _logged(two_runs[1], "fid", "step")
    assert by_step["series"][label]["x"] == steps and steps[-1] == 9
    assert values_equal(by_step["series"][label]["y"], fids) and fids[-1] == 150.5
    times = [r.get("time") for r in read_metrics(two_runs[1] / "metrics.jsonl") if "fid" in r]
    assert by_time["series"][label]["x"] == times and times[-1] is None
    assert "| 150.5" in capsys.readouterr().out.replace("│", "|")  # the table's last fid


def test_a_narrow_terminal_gets_a_column_per_run(two_runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    comp = compare_runs(two_runs)
    assert not [k for k in comp.keys if k.endswith("_std")]  # spreads are not plotted by default
    comp.print_table()
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "last fid" in out and "199.5" in out and "250.2" in out  # whole cells, not folded fragments


@pytest.mark.parametrize("args, message", [
    (["compare", "{run}", "--key", "fdi"], "no run logged 'fdi' (did you mean 'fid'?); logged keys: "),
    (["compare", "{run}", "--out", "{tmp}/cmp.txt"], "--out must end in .png, .svg or .html"),
    (["compare", "{run}", "{tmp}/missing"], "run directory not found"),
])
def test_compare_errors_are_one_line(args, message, finished_run, tmp_path, capsys):
    argv = [a.format(run=finished_run, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "cmp.txt").exists()
