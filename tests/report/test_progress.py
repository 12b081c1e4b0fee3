"""The terminal progress line: step, epoch, ETA, losses and the latest evaluation metric."""

from __future__ import annotations

from gankit.engine.callbacks import Callback, MetricsLog, Progress
from gankit.engine.trainer import Trainer


class FakeEval(Callback):
    """Logs an evaluation line the way the metrics callback does (a separate metrics.jsonl line)."""

    def __init__(self, metrics: MetricsLog):
        self.metrics = metrics

    def on_step(self, trainer, stats):
        if trainer.step % 2 == 0:
            self.metrics.log(trainer, {"fid": 100.0 / trainer.step, "eval_seconds": 0.5})


def test_progress_line_shows_losses_and_latest_metric(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich truncates the line to a narrow terminal
    trainer = Trainer(tiny_config(steps=4))
    metrics = MetricsLog(tmp_path, every=2)
    bar = Progress(metrics, enabled=True, terminal=True)
    trainer.callbacks = [metrics, FakeEval(metrics), bar]
    trainer.fit()
    info = bar.info(trainer)
    assert info.startswith("step 4/4  epoch ")
    assert f"d_loss {metrics.latest['d_loss']:.3g}" in info and f"g_loss {metrics.latest['g_loss']:.3g}" in info
    assert "fid 25" in info  # the latest value (100 / 4), not the first
    assert "d_real" not in info and "images_per_s" not in info and "eval_seconds" not in info
    out = capsys.readouterr().out
    assert "ETA" in out and "step 4/4" in out and "fid 25" in out


def test_an_80_column_terminal_keeps_the_eta_and_the_metric(tiny_config, tmp_path, capsys, monkeypatch):
    import re

    monkeypatch.setenv("COLUMNS", "80")
    trainer = Trainer(tiny_config(steps=4))
    metrics = MetricsLog(tmp_path, every=2)
    trainer.callbacks = [metrics, FakeEval(metrics), Progress(metrics, enabled=True, terminal=True)]
    trainer.fit()
    last = [line for line in capsys.readouterr().out.splitlines() if "step" in line][-1]
    assert len(last.rstrip()) <= 80, last
    assert re.search(r"ETA \d+:\d\d:\d\d", last), last
    assert "step 4/4  epoch" in last and "fid 25" in last, last


def test_disabled_progress_prints_nothing(tiny_config, tmp_path, capsys):
    trainer = Trainer(tiny_config(steps=2))
    metrics = MetricsLog(tmp_path, every=1)
    trainer.callbacks = [metrics, Progress(metrics, enabled=False)]
    trainer.fit()
    assert capsys.readouterr().out == ""


def test_without_a_terminal_plain_full_lines_go_to_stderr(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")  # a narrow guess must not cut the plain line
    trainer = Trainer(tiny_config(steps=4))
    metrics = MetricsLog(tmp_path, every=2)
    trainer.callbacks = [metrics, FakeEval(metrics), Progress(metrics, enabled=True, terminal=False, every_s=0)]
    trainer.fit()
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and len(lines) == 5  # one line per step (every_s=0) and one at the end
    assert lines[-1].startswith("gankit: step 4/4  epoch ") and lines[-1].endswith("100%  ETA 0s")
    assert f"g_loss {metrics.latest['g_loss']:.3g}" in lines[-1] and "fid 25" in lines[-1]
    assert "img/s" in lines[-1] and len(lines[-1]) > 40
