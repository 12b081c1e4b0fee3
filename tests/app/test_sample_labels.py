"""`gankit sample` of a class-conditional run writes the labels beside the images; `gankit eval` reads them."""

import json

import numpy as np
import pytest

from gankit.app.cli import main

pytestmark = pytest.mark.slow  # trains two tiny runs (about 20 s on a busy 2-core machine)

TINY = ["--data", "digits", "--steps", "2", "--batch-size", "16", "--set", "model.width=8", "--set", "model.z_dim=8",
        "--set", "data.limit=64", "--quiet", "--no-tensorboard", "--no-report"]


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cgan") / "run"
    assert main(["train", "--recipe", "cgan", "--out", str(out), *TINY]) == 0
    return out


def test_npz_of_a_conditional_run_holds_balanced_labels(cgan_run, tmp_path):
    assert main(["sample", str(cgan_run), "-n", "25", "--out", str(tmp_path / "s.npz")]) == 0
    f = np.load(tmp_path / "s.npz")
    assert f["images"].shape == (25, 28, 28, 1) and f["labels"].dtype == np.int64
    assert f["labels"].tolist() == [i % 10 for i in range(25)]
    assert main(["sample", str(cgan_run), "-n", "5", "--class", "7", "--out", str(tmp_path / "sevens.npz")]) == 0
    assert np.load(tmp_path / "sevens.npz")["labels"].tolist() == [7] * 5


def test_the_labels_are_the_classes_the_images_were_drawn_for(cgan_run, tmp_path):
    from gankit.engine.rundir import load_run

    assert main(["sample", str(cgan_run), "-n", "12", "--seed", "4", "--out", str(tmp_path / "s.npz")]) == 0
    f = np.load(tmp_path / "s.npz")
    run = load_run(cgan_run)
    for k in (0, 3):
        assert main(["sample", str(cgan_run), "-n", "12", "--seed", "4", "--class", str(k),
                     "--out", str(tmp_path / f"c{k}.npz")]) == 0
        only_k = np.load(tmp_path / f"c{k}.npz")["images"]
        same = f["labels"] == k  # same latents, same class -> same image
        assert np.array_equal(f["images"][same], only_k[same])
    assert run.num_classes == 10


def test_unconditional_npz_has_no_labels(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--recipe", "dcgan", "--out", str(out), *TINY]) == 0
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "u.npz")]) == 0
    assert "labels" not in np.load(tmp_path / "u.npz").files


def test_eval_reads_class_acc_from_the_file(cgan_run, tmp_path):
    assert main(["sample", str(cgan_run), "-n", "20", "--out", str(tmp_path / "s.npz")]) == 0
    assert main(["eval", str(tmp_path / "s.npz"), "--metrics", "class_acc", "--json", str(tmp_path / "r.json")]) == 0
    acc = json.loads((tmp_path / "r.json").read_text())["class_acc"]
    # the same number as evaluating the images with the labels given in memory
    from gankit.metrics import evaluate

    f = np.load(tmp_path / "s.npz")
    expected = evaluate(f["images"], None, ["class_acc"], "mnist", fake_labels=f["labels"])["class_acc"]
    assert acc == pytest.approx(expected) and 0 <= acc <= 1
    # shuffled labels give another number: the file's labels are really used
    np.savez(tmp_path / "wrong.npz", images=f["images"], labels=(f["labels"] + 1) % 10)
    assert main(["eval", str(tmp_path / "wrong.npz"), "--metrics", "class_acc", "--json", str(tmp_path / "w.json")]) == 0
    wrong = json.loads((tmp_path / "w.json").read_text())["class_acc"]
    expected_wrong = evaluate(f["images"], None, ["class_acc"], "mnist", fake_labels=(f["labels"] + 1) % 10)["class_acc"]
    assert wrong == pytest.approx(expected_wrong)
