"""gankit classify: classes of a ssgan run's discriminator, accuracy from labels, bad input."""

import json

import numpy as np
import pytest

from gankit.app.cli import main

pytestmark = pytest.mark.slow  # two tiny training runs

TINY = ["--data", "digits", "--steps", "2", "--batch-size", "16", "--set", "model.width=8", "--set", "model.z_dim=8",
        "--quiet", "--no-tensorboard", "--no-report"]


def test_classify_writes_classes_and_reports_error(tmp_path, capsys):
    run = tmp_path / "ss"
    assert main(["train", "--recipe", "ssgan", "--set", "data.labels_per_class=3", "--out", str(run), *TINY]) == 0
    from gankit.app.classify import Classifier
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    test = load_dataset(DataConfig(name="digits", split="test"))
    np.savez(tmp_path / "x.npz", images=test.images[:30].permute(0, 2, 3, 1).numpy(), labels=test.labels[:30].numpy())
    capsys.readouterr()
    assert main(["classify", str(run), "--input", str(tmp_path / "x.npz"), "--out", str(tmp_path / "p.npy"),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    pred = np.load(tmp_path / "p.npy")
    assert pred.shape == (30,) and pred.dtype == np.int64 and set(pred.tolist()) <= set(range(10))
    assert np.array_equal(pred, Classifier(run)(test.images[:30]))
    assert summary["error"] == pytest.approx((pred != test.labels[:30].numpy()).mean())


def test_classify_a_run_without_a_classifier_head_is_one_line(tmp_path, capsys):
    run = tmp_path / "gan"
    assert main(["train", "--recipe", "dcgan", "--out", str(run), *TINY]) == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    capsys.readouterr()
    assert main(["classify", str(run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no classifier head" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p.npy").exists()
