"""Exact resume: a resumed run reproduces the uninterrupted run bit for bit on CPU."""

import json
import os
import signal

import pytest
import torch
from engine_helpers import SCHEDULED_GAN, after_d_step, fit, into  # tests/engine/engine_helpers.py

from gankit.app.cli import main
from gankit.app.training import resume, run_config, train
from gankit.engine import callbacks as cb
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.engine.trainer import Trainer
from gankit.errors import GankitError


@pytest.fixture(autouse=True)
def _one_thread():
    # The cores are shared: one thread avoids OpenMP oversubscription, which made these tiny runs 10-20x
    # slower under load (tests/conftest.py restores the thread count afterwards).
    torch.set_num_threads(1)


class Record(cb.Callback):
    """Every step's losses, exactly as the engine returned them."""

    def __init__(self):
        self.rows = {}

    def on_step(self, trainer, stats):
        self.rows[trainer.step] = {k: v.clone() for k, v in stats.items()}


class Crash(cb.Callback):
    def __init__(self, at):
        self.at = at

    def on_step(self, trainer, stats):
        if trainer.step == self.at:
            raise RuntimeError("simulated crash")


def _fit(cfg, run_dir, *extra):
    return fit(cfg, run_dir, *extra)


def _resume(run_dir, **overrides):
    rec = Record()
    original = Trainer.fit

    def fit(self):  # put the recorder in after the run's own callbacks
        self.callbacks.append(rec)
        return original(self)

    Trainer.fit = fit
    try:
        run = resume(run_dir, quiet=True, **overrides)
    finally:
        Trainer.fit = original
    return run, rec


def _final_state(run_dir):
    weights, state = load_checkpoint(list_checkpoints(run_dir)[-1])
    return weights, state


def _assert_same_run(dir_a, dir_b):
    wa, sa = _final_state(dir_a)
    wb, sb = _final_state(dir_b)
    assert sa["step"] == sb["step"]
    assert set(wa) == set(wb)
    for net in wa:
        for k in wa[net]:
            assert torch.equal(wa[net][k], wb[net][k]), f"{net}.{k} differs"
    for opt in ("optim.G", "optim.D"):
        for idx, slots in sa["parts"][opt]["state"].items():
            for name, value in slots.items():
                assert torch.equal(value, sb["parts"][opt]["state"][idx][name]), f"{opt} {idx} {name}"
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])
    # the loss lines of metrics.jsonl agree too (time and throughput are wall-clock, so left out)
    def losses(d):
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in rows]
    assert losses(dir_a) == losses(dir_b)


def _losses_equal(a, b, steps):
    for step in steps:
        assert a[step].keys() == b[step].keys()
        for k in a[step]:
            assert torch.equal(a[step][k], b[step][k]), f"step {step} {k}: {a[step][k]} != {b[step][k]}"


@pytest.mark.parametrize("extra", [{}, {"ema.enabled": True, "ema.decay": 0.9, "augment.policy": "color,translation",
                                       "recipe": "mlp-gan", "model.g_hidden": [32], "model.d_hidden": [32]},
                                   {"perf.channels_last": True, "ema.enabled": True}],
                         ids=["dcgan", "mlp-ema-diffaugment", "channels-last"])  # NHWC weights, NCHW checkpoints
def test_resume_after_a_crash_is_bit_exact(tmp_path, tiny_config, extra):
    extra = dict(extra)
    cfg = tiny_config(steps=8, **{"log.checkpoint_every": 3, "log.log_every": 2, **extra})
    ref = Record()
    _fit(cfg, tmp_path / "a", ref)

    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(cfg, tmp_path / "b", Crash(at=5))  # dies after the step-3 checkpoint, before step 6
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == ["step-00000003"]
    run, rec = _resume(tmp_path / "b")
    assert sorted(rec.rows) == [4, 5, 6, 7, 8]
    _losses_equal(ref.rows, rec.rows, range(4, 9))
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_cli_resume_extends_a_finished_run_exactly(tmp_path, tiny_config, capsys):
    cfg = tiny_config(steps=6)
    _fit(cfg, tmp_path / "a")
    short = tiny_config(steps=3)
    _fit(short, tmp_path / "b")
    assert main(["train", "--resume", str(tmp_path / "b"), "--steps", "6", "--quiet"]) == 0
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_same_command_again_continues_an_interrupted_run(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, out=str(tmp_path / "b"), **{"log.checkpoint_every": 2})
    _fit(cfg, tmp_path / "a")
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", Crash(at=3))
    train(cfg, quiet=True)  # no --resume: the interrupted run is picked up
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    # a finished run is not resumed silently, and another config is refused
    with pytest.raises(GankitError, match="already exists"):
        train(cfg, quiet=True)


def test_resume_removes_what_a_kill_mid_write_left_behind(tmp_path, tiny_config):
    cfg = tiny_config(steps=4, out=str(tmp_path / "b"), **{"log.checkpoint_every": 2})
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", Crash(at=3))
    leftovers = [tmp_path / "b" / ".gankit-summary.json.k3f9.tmp", tmp_path / "b" / "samples" / ".gankit-final.png.x1.tmp"]
    for f in leftovers:
        f.write_bytes(b"half a file")
    train(cfg, quiet=True)
    assert not any(f.exists() for f in leftovers)
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["complete"] is True


class CrashAtEnd(cb.Callback):
    def on_end(self, trainer):
        raise RuntimeError("simulated crash while the end-of-run files are written")


def test_crash_after_the_summary_but_before_the_end_files_is_resumed(tmp_path, tiny_config):
    # summary.json is written before the report; a kill in between must not pass for a finished run
    cfg = tiny_config(steps=4, out=str(tmp_path / "b"), **{"log.report": True})
    _fit(cfg, tmp_path / "a")
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", CrashAtEnd())
    assert (tmp_path / "b" / "summary.json").is_file() and not (tmp_path / "b" / "report.html").exists()
    train(cfg, quiet=True)  # the same command again finishes it instead of refusing the directory
    assert (tmp_path / "b" / "report.html").is_file()
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["complete"] is True
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_interrupted_run_with_another_config_is_refused(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, out=str(tmp_path / "b"))
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", Crash(at=3))
    with pytest.raises(GankitError) as info:
        train(tiny_config(steps=6, out=str(tmp_path / "b"), lr=1e-3), quiet=True)
    assert "optim.lr_d" in str(info.value) and "--resume" in str(info.value) and "\n" not in str(info.value)


def test_resume_without_any_checkpoint_starts_over_identically(tmp_path, tiny_config):
    cfg = tiny_config(steps=4)
    _fit(cfg, tmp_path / "a")
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", Crash(at=1))  # before the first checkpoint (every 2 steps)
    assert list_checkpoints(tmp_path / "b") == []
    resume(tmp_path / "b", quiet=True)
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_ctrl_c_stops_between_steps_and_resumes_exactly(tmp_path, tiny_config):
    class CtrlC(cb.Callback):
        def on_step(self, trainer, stats):
            if trainer.step == 3:
                os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C during step 3

    cfg = tiny_config(steps=6, **{"log.checkpoint_every": 4})
    _fit(cfg, tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _fit(cfg, tmp_path / "b", CtrlC())
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == ["step-00000003"]
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["stopped"] == "interrupted"
    resume(tmp_path / "b", quiet=True)
    _assert_same_run(tmp_path / "a", tmp_path / "b")


class Counter(cb.Callback):
    """A callback with running state: it names it (``state_key``), so every checkpoint holds it."""
    state_key = "counter"

    def __init__(self):
        self.calls = 0

    def on_step(self, trainer, stats):
        self.calls += 1

    def state_dict(self):
        return {"calls": self.calls, "t": torch.tensor([float(self.calls)])}

    def load_state_dict(self, state):
        self.calls = state["calls"]
        assert float(state["t"]) == self.calls


def test_state_of_a_callback_with_a_state_key_is_saved_and_restored(tmp_path, tiny_config):
    # A checkpoint holds exactly the trainer's state parts: the optimizers, the task, the data order, the
    # guard and the callbacks that name a state_key; nothing else on the trainer is picked up.
    t = Trainer(tiny_config(steps=3))
    t.callbacks.append(Counter())
    t.fit()
    state = t.state_dict()
    assert sorted(state["parts"]) == ["callback.counter", "data", "guard", "optim.D", "optim.G", "task"]
    assert state["parts"]["callback.counter"]["calls"] == 3
    fresh = Trainer(tiny_config(steps=3))
    fresh.callbacks.append(Counter())
    fresh.load_state_dict(state)
    assert fresh.callbacks[-1].calls == 3 and fresh.step == 3
    bare = Trainer(tiny_config(steps=3))
    with pytest.raises(GankitError, match="unknown callback.counter"):
        bare.load_state_dict(state)  # a checkpoint with state this run has no place for
    with pytest.raises(GankitError, match="lacks callback.counter"):
        fresh.load_state_dict(bare.state_dict())  # a checkpoint without state this run needs


def test_callback_state_is_in_every_checkpoint_and_a_resumed_run_continues_it(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, **{"log.checkpoint_every": 2})
    ref = Counter()
    _fit(cfg, tmp_path / "a", ref)
    assert ref.calls == 6
    with pytest.raises(RuntimeError):
        _fit(cfg, tmp_path / "b", Counter(), Crash(at=3))
    _, state = _final_state(tmp_path / "b")
    assert state["step"] == 2 and "callback.counter" in state["parts"]
    counter = Counter()
    run_config(into(cfg, tmp_path / "b"), resume=True, callbacks=[counter], quiet=True, progress=False)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    # the checkpoint at step 2 holds the 2 steps counted so far; the resumed run counts the 4 after it
    assert state["parts"]["callback.counter"]["calls"] == 2
    assert counter.calls == ref.calls
    _, state = _final_state(tmp_path / "b")
    assert state["parts"]["callback.counter"]["calls"] == 6


def test_resume_refuses_changes_that_make_another_run(tmp_path, tiny_config):
    _fit(tiny_config(steps=2), tmp_path / "b")
    with pytest.raises(GankitError, match="cannot change"):
        resume(tmp_path / "b", quiet=True, lr=1e-3)
    with pytest.raises(GankitError, match="not found"):
        resume(tmp_path / "missing", quiet=True)


def test_disk_full_mid_run_keeps_every_checkpoint_intact_and_resumes_exactly(tmp_path, tiny_config, monkeypatch):
    import errno

    from gankit.engine import checkpoint as ck

    cfg = tiny_config(steps=6, **{"log.checkpoint_every": 1, "log.keep_checkpoints": 10})
    _fit(cfg, tmp_path / "a")
    real, calls = ck._write_synced, []

    def fills_up(path, data):  # the disk fills while the 4th checkpoint is being written
        calls.append(path)
        if len(calls) >= 3 * 3 + 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(ck, "_write_synced", fills_up)
    with pytest.raises(GankitError, match="disk full"):
        _fit(cfg, tmp_path / "b")
    monkeypatch.undo()
    names = [p.name for p in list_checkpoints(tmp_path / "b")]
    assert names == ["step-00000001", "step-00000002", "step-00000003"]
    for p in list_checkpoints(tmp_path / "b"):
        ck.verify_checkpoint(p)
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == names  # no partial folder
    resume(tmp_path / "b", quiet=True)  # space freed: the same run continues from step 3
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_second_ctrl_c_stops_at_once_and_writes_no_half_step_checkpoint(tmp_path, tiny_config):
    def twice(trainer):  # Ctrl-C pressed twice in the middle of step 4 (after D's update, before G's)
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    trainers = []

    def setup(trainer):
        trainers.append(trainer)
        after_d_step(trainer, twice)

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(steps=6, **{"log.checkpoint_every": 2}), tmp_path, setup=setup)
    [t] = trainers
    assert t.interrupted_mid_step
    assert t.step == 3 and [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002"]


def test_schedulers_are_saved_and_restored(tiny_config):
    # A learning-rate scheduler is state of the task that owns it (tests/engine/engine_helpers.py's
    # ScheduledGAN, trained by import path), saved and loaded with the task's state_dict.
    def with_scheduler():
        return Trainer(tiny_config(steps=3, **{"task.name": SCHEDULED_GAN}))

    t = with_scheduler().fit()
    state = t.state_dict()
    assert "sched_g" in state["parts"]["task"]
    opt_g = t.task.optimizers["G"]
    assert t.task.sched_g.last_epoch == 3 and opt_g.param_groups[0]["lr"] == pytest.approx(t.config.optim.lr_g / 8)
    fresh = with_scheduler()
    fresh.load_state_dict(state)
    assert fresh.task.sched_g.last_epoch == 3
    assert fresh.task.optimizers["G"].param_groups[0]["lr"] == opt_g.param_groups[0]["lr"]
    assert fresh.task.sched_g.get_last_lr() == t.task.sched_g.get_last_lr()


def test_a_task_with_a_scheduler_resumes_exactly(tmp_path, tiny_config):
    cfg = tiny_config(steps=6, **{"task.name": SCHEDULED_GAN, "log.checkpoint_every": 2})
    ref = Record()
    a = _fit(cfg, tmp_path / "a", ref)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(cfg, tmp_path / "b", Crash(at=3))  # dies after the step-2 checkpoint
    _, state = _final_state(tmp_path / "b")
    assert state["step"] == 2 and state["parts"]["task"]["sched_g"]["last_epoch"] == 2
    run, rec = _resume(tmp_path / "b")
    assert sorted(rec.rows) == [3, 4, 5, 6]
    _losses_equal(ref.rows, rec.rows, range(3, 7))
    b = run.trainer
    assert b.task.sched_g.last_epoch == a.task.sched_g.last_epoch == 6
    assert b.task.optimizers["G"].param_groups[0]["lr"] == a.task.optimizers["G"].param_groups[0]["lr"]
    _assert_same_run(tmp_path / "a", tmp_path / "b")
