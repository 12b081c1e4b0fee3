"""Kill test: SIGKILL a training subprocess at random moments, resume each time, compare with an
uninterrupted run. No checkpoint may ever be corrupt, and the end result must be bit-identical."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from engine_helpers import fit  # tests/engine/engine_helpers.py

from gankit.app.training import is_interrupted_run
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint, verify_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _latest_step(run_dir: Path) -> int:
    ckpts = list_checkpoints(run_dir)
    return int(ckpts[-1].name.split("-")[1]) if ckpts else -1


def _verify_all(run_dir: Path) -> list[str]:
    names = []
    for ckpt in list_checkpoints(run_dir):
        verify_checkpoint(ckpt)  # raises on any missing, truncated or altered file
        names.append(ckpt.name)
    return names


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_result(tmp_path, tiny_config):
    run_dir = tmp_path / "run"
    # 120 steps: long enough that three kills, each up to 0.4 s after fresh progress, land mid-run
    # even on a fast machine (at 40 steps, CI's third kill once landed after the run had finished)
    cfg = tiny_config(steps=120, out=str(run_dir), **{"train.threads": 1, "log.checkpoint_every": 1,
                                                      "log.keep_checkpoints": 2, "log.sample_every": 10})
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "gankit", "train", "--config", str(cfg_file), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    rng = random.Random(1234)  # seeded: the same "random" kill moments on every test run
    kills, progress = 0, []
    while kills < 3:
        before = _latest_step(run_dir)
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while _latest_step(run_dir) <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # wait until this session has made progress of its own
        time.sleep(rng.uniform(0.0, 0.4))  # then kill at a random moment: mid-step, mid-checkpoint, ...
        if proc.poll() is not None:
            break  # it finished before we got to it; the checks below still apply
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        progress.append(_latest_step(run_dir))
        assert _verify_all(run_dir), "no complete checkpoint after a kill"
    assert kills >= 2, f"training finished too fast to be killed ({kills} kills)"

    if is_interrupted_run(run_dir):  # a kill may land after the end (the process exiting): then nothing to redo
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert _verify_all(run_dir)[-1] == "step-00000120"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is True and summary["steps"] == 120
    assert progress == sorted(progress)

    # the uninterrupted reference, in this process with the same single thread
    ref = tmp_path / "ref"
    fit(cfg, ref)
    wa, sa = load_checkpoint(list_checkpoints(ref)[-1])
    wb, sb = load_checkpoint(list_checkpoints(run_dir)[-1])
    for net in wa:
        for k in wa[net]:
            assert torch.equal(wa[net][k], wb[net][k]), f"{net}.{k} differs after {kills} kills"
    for opt in ("optim.G", "optim.D"):
        for idx, slots in sa["parts"][opt]["state"].items():
            for name, value in slots.items():
                assert torch.equal(value, sb["parts"][opt]["state"][idx][name])

    def losses(d):
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in rows]

    assert losses(ref) == losses(run_dir)


@pytest.mark.slow
def test_sigterm_stops_between_steps_with_exit_143_and_the_same_command_resumes(tmp_path, tiny_config):
    run_dir = tmp_path / "run"
    cfg = tiny_config(steps=100000, out=str(run_dir), **{"train.threads": 1, "log.checkpoint_every": 1000,
                                                          "log.sample_every": 1000})
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "gankit", "train", "--config", str(cfg_file), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # training has started: steps are running
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr and "gankit train --resume" in stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped"] == "interrupted" and not summary.get("complete")
    stopped_at = _latest_step(run_dir)
    assert stopped_at > 0 and _verify_all(run_dir)  # the checkpoint written on the way out is complete

    resumed = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(run_dir), "--quiet",
                              "--steps", str(stopped_at + 2)], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _latest_step(run_dir) == stopped_at + 2
    assert json.loads((run_dir / "summary.json").read_text())["complete"] is True
