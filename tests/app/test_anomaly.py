"""gankit anomaly fit / score (f-AnoGAN): a subfolder run that resumes exactly, scores, and bad input."""

import json

import numpy as np
import pytest
import torch

from gankit.app import anomaly
from gankit.app.cli import main
from gankit.engine.checkpoint import load_checkpoint
from gankit.engine.rundir import latest_checkpoint

pytestmark = pytest.mark.slow  # tiny runs, but several of them (about 30 s on a busy 2-core machine)

GAN = ["--data", "digits", "--classes", "0", "--steps", "4", "--batch-size", "16", "--set", "model.width=8",
       "--set", "model.z_dim=8", "--set", "log.checkpoint_every=2", "--quiet", "--no-tensorboard", "--no-report"]


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("anomaly") / "gan"
    assert main(["train", "--recipe", "dcgan-fast", "--out", str(out), *GAN]) == 0
    return out


def weights(run_dir):
    return load_checkpoint(latest_checkpoint(run_dir), networks_only=True)[0]


def test_fit_trains_only_the_encoder_into_the_run(gan_run, tmp_path):
    assert main(["anomaly", "fit", str(gan_run), "--steps", "3", "--quiet"]) == 0
    enc = gan_run / "anomaly"
    cfg = (enc / "config.yaml").read_text()
    assert "name: fanogan" in cfg and "classes:\n  - 0" in cfg  # trained on the GAN's normal data
    gan_w, enc_w = weights(gan_run), weights(enc)
    for key, value in gan_w["G_ema"].items():  # the sampling G (EMA) and D, frozen: unchanged by the fit
        assert torch.equal(enc_w["G"][key], value)
    for key, value in gan_w["D"].items():
        assert torch.equal(enc_w["D"][key], value)
    assert set(enc_w) == {"G", "D", "E"}
    assert json.loads((enc / "summary.json").read_text())["complete"] is True


def test_fit_resumes_exactly(gan_run, tmp_path):
    import shutil

    other = tmp_path / "gan"
    shutil.copytree(gan_run, other, ignore=shutil.ignore_patterns("anomaly", ".gankit.lock"))
    anomaly.fit(other, steps=2, quiet=True)
    anomaly.fit(other, steps=4, quiet=True)  # the same command with more steps extends it
    straight = tmp_path / "gan2"
    shutil.copytree(gan_run, straight, ignore=shutil.ignore_patterns("anomaly", ".gankit.lock"))
    anomaly.fit(straight, steps=4, quiet=True)
    a, b = weights(other / "anomaly")["E"], weights(straight / "anomaly")["E"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(anomaly.GankitError, match="--kappa cannot change"):
        anomaly.fit(other, steps=5, kappa=2.0, quiet=True)


def test_score_writes_one_float_per_image_and_auroc(gan_run, tmp_path, capsys):
    if not (gan_run / "anomaly").exists():
        anomaly.fit(gan_run, steps=3, quiet=True)
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    test = load_dataset(DataConfig(name="digits", split="test"))
    x = test.images[:40].permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "x.npz", images=x, labels=test.labels[:40].numpy())
    capsys.readouterr()
    assert main(["anomaly", "score", str(gan_run), "--input", str(tmp_path / "x.npz"), "--out",
                 str(tmp_path / "s.npy"), "--json", "--normal-classes", "0"]) == 0
    summary = json.loads(capsys.readouterr().out)
    scores = np.load(tmp_path / "s.npy")
    assert scores.shape == (40,) and scores.dtype == np.float64 and np.isfinite(scores).all()
    expected = anomaly.Scorer(gan_run)(test.images[:40])
    assert np.allclose(scores, expected)
    from sklearn.metrics import roc_auc_score

    assert summary["auroc"] == pytest.approx(roc_auc_score(test.labels[:40].numpy() != 0, scores))


def test_bad_input_is_one_line_and_writes_nothing(gan_run, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    assert main(["train", "--recipe", "dcgan-fast", "--out", str(fresh), *GAN]) == 0
    np.save(tmp_path / "x.npy", np.zeros((3, 28, 28), np.uint8))
    cases = [
        (["anomaly", "score", str(fresh), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "a.npy")],
         "no anomaly model yet; run `gankit anomaly fit"),
        (["anomaly", "score", str(tmp_path / "nope"), "--input", str(tmp_path / "x.npy"), "--out",
          str(tmp_path / "b.npy")], "run directory not found"),
    ]
    if (gan_run / "anomaly").exists():
        cases.append((["anomaly", "score", str(gan_run), "--input", str(tmp_path / "x.npy"), "--out",
                       str(tmp_path / "c.npy"), "--normal-classes", "0"], "--normal-classes needs labels"))
    cgan = tmp_path / "cgan"
    assert main(["train", "--recipe", "cgan", "--out", str(cgan), *GAN]) == 0
    cases.append((["anomaly", "fit", str(cgan)], "needs an unconditional GAN"))
    for args, needle in cases:
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err
    assert not any((tmp_path / n).exists() for n in ("a.npy", "b.npy", "c.npy"))
    assert not (fresh / "anomaly").exists() and not (cgan / "anomaly").exists()
