"""Divergence guard: NaN/Inf caught within one step, rollback, lower LR or skip, stop after N, collapse warning."""

import json

import pytest
import torch
from engine_helpers import after_g_step, fit  # tests/engine/engine_helpers.py

from gankit.engine import callbacks as cb
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.engine.trainer import Trainer
from gankit.errors import GankitError, TrainingDiverged


@pytest.fixture(autouse=True)
def _one_thread():
    # The cores are shared: one thread avoids OpenMP oversubscription, which made these tiny runs 10-20x
    # slower under load (tests/conftest.py restores the thread count afterwards).
    torch.set_num_threads(1)


def _events(run_dir, kind):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("event") == kind]


def _poison_d_at(steps, once=True):
    """A hook for after the G step that writes NaN into one weight of D at the end of the given steps (once
    each: the step is redone after the rollback)."""
    steps = set(steps)

    def hook(trainer):
        if trainer.step + 1 in steps:  # trainer.step counts finished steps; this is the step in progress
            if once:
                steps.discard(trainer.step + 1)
            with torch.no_grad():
                next(trainer.task.D.parameters()).view(-1)[0] = float("nan")
    return hook


class Seen(cb.Callback):
    def __init__(self):
        self.steps, self.finite = [], True

    def on_step(self, trainer, stats):
        self.steps.append(trainer.step)
        self.finite &= all(bool(torch.isfinite(v)) for v in stats.values())


def _run(cfg, run_dir, d_hook=None, *callbacks):
    def setup(trainer):
        if d_hook:
            after_g_step(trainer, d_hook)
        trainer.guard.warn = lambda msg: None

    return fit(cfg, run_dir, *callbacks, setup=setup)


def _all_finite(trainer):
    return all(bool(torch.isfinite(p).all()) for net in trainer.networks.values() for p in net.parameters())


def test_nan_weight_is_caught_in_the_same_step_rolled_back_and_lr_lowered(tmp_path, tiny_config):
    seen = Seen()
    cfg = tiny_config(steps=6, lr=2e-4, **{"guard.lr_factor": 0.5, "guard.snapshot_every": 1})
    t = _run(cfg, tmp_path, _poison_d_at({3}), seen)
    [event] = _events(tmp_path, "nonfinite")
    assert event["bad_step"] == 3 and event["rolled_back_to"] == 2 and event["action"] == "lower_lr"
    assert event["what"].startswith("weight D.")
    assert t.step == 6 and seen.steps == [1, 2, 3, 4, 5, 6] and seen.finite and _all_finite(t)
    assert [g["lr"] for opt in t.task.optimizers.values() for g in opt.param_groups] == [1e-4, 1e-4]
    for ckpt in list_checkpoints(tmp_path):
        weights, _ = load_checkpoint(ckpt)
        assert all(bool(torch.isfinite(v).all()) for sd in weights.values() for v in sd.values() if v.is_floating_point())


def test_skip_keeps_the_learning_rate_and_moves_on_to_new_data(tmp_path, tiny_config):
    cfg = tiny_config(steps=4, **{"guard.action": "skip", "guard.snapshot_every": 1})
    t = _run(cfg, tmp_path, _poison_d_at({2}))
    [event] = _events(tmp_path, "nonfinite")
    assert event["action"] == "skip"
    assert [g["lr"] for opt in t.task.optimizers.values() for g in opt.param_groups] == [cfg.optim.lr_g, cfg.optim.lr_d]
    assert t.sampler.position == 5 * cfg.train.batch_size  # 5 batches drawn for 4 good steps


def test_rollback_goes_to_the_last_snapshot(tmp_path, tiny_config):
    cfg = tiny_config(steps=8, **{"guard.snapshot_every": 3})
    seen = Seen()
    t = _run(cfg, tmp_path, _poison_d_at({5}), seen)
    [event] = _events(tmp_path, "nonfinite")
    assert event["bad_step"] == 5 and event["rolled_back_to"] == 3
    assert seen.steps == [1, 2, 3, 4, 4, 5, 6, 7, 8] and t.step == 8 and _all_finite(t)


def test_nan_loss_is_named(tmp_path, tiny_config):
    calls = []

    def setup(trainer):
        trainer.guard.warn = lambda msg: None
        loss = trainer.task.loss
        g_term = loss.g_term

        def poisoned(logits):  # the second generator loss ever computed is +Inf
            calls.append(1)
            return g_term(logits) * (float("inf") if len(calls) == 2 else 1.0)

        loss.g_term = poisoned

    fit(tiny_config(steps=4), tmp_path, setup=setup)
    [event] = _events(tmp_path, "nonfinite")
    assert event["bad_step"] == 2 and "g_loss" in event["what"]


def test_stops_after_n_failures_keeping_the_last_good_checkpoint(tmp_path, tiny_config):
    cfg = tiny_config(steps=20, **{"guard.max_failures": 3, "log.checkpoint_every": 2, "guard.snapshot_every": 1})
    with pytest.raises(TrainingDiverged) as info:
        _run(cfg, tmp_path, _poison_d_at(range(4, 100), once=False))
    msg = str(info.value)
    assert "3 non-finite steps" in msg and "last good checkpoint" in msg and "\n" not in msg
    assert isinstance(info.value, GankitError)  # the CLI prints it as one line and exits 2
    events = _events(tmp_path, "nonfinite")
    assert [e["failures"] for e in events] == [1, 2, 3] and events[-1]["action"] == "stop"
    last = list_checkpoints(tmp_path)[-1]
    assert last.name == "step-00000003"
    weights, _ = load_checkpoint(last)
    assert all(bool(torch.isfinite(v).all()) for sd in weights.values() for v in sd.values() if v.is_floating_point())
    assert json.loads((tmp_path / "summary.json").read_text())["stopped"].startswith("training diverged")


def test_guard_does_not_change_a_healthy_run(tiny_config):
    on = Trainer(tiny_config(steps=4)).fit()
    off = Trainer(tiny_config(steps=4, **{"guard.enabled": False})).fit()
    assert on.guard is not None and off.guard is None
    for a, b in zip(on.task.G.state_dict().values(), off.task.G.state_dict().values()):
        assert torch.equal(a, b)


def test_mode_collapse_is_logged_as_a_warning(tmp_path, tiny_config):
    def collapse(trainer):  # from step 4 on, G ignores z: every sample is the same image
        if trainer.step >= 3:
            with torch.no_grad():
                for p in trainer.task.G.parameters():
                    p.mul_(0.0)

    cfg = tiny_config(steps=6, **{"guard.collapse_every": 1, "guard.collapse_ratio": 0.5})
    warnings = []

    def setup(trainer):
        after_g_step(trainer, collapse)
        trainer.guard.warn = warnings.append

    t = fit(cfg, tmp_path, setup=setup)
    [event] = _events(tmp_path, "mode_collapse_warning")
    assert event["step"] == 4 and event["sample_diversity"] < 0.5 * event["peak_diversity"]
    assert len(warnings) == 1 and "mode collapse" in warnings[0]
    assert t.guard.last_diversity == 0.0 < t.guard.peak_diversity


def test_nan_gradient_is_named(tmp_path, tiny_config):
    fired = []

    def poison_grad(trainer):  # after G's update in step 2: a NaN left in a gradient, weights still finite
        if trainer.step == 1 and not fired:
            fired.append(True)
            next(p for p in trainer.task.G.parameters() if p.grad is not None).grad.view(-1)[0] = float("nan")

    cfg = tiny_config(steps=3, **{"guard.snapshot_every": 1})
    t = _run(cfg, tmp_path, poison_grad)
    [event] = _events(tmp_path, "nonfinite")
    assert event["bad_step"] == 2 and event["what"].startswith("gradient of G.") and _all_finite(t)
