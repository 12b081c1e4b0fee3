"""The command line, run in-process (fast) and once as a real subprocess (no traceback on errors)."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gankit.app.cli import main

TINY = ["--steps", "2", "--batch-size", "16", "--set", "model.width=8", "--set", "model.z_dim=8",
        "--set", "data.limit=64", "--set", "log.progress=false", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return out


def test_sample_png_and_npz(run_dir, tmp_path):
    assert main(["sample", str(run_dir), "-n", "10", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 28
    assert main(["sample", str(run_dir), "-n", "10", "--seed", "3", "--out", str(tmp_path / "a.npz")]) == 0
    assert main(["sample", str(run_dir), "-n", "10", "--seed", "3", "--out", str(tmp_path / "b.npz")]) == 0
    a, b = np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"]
    assert a.shape == (10, 28, 28, 1) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_config_file_with_flag_override(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("recipe: mlp-gan\ntrain:\n  batch_size: 32\n")
    out = tmp_path / "r"
    assert main(["train", "--config", str(cfg), "--out", str(out), *TINY]) == 0
    text = (out / "config.yaml").read_text()
    assert "generator: mlp" in text and "batch_size: 16" in text


@pytest.mark.parametrize("args,needle", [
    (["train", "--recipe", "dcgn"], "unknown recipe 'dcgn'"),
    (["train", "--data", "/no/such/dir"], "not found"),
    (["train", "--set", "train.bach_size=3"], "did you mean 'train.batch_size'"),
    (["train", "--lr", "-1"], "optim.lr_g"),
    (["train", "--max-time", "soon"], "duration"),
    (["train", "--batch-size", "5000"], "larger than the dataset"),
    (["sample", "/no/such/run", "--out", "x.png"], "run directory not found"),
    (["sample", ".", "--out", "x.gif"], ".png or .npz"),
])
def test_errors_are_one_line_and_write_nothing(args, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_real_process_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "--data", str(tmp_path / "missing")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gankit: error:") and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_dry_run_prints_resolved_config(capsys):
    assert main(["train", "--recipe", "mlp-gan", "--steps", "7", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "generator: mlp" in out and "steps: 7" in out


def test_train_records_the_threads_it_chose(run_dir):
    import yaml

    threads = yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["threads"]
    assert isinstance(threads, int) and threads >= 1


def test_idle_cores_follows_the_load(monkeypatch):
    import os

    from gankit.utils import idle_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0, 0))
    assert idle_cores() == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 0, 0))
    assert idle_cores() == 1  # 4 - 2.6 = 1.4 idle
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0, 0))
    assert idle_cores() == 1


def test_default_threads_do_not_depend_on_the_load(monkeypatch, capsys):
    """A seed pins the run: the default thread count is torch's, whatever the machine's load."""
    import os

    import torch
    import yaml

    chosen = []
    for load in (0.0, 50.0):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0, 0))
        assert main(["train", "--dry-run"]) == 0
        chosen.append(yaml.safe_load(capsys.readouterr().out)["train"]["threads"])
    assert chosen == [torch.get_num_threads()] * 2
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 0, 0))
    assert main(["train", "--dry-run", "--set", "train.threads=auto"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["threads"] == 1  # opt-in: the idle cores


def test_out_of_range_seed_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--seed", str(2**64), "--dry-run"])
    assert exc.value.code == 2 and "--seed" in capsys.readouterr().err
