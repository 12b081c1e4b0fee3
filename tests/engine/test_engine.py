import json

import numpy as np
import pytest
import torch

from gankit.app.training import train
from gankit.engine.rundir import load_run
from gankit.engine.trainer import Trainer
from gankit.errors import ConfigError, GankitError


def _weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.task.G.parameters()])


def test_same_seed_same_weights_different_seed_differs(tiny_config):
    a = Trainer(tiny_config(seed=1)).fit()
    b = Trainer(tiny_config(seed=1)).fit()
    c = Trainer(tiny_config(seed=2)).fit()
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(c))


@pytest.mark.parametrize("recipe", ["mlp-gan", "dcgan"])
def test_training_changes_both_networks_and_losses_are_finite(recipe, tiny_config):
    t = Trainer(tiny_config(recipe=recipe, steps=3))
    g0 = _weights(t).clone()
    d0 = torch.cat([p.detach().flatten() for p in t.task.D.parameters()]).clone()
    stats = t.train_step()
    assert all(torch.isfinite(v) for v in stats.values())
    assert not torch.equal(g0, _weights(t))
    assert not torch.equal(d0, torch.cat([p.detach().flatten() for p in t.task.D.parameters()]))


def test_n_critic_consumes_batches(tiny_config):
    t = Trainer(tiny_config(**{"optim.n_critic": 3}))
    t.train_step()
    assert t.sampler.position == 3 * 16 and t.step == 1


def test_run_directory_contents(tmp_path, tiny_config):
    run = train(tiny_config(out=str(tmp_path / "run"), steps=4), quiet=True)
    d = tmp_path / "run"
    for f in ("config.yaml", "run.json", "metrics.jsonl", "loss_curve.png", "summary.json", "samples/final.png",
              "samples/step-00000000.png", "samples/step-00000004.png"):
        assert (d / f).is_file(), f
    rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    ckpts = sorted(p.name for p in (d / "checkpoints").iterdir())
    assert ckpts == ["step-00000002", "step-00000004"]
    assert json.loads((d / "summary.json").read_text())["steps"] == 4
    assert run.sample(3).shape == (3, 1, 28, 28)


def test_loaded_run_samples_match_the_trained_generator(tmp_path, tiny_config):
    run = train(tiny_config(out=str(tmp_path / "r")), quiet=True)
    again = load_run(tmp_path / "r")
    torch.testing.assert_close(run.sample(6, seed=5), again.sample(6, seed=5))
    assert not torch.equal(again.sample(6, seed=5), again.sample(6, seed=6))


def test_time_limit_stops_training(tmp_path, tiny_config):
    cfg = tiny_config(out=str(tmp_path / "r"), steps=None, max_time=1.0)
    run = train(cfg, quiet=True)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert "time limit" in summary["stopped"] and summary["steps"] > 0
    assert 1.0 <= summary["train_seconds"] < 10
    assert run.sample(1).shape[0] == 1


def test_epochs_limit_counts_batches(tiny_config):
    t = Trainer(tiny_config(steps=None, epochs=2))  # 200 images / batch 16 = 12 batches an epoch
    assert t.total_steps == 24


def test_refuses_to_overwrite_a_run(tmp_path, tiny_config):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "something").write_text("x")
    with pytest.raises(GankitError, match="already exists"):
        train(tiny_config(out=str(tmp_path / "r")), quiet=True)


def test_no_stopping_rule_is_an_error(tiny_config):
    cfg = tiny_config()
    cfg.train.steps = None
    with pytest.raises(ConfigError, match="so training can end"):
        Trainer(cfg)
