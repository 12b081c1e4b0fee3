"""Data selection: data.classes and data.labels_per_class (issue 15), in the library and the CLI."""

import json

import pytest
import torch

from gankit.app.cli import main
from gankit.config import DataConfig
from gankit.data import ImageDataset, SelectedDataset, load_dataset
from gankit.data.select import select
from gankit.errors import DataError

QUICK = ["--data", "digits", "--batch-size", "16", "--steps", "2", "--set", "model.width=8", "--set", "model.z_dim=8",
         "--quiet", "--no-tensorboard", "--no-report", "--recipe", "dcgan"]


def toy(n_per_class=5, classes=3):
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    images = (labels.view(-1, 1, 1, 1) * 10 + torch.arange(len(labels)).view(-1, 1, 1, 1) % n_per_class)
    return ImageDataset(images.expand(-1, 1, 4, 4).to(torch.uint8).contiguous(), labels, classes, "toy")


def test_classes_keep_only_those_images_with_their_own_labels():
    ds = select(toy(), DataConfig(classes=[2, 0]))
    assert isinstance(ds, SelectedDataset) and len(ds) == 10
    assert sorted(set(ds.labels.tolist())) == [0, 2]  # not renumbered: class 2 is still 2
    assert ds.num_classes == 3 and ds.selection.classes == [0, 2] and ds.selection.images == 10


def test_no_selection_is_the_dataset_itself():
    ds = toy()
    assert select(ds, DataConfig()) is ds


def test_labels_per_class_is_seeded_balanced_and_drops_the_other_labels():
    ds = select(toy(), DataConfig(labels_per_class=2, label_seed=1))
    assert ds.labels is None and len(ds) == 15  # every image stays, unlabelled
    lab = ds.labelled()
    assert lab.labels.tolist().count(0) == lab.labels.tolist().count(1) == lab.labels.tolist().count(2) == 2
    # the recorded indices point at images of the recorded class in the original split
    original = toy()
    for i, c in zip(ds.selection.labelled, ds.selection.labels):
        assert original.labels[i] == c
    assert torch.equal(lab.images, original.images[ds.selection.labelled])
    again = select(toy(), DataConfig(labels_per_class=2, label_seed=1))
    other = select(toy(), DataConfig(labels_per_class=2, label_seed=2))
    assert again.selection.labelled == ds.selection.labelled != other.selection.labelled


def test_indices_are_into_the_split_before_the_class_selection():
    ds = select(toy(), DataConfig(classes=[1, 2], labels_per_class=1))
    assert all(5 <= i < 15 for i in ds.selection.labelled)
    assert toy().labels[ds.selection.labelled].tolist() == ds.selection.labels == [1, 2]


def test_labels_per_class_applies_to_the_training_split_only():
    ds = select(toy(), DataConfig(labels_per_class=2, split="test"))
    assert ds.labels is not None and len(ds) == 15


@pytest.mark.parametrize("cfg,needle", [
    (DataConfig(classes=[3]), "has no class 3; its classes are 0..2"),
    (DataConfig(labels_per_class=6), "class 0 of 'toy' has only 5 images"),
])
def test_bad_selection_is_one_line(cfg, needle):
    with pytest.raises(DataError, match=needle):
        select(toy(), cfg)


def test_selection_of_an_unlabelled_dataset_is_refused():
    ds = ImageDataset(torch.zeros(4, 1, 4, 4, dtype=torch.uint8), name="plain")
    with pytest.raises(DataError, match="data.classes needs class labels"):
        select(ds, DataConfig(classes=[0]))


def test_load_dataset_applies_the_selection():
    ds = load_dataset(DataConfig(name="digits", classes=[3]))
    assert set(ds.labels.tolist()) == {3} and len(ds) > 100


def test_train_records_the_selection_and_dry_run_shows_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--classes", "0,1", "--set", "data.labels_per_class=3", *QUICK]) == 0
    rec = json.loads((out / "selection.json").read_text())
    assert rec["classes"] == [0, 1] and rec["labels_per_class"] == 3 and len(rec["labelled"]) == 6
    digits = load_dataset(DataConfig(name="digits"))
    assert digits.labels[rec["labelled"]].tolist() == rec["labels"]
    assert json.loads((out / "run.json").read_text())["dataset_size"] == rec["images"]
    capsys.readouterr()
    assert main(["train", "--classes", "0,1", "--set", "data.labels_per_class=3", "--dry-run", *QUICK]) == 0
    shown = capsys.readouterr().out
    assert "classes:\n  - 0\n  - 1" in shown and "labels_per_class: 3" in shown
    assert f"# data selection: {rec['images']} images of digits (train), classes [0, 1]; labels kept for 3" in shown


@pytest.mark.parametrize("args,needle", [
    (["--classes", "12"], "has no class 12"),
    (["--classes", "zero"], "expected class numbers"),
    (["--set", "data.labels_per_class=1000"], "has only"),
    (["--set", "data.labels_per_class=5", "--set", "model.conditional=true"], "needs the label of every image"),
])
def test_bad_selection_from_the_cli_writes_nothing(args, needle, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        code = main(["train", "--out", str(out), *QUICK, *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()
