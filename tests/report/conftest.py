"""One tiny finished conditional run shared by the report, TensorBoard and compare tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from report_helpers import FAKE_METRICS, append_metrics, tiny_overrides


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A 6-step class-conditional DCGAN on the embedded digits, trained through gankit.train with the
    default viewers on (report, TensorBoard), then given evaluation lines the way the metrics callback
    would write them, and reported again."""
    import gankit
    from gankit.train.run import resolve_config

    run_dir = tmp_path_factory.mktemp("report") / "cgan-run"
    cfg = resolve_config("cgan", None, tiny_overrides(run_dir))
    gankit.train(cfg, quiet=True)
    assert (run_dir / "report.html").is_file(), "gankit train did not leave report.html"
    assert (run_dir / "progress.gif").is_file(), "gankit train did not leave progress.gif"
    append_metrics(run_dir, FAKE_METRICS)
    from gankit.report import write_report

    write_report(run_dir)  # again, now with the evaluation lines
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
