"""The numbers a run logged, grouped the way a person reads them.

metrics.jsonl holds two kinds of lines: training lines (window means of the loss statistics, always with
``images_per_s``) and evaluation lines (FID, KID, ... written by the metrics callback). Keys are grouped
into losses (``*loss*``), other training statistics (D's mean logits, gradient penalty, ...),
evaluation metrics (keys that only appear on evaluation lines, or a known metric name) and speed
(throughput and durations such as ``eval_seconds``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.engine.callbacks import read_metrics

INDEX_KEYS = ("step", "epoch", "time")
SPEED_KEY = "images_per_s"
# Metric names that stay metrics even when a callback logs them on a training line.
KNOWN_METRICS = ("fid", "kid", "is", "precision", "recall", "density", "coverage", "class_acc", "class_kl",
                 "mnist_score")


@dataclass
class Series:
    """One logged quantity: its values with the step, epoch and seconds at which each was logged."""

    key: str
    step: list[int] = field(default_factory=list)
    epoch: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)  # None where the log holds NaN/inf

    def to_json(self, x: str = "step") -> dict[str, list]:
        # strict JSON for the page: a row logged without a time, or a NaN, becomes null (the plots leave a gap)
        return {"x": [_json_number(v) for v in getattr(self, x)], "y": [_json_number(v) for v in self.value]}

    @property
    def last(self) -> float | None:
        finite = [v for v in self.value if v is not None]
        return finite[-1] if finite else None


def _json_number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def load_series(rows: list[dict[str, Any]]) -> dict[str, Series]:
    """metrics.jsonl rows -> {key: Series}, in first-logged order; non-numeric values are skipped."""
    out: dict[str, Series] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("step"), (int, float)):
            continue
        for key, value in row.items():
            if key in INDEX_KEYS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            s = out.setdefault(key, Series(key))
            s.step.append(int(row["step"]))
            s.epoch.append(float(row.get("epoch", math.nan)))
            s.time.append(float(row.get("time", math.nan)))
            s.value.append(_finite(value))
    return out


def is_speed_key(key: str) -> bool:
    """Throughput and durations (images_per_s, eval_seconds, ...): timing, not quality."""
    return key == SPEED_KEY or key.endswith(("_per_s", "_seconds"))


def is_metric_key(key: str) -> bool:
    base = key.lower().split("/")[-1]
    return any(base == m or base.startswith(m + "_") for m in KNOWN_METRICS)


def group_keys(rows: list[dict[str, Any]], series: dict[str, Series]) -> dict[str, list[str]]:
    """{'losses': [...], 'stats': [...], 'metrics': [...], 'speed': [...]} over the logged keys."""
    training_keys: set[str] = set()
    for row in rows:
        if isinstance(row, dict) and SPEED_KEY in row:
            training_keys.update(row)
    groups: dict[str, list[str]] = {"losses": [], "stats": [], "metrics": [], "speed": []}
    for key in series:
        if is_speed_key(key):
            groups["speed"].append(key)
        elif is_metric_key(key) or key not in training_keys:
            groups["metrics"].append(key)
        elif "loss" in key:
            groups["losses"].append(key)
        else:
            groups["stats"].append(key)
    return groups


def read_series(run_dir: str | Path) -> tuple[dict[str, Series], dict[str, list[str]]]:
    rows = read_metrics(Path(run_dir) / "metrics.jsonl")
    series = load_series(rows)
    return series, group_keys(rows, series)
