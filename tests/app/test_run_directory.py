"""A run directory is owned: one writer at a time, user files never touched, finished runs left alone (issue 13, 1-5)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from gankit.app.cli import main
from gankit.app.training import LOCK_FILE, run_config
from gankit.engine.callbacks import Callback, read_metrics

QUICK = ["--data", "digits", "--batch-size", "16", "--set", "data.limit=64", "--set", "model.width=8",
         "--set", "model.z_dim=8", "--set", "log.checkpoint_every=2", "--set", "log.log_every=1", "--quiet",
         "--no-tensorboard", "--no-report", "--recipe", "dcgan"]


def library_config(run_dir, **overrides):
    from gankit.app.training import resolve_config

    return resolve_config("dcgan", None, {"data": "digits", "batch_size": 16, "data.limit": 64, "model.width": 8,
                                          "model.z_dim": 8, "log.checkpoint_every": 2, "out": str(run_dir),
                                          "log.tensorboard": False, "log.report": False, **overrides})


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Crash(Callback):
    def __init__(self, at):
        self.at = at

    def on_step(self, trainer, stats):
        if trainer.step == self.at:
            raise RuntimeError("simulated crash")


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(  # holds the lock as a running gankit train does, then dies without releasing it
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(run_dir / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
         "print('locked', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["train", *QUICK, "--steps", "2", "--out", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert f"is being written by process {holder.pid}" in err and err.count("\n") == 1
        assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE]  # nothing else was written
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock, nothing stale remains
        holder.wait()
    assert main(["train", *QUICK, "--steps", "2", "--out", str(run_dir)]) == 0
    assert (run_dir / "checkpoints" / "step-00000002").is_dir()


def test_two_identical_commands_started_together_do_not_share_a_run(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "gankit", "train", *QUICK, "--steps", "40", "--out", str(run_dir)]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "being written by process" in loser or "already exists and is not empty" in loser
    steps = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "images_per_s" in r]
    assert steps == list(range(1, 41))  # one writer: every step logged exactly once


def test_a_folder_with_the_users_own_config_is_never_taken_for_a_run(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "config.yaml").write_text("recipe: dcgan\ntrain:\n  steps: 3\n")
    (folder / ".plan.tmp").write_text("my notes")
    before = snapshot(folder)
    assert main(["train", "--config", str(folder / "config.yaml"), *QUICK, "--out", str(folder)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert main(["train", *QUICK, "--steps", "5", "--out", str(folder)]) == 2  # a differing flag
    assert "interrupted run" not in capsys.readouterr().err
    assert main(["train", "--resume", str(folder)]) == 2
    assert "is not a gankit run directory" in capsys.readouterr().err
    assert snapshot(folder) == before


def test_resume_removes_only_the_temporaries_gankit_made(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_config(library_config(run_dir, steps=6), callbacks=[Crash(3)], quiet=True)
    mine = [run_dir / "notes.tmp", run_dir / ".draft.tmp", run_dir / "samples" / ".keep.tmp",
            run_dir / "checkpoints" / ".x.tmp"]
    for path in mine:
        path.write_text("user data")
    leftover = run_dir / ".gankit-summary.json.abc123.tmp"  # what a kill inside an atomic write leaves
    leftover.write_text("{")
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 0
    assert all(p.read_text() == "user data" for p in mine)
    assert not leftover.exists()


@pytest.fixture()
def image_folder(tmp_path):
    data = tmp_path / "pics"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(data / f"{i}.png")
    return data


@pytest.mark.parametrize("where", ["inside", "via a symlink", "around"])
def test_out_and_data_must_not_contain_each_other(image_folder, tmp_path, capsys, where):
    args = ["train", "--data", str(image_folder), "--steps", "2", "--batch-size", "8", "--quiet", "--no-tensorboard"]
    before = snapshot(image_folder)
    if where == "inside":
        out = image_folder / "run"
    elif where == "via a symlink":
        os.symlink(image_folder, tmp_path / "link")
        out = tmp_path / "link" / "run"
    else:
        out = image_folder.parent
        args[2] = str(image_folder)
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("inside the data folder" in err) if where != "around" else ("lies inside the run directory" in err)
    assert snapshot(image_folder) == before


def test_resuming_a_finished_run_to_its_own_limits_changes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--steps", "4", "--out", str(run_dir)]) == 0
    before = snapshot(run_dir)
    for steps in ("4", "3"):
        time.sleep(0.01)
        assert main(["train", "--resume", str(run_dir), "--steps", steps, "--quiet"]) == 2
        assert "is complete at step 4" in capsys.readouterr().err
        assert snapshot(run_dir) == before


def test_extending_a_finished_run_logs_each_step_once_with_time_moving_forward(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--steps", "4", "--set", "log.log_every=3", "--out", str(run_dir)]) == 0
    assert main(["train", "--resume", str(run_dir), "--steps", "7", "--quiet"]) == 0
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "images_per_s" in r]
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 7
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert max(r["images_per_s"] for r in rows) < 50 * min(r["images_per_s"] for r in rows)
    assert json.loads((run_dir / "summary.json").read_text())["complete"] is True


def test_an_extension_that_fails_leaves_a_run_the_same_command_continues(tmp_path):
    run_dir = tmp_path / "run"
    run_config(library_config(run_dir, steps=4), quiet=True)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_config(library_config(run_dir, steps=8), resume=True, callbacks=[Crash(6)], quiet=True)
    assert json.loads((run_dir / "summary.json").read_text())["complete"] is False  # not a stale "complete"
    assert main(["train", "--resume", str(run_dir), "--steps", "8", "--quiet"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is True and summary["steps"] == 8


def test_a_log_with_invalid_utf8_neither_blocks_resume_nor_the_report(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_config(library_config(run_dir, steps=6, **{"log.log_every": 1}), callbacks=[Crash(3)], quiet=True)
    with open(run_dir / "metrics.jsonl", "ab") as fh:
        fh.write(b'{"step": 1, "g_loss": \xff\xfe}\n')
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 0
    assert main(["report", str(run_dir), "--no-gif"]) == 0
    assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "images_per_s" in r] == list(range(1, 7))
