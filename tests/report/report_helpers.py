"""Fixtures and helpers shared by the report tests.

Not a conftest.py on purpose: a second conftest.py would take over the module name ``conftest`` that
other tests import ``tiny_config`` from. Test modules import the fixtures from here; the expensive ones
cache their result in this module, so the tiny run is trained once per session.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_CACHE: dict = {}

# Evaluation lines as the metrics callback writes them (FID, KID), including a NaN the page must survive.
FAKE_METRICS = [{"step": 2, "fid": 310.5, "kid": 0.41, "eval_seconds": 1.5},
                {"step": 4, "fid": float("nan"), "kid": 0.33, "eval_seconds": 1.25},
                {"step": 6, "fid": 250.25, "kid": 0.30, "eval_seconds": 1.75}]


def tiny_overrides(out: Path, **extra) -> dict:
    base = {"steps": 6, "batch_size": 16, "model.width": 8, "model.z_dim": 8, "log.log_every": 2,
            "log.sample_every": 2, "log.checkpoint_every": 6, "log.n_samples": 16, "log.progress": False,
            "data.limit": 200, "log.tensorboard": True, "log.report": True, "out": str(out)}
    base.update(extra)
    return base


def append_metrics(run_dir: Path, rows: list[dict]) -> None:
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({"epoch": 0.0, "time": float(row["step"]), **row}) + "\n")


def values_equal(a: list, b: list) -> bool:
    """Logged values (NaN -> None in the page) equal what metrics.jsonl holds."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(y, float) and math.isnan(y):
            y = None
        if (x is None) != (y is None) or (x is not None and x != pytest.approx(y, rel=1e-9, abs=1e-12)):
            return False
    return True


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A 6-step class-conditional DCGAN on the embedded digits, trained through gankit.train with the
    default viewers on (report, TensorBoard), then given evaluation lines the way the metrics callback
    would write them, and reported again."""
    import gankit
    from gankit.app.training import resolve_config

    if "finished_run" in _CACHE:  # one training per session, however many modules import the fixture
        return _CACHE["finished_run"]
    run_dir = tmp_path_factory.mktemp("report") / "cgan-run"
    cfg = resolve_config("cgan", None, tiny_overrides(run_dir))
    gankit.train(cfg, quiet=True)
    assert (run_dir / "report.html").is_file(), "gankit train did not leave report.html"
    assert (run_dir / "progress.gif").is_file(), "gankit train did not leave progress.gif"
    append_metrics(run_dir, FAKE_METRICS)
    from gankit.report import write_report

    write_report(run_dir)  # again, now with the evaluation lines
    _CACHE["finished_run"] = run_dir
    return run_dir


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    """A private copy of the finished run a test may change."""
    dst = tmp_path / finished_run.name
    shutil.copytree(finished_run, dst)
    return dst


def chromium_paths() -> tuple[str, str] | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through chromedriver (installed by `make browser`)."""
    paths = chromium_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        paths = None
    if paths is None:
        if os.environ.get("CI"):
            pytest.fail("chromium, chromedriver and selenium are required in CI (make setup-test)")
        pytest.skip("headless chromium not installed; run `make browser` and pip install selenium")
    opts = webdriver.ChromeOptions()
    opts.binary_location = paths[0]
    profile = tempfile.mkdtemp(prefix="gankit-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1280,2000", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
