"""Evaluation during training: logged to metrics.jsonl, best checkpoint kept by FID."""

from __future__ import annotations

import json

import pytest

import gankit
from gankit.engine.callbacks import read_metrics


@pytest.mark.slow
def test_eval_every_n_steps_logs_and_keeps_the_best(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    cfg = {"eval": {"every": 2, "n_samples": 200, "metrics": "fid,kid,pr"},
           "log": {"checkpoint_every": 100, "keep_checkpoints": 1, "tensorboard": False, "report": False}}
    gankit.train(cfg, data="digits", steps=6, batch_size=16, out=str(run_dir), quiet=True)
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "fid" in r]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert all({"kid", "precision", "recall", "eval_seconds"} <= set(r) for r in rows)
    best = json.loads((run_dir / "best.json").read_text())
    assert best["fid"] == pytest.approx(min(r["fid"] for r in rows), abs=1e-5)  # the log rounds to 6 digits
    assert (run_dir / "checkpoints" / best["checkpoint"]).is_dir()  # protected from keep_checkpoints=1


def test_eval_is_off_by_default():
    from gankit.config import build_config

    assert build_config({}).eval.every is None
