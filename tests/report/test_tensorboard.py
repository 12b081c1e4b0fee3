"""TensorBoard: on by default, holds the same scalars as metrics.jsonl and the saved sample grids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from report_helpers import finished_run  # noqa: F401  (fixtures)

from gankit.app.cli import main
from gankit.engine.callbacks import read_metrics
from gankit.report.images import sample_frames
from gankit.report.tensorboard import LOG_SUBDIR, tag_for


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / LOG_SUBDIR), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_equal_metrics_jsonl(finished_run):
    acc = _events(finished_run)
    rows = [r for r in read_metrics(finished_run / "metrics.jsonl") if "images_per_s" in r]
    assert rows
    for key in ("d_loss", "g_loss", "d_real", "images_per_s"):
        assert tag_for(key) in acc.Tags()["scalars"], key
        events = acc.Scalars(tag_for(key))
        assert [e.step for e in events] == [r["step"] for r in rows]
        # TensorBoard stores float32
        np.testing.assert_allclose([e.value for e in events], [r[key] for r in rows], rtol=1e-6)
    assert tag_for("d_loss") == "loss/d_loss" and tag_for("fid") == "metrics/fid"
    assert tag_for("eval_seconds") == "speed/eval_seconds" and tag_for("d_real") == "train/d_real"


def test_sample_grids_are_the_saved_pngs(finished_run):
    from io import BytesIO

    acc = _events(finished_run)
    images = acc.Images("samples/fixed_latents")
    steps = [s for s, _ in sample_frames(finished_run)]
    assert [e.step for e in images] == steps  # one per saved grid; the final grid repeats the last step
    last = Image.open(BytesIO(images[-1].encoded_image_string)).convert("RGB")
    saved = Image.open(sample_frames(finished_run)[-1][1]).convert("RGB")
    assert np.array_equal(np.asarray(last), np.asarray(saved))
    assert "config" in " ".join(acc.Tags()["tensors"])  # the resolved config as text


@pytest.mark.parametrize("key", ["tensorboard", "report"])
@pytest.mark.parametrize("flag, expected", [("", "true"), ("--no-", "false"), ("--", "true")])
def test_viewer_flags_default_on(key, flag, expected, capsys):
    assert main(["train", "--dry-run", *([flag + key] if flag else [])]) == 0
    log_section = capsys.readouterr().out.split("\nlog:\n", 1)[1]
    assert f"  {key}: {expected}\n" in log_section


def test_no_tensorboard_leaves_no_event_files(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "--no-tensorboard", "--no-report", "--quiet", "--steps", "2", "--batch-size", "8",
            "--out", str(run_dir), "--set", "model.width=8", "--set", "model.z_dim=8", "--set", "data.limit=64",
            "--set", "log.n_samples=4"]
    assert main(argv) == 0
    assert (run_dir / "metrics.jsonl").is_file()
    assert not (run_dir / LOG_SUBDIR).exists() and not (run_dir / "report.html").exists()
    assert capsys.readouterr().out == ""  # --quiet: nothing for scripts to filter
