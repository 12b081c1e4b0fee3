"""Helpers shared by the report tests (importable, unlike conftest.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

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
