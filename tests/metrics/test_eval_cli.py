"""`gankit eval` on the three source kinds (run directory, image folder, .npz) and its errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from gankit.app.cli import main


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # MNIST-test statistics computed once for these tests


@pytest.fixture()
def env(monkeypatch, tmp_path, mnist_root, shared_cache):
    monkeypatch.setenv("GANKIT_CACHE", str(shared_cache))
    monkeypatch.setenv("GANKIT_DATA", str(mnist_root))
    return tmp_path


@pytest.fixture(scope="module")
def digits(mnist_root) -> np.ndarray:
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    ds = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="train", limit=600, download=False))
    return ds.images.permute(0, 2, 3, 1).numpy()  # (N, 28, 28, 1) uint8


@pytest.mark.slow
def test_npz_source_prints_a_table_and_writes_json(env, digits, capsys, shared_cache):
    np.savez(env / "samples.npz", images=digits)
    rc = main(["eval", str(env / "samples.npz"), "--ref", "mnist", "--metrics", "fid,kid,pr,dc,is",
               "--json", str(env / "out.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "fid" in out and "extractor mnist" in out
    numbers = json.loads((env / "out.json").read_text())
    assert {"fid", "kid", "kid_std", "is", "precision", "recall", "density", "coverage"} <= set(numbers)
    assert 0 < numbers["fid"] < 15 and numbers["precision"] > 0.7  # real digits vs real digits (600: FID ~8)
    assert list((shared_cache / "refstats").glob("mnist-test-mnist-*.npz"))


def test_folder_source_and_saved_reference(env, digits):
    folder = env / "imgs"
    folder.mkdir()
    for i in range(300):
        Image.fromarray(digits[i, ..., 0]).save(folder / f"{i:03d}.png")
    assert main(["eval", str(folder), "--ref", "mnist", "--metrics", "fid", "--save-ref", str(env / "ref.npz"),
                 "--json", str(env / "a.json")]) == 0
    assert main(["eval", str(folder), "--ref", str(env / "ref.npz"), "--metrics", "fid",
                 "--json", str(env / "b.json")]) == 0
    assert json.loads((env / "a.json").read_text()) == json.loads((env / "b.json").read_text())


@pytest.mark.slow
def test_run_directory_source(env):
    import gankit

    run_dir = env / "run"
    gankit.train(data="digits", steps=2, batch_size=16, out=str(run_dir), quiet=True)
    assert main(["eval", str(run_dir), "-n", "300", "--metrics", "fid,kid,mnist_score",
                 "--json", str(env / "run.json")]) == 0
    numbers = json.loads((env / "run.json").read_text())
    assert numbers["fid"] > 0 and 1 <= numbers["mnist_score"] <= 10


def test_user_errors_are_one_line(env, capsys):
    assert main(["eval", str(env / "missing.npz"), "--ref", "mnist"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "\n" not in err
    assert main(["eval", "mnist:test", "--ref", "mnist", "--metrics", "fdi"]) == 2
    assert "did you mean 'fid'" in capsys.readouterr().err


def test_labels_of_a_file_source_score_class_accuracy(env, digits, mnist_root, capsys):
    """The documented classifier accuracy is re-checkable: `gankit eval mnist:test --metrics class_acc`."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    ds = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="train", limit=600, download=False))
    np.savez(env / "labelled.npz", images=digits, labels=ds.labels.numpy())
    assert main(["eval", str(env / "labelled.npz"), "--metrics", "class_acc", "--json", str(env / "a.json")]) == 0
    assert json.loads((env / "a.json").read_text())["class_acc"] > 0.95
    np.savez(env / "shuffled.npz", images=digits, labels=np.roll(ds.labels.numpy(), 1))
    assert main(["eval", str(env / "shuffled.npz"), "--metrics", "class_acc", "--json", str(env / "b.json")]) == 0
    assert json.loads((env / "b.json").read_text())["class_acc"] < 0.3


def test_user_extractor_module_in_the_working_directory(env, digits, monkeypatch, capsys):
    (env / "myfeatures.py").write_text(
        "import torch\nnet = torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Flatten())\n")
    monkeypatch.chdir(env)
    monkeypatch.delitem(sys.modules, "myfeatures", raising=False)  # imported fresh here, forgotten afterwards
    noise = np.random.default_rng(0).integers(0, 256, digits[:300].shape, dtype=np.uint8)
    for name, images in [("s", digits[:300]), ("r", digits[300:]), ("noise", noise)]:
        np.savez(env / f"{name}.npz", images=images)

    def fid(source: str, ref: str) -> float:
        assert main(["eval", source, "--ref", ref, "--extractor", "myfeatures:net", "--metrics", "fid",
                     "--no-cache", "--json", "f.json"]) == 0
        return json.loads((env / "f.json").read_text())["fid"]

    digits_vs_digits = fid("s.npz", "r.npz")
    # the number is the library's on the same images with the module the CLI imported
    from gankit.metrics import evaluate

    net = sys.modules["myfeatures"].net
    assert digits_vs_digits == pytest.approx(evaluate(digits[:300], digits[300:], "fid", net, cache=False)["fid"],
                                             rel=1e-9)
    assert fid("s.npz", "s.npz") < 1e-6 * digits_vs_digits  # a set against itself: zero up to rounding
    assert fid("noise.npz", "r.npz") > 10 * digits_vs_digits  # noise is far from digits, other digits are near


def test_num_samples_takes_the_first_images_of_a_file_source(env, digits, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the table title names the source on one line
    np.savez(env / "s.npz", images=digits)
    assert main(["eval", str(env / "s.npz"), "--ref", str(env / "s.npz"), "-n", "100", "--metrics", "fid",
                 "--no-cache", "--json", str(env / "n.json")]) == 0
    assert "first 100 images" in capsys.readouterr().out
    np.savez(env / "first.npz", images=digits[:100])
    assert main(["eval", str(env / "first.npz"), "--ref", str(env / "s.npz"), "--metrics", "fid", "--no-cache",
                 "--json", str(env / "f.json")]) == 0
    assert json.loads((env / "n.json").read_text()) == json.loads((env / "f.json").read_text())
