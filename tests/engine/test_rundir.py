"""Loading a finished run: damaged weights are an error naming the checkpoint, not black pictures (issue 13, 7)."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from gankit.app.cli import main
from gankit.engine.checkpoint import list_checkpoints
from gankit.errors import GankitError


@pytest.fixture()
def nan_run(tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "--recipe", "infogan", "--data", "digits", "--steps", "2", "--batch-size", "16", "--set",
            "data.limit=64", "--set", "model.width=8", "--quiet", "--no-tensorboard", "--no-report", "--out", str(run_dir)]
    assert main(args) == 0
    return run_dir


def _poison(run_dir):
    """Put a NaN into G's weights and re-seal the checkpoint, as a diverged or hand-edited run would be."""
    import hashlib
    import json

    ckpt = list_checkpoints(run_dir)[-1]
    weights = load_file(ckpt / "weights.safetensors")
    key = next(k for k in weights if k.startswith("G.") and weights[k].is_floating_point() and weights[k].dim() > 1)
    weights[key].view(-1)[0] = float("nan")
    save_file(weights, ckpt / "weights.safetensors")
    meta = json.loads((ckpt / "state.json").read_text())
    blob = (ckpt / "weights.safetensors").read_bytes()
    meta["files"]["weights.safetensors"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    body = {k: v for k, v in meta.items() if k != "sha256"}
    meta["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()
    (ckpt / "state.json").write_text(json.dumps(meta))
    return ckpt


def test_nan_weights_are_an_error_naming_the_checkpoint(nan_run, tmp_path, capsys):
    ckpt = _poison(nan_run)
    for args in (["sample", str(nan_run), "-n", "4", "--out", str(tmp_path / "x.png")],
                 ["interpolate", str(nan_run), "--out", str(tmp_path / "y.png")]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"{ckpt} produces non-finite images" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_a_non_finite_sweep_limit_is_refused(nan_run, tmp_path, capsys):
    assert main(["sample", str(nan_run), "--sweep-code", "0", "--sweep-limit", "nan", "--out",
                 str(tmp_path / "s.png")]) == 2
    assert "--sweep-limit must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_generate_gives_finite_images_of_the_run(nan_run):
    from gankit import load_run

    run = load_run(nan_run)
    images = run.generate(torch.randn(3, run.config.model.z_dim), torch.zeros(3, 12))
    assert images.shape == (3, 1, 28, 28) and torch.isfinite(images).all()
    with pytest.raises(GankitError, match="non-finite"):
        _poison(nan_run)
        load_run(nan_run).sample(2)


def test_checkpoint_by_name_step_or_best(tmp_path, capsys):
    import json

    import numpy as np

    run_dir = tmp_path / "run"
    assert main(["train", "--recipe", "dcgan", "--data", "digits", "--steps", "4", "--batch-size", "16", "--set",
                 "data.limit=64", "--set", "model.width=8", "--set", "log.checkpoint_every=2", "--quiet",
                 "--no-tensorboard", "--no-report", "--out", str(run_dir)]) == 0

    def sample(spec):
        out = tmp_path / f"{spec}.npz"
        assert main(["sample", str(run_dir), "-n", "4", "--checkpoint", spec, "--out", str(out)]) == 0
        return np.load(out)["images"]

    assert np.array_equal(sample("2"), sample("step-00000002"))
    assert np.array_equal(sample("last"), sample(str(run_dir / "checkpoints" / "step-00000004")))
    assert not np.array_equal(sample("2"), sample("last"))
    assert main(["sample", str(run_dir), "--checkpoint", "best", "--out", str(tmp_path / "b.png")]) == 2
    assert "has no best checkpoint" in capsys.readouterr().err
    (run_dir / "best.json").write_text(json.dumps({"step": 2, "fid": 1.0, "checkpoint": "step-00000002"}))
    assert np.array_equal(sample("best"), sample("2"))
    assert main(["sample", str(run_dir), "--checkpoint", "7", "--out", str(tmp_path / "c.png")]) == 2
    assert "has no checkpoint step-00000007 (kept: step-00000002, step-00000004)" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["sample", "-n", "1000000000"], ["interpolate", "--rows", "100000", "--steps", "100000"],
                                  ["sample", "--grid-by-class", "--per-class", "1000000000"]])
def test_counts_beyond_memory_are_refused_before_any_work(tmp_path, capsys, args):
    run_dir = tmp_path / "run"
    assert main(["train", "--recipe", "cgan", "--data", "digits", "--steps", "1", "--batch-size", "16", "--set",
                 "data.limit=64", "--set", "model.width=8", "--quiet", "--no-tensorboard", "--no-report",
                 "--out", str(run_dir)]) == 0
    out = tmp_path / "big.npz"
    assert main([args[0], str(run_dir), *args[1:], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "of memory, but only" in err and err.count("\n") == 1
    assert not out.exists()
