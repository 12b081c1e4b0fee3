"""Salimans et al. 2016's stabilizers any gan recipe can switch on, each against its definition:
feature matching (stabilize.feature_matching), minibatch stddev (model.minibatch_std), historical
averaging (stabilize.historical_averaging)."""

import pytest
import torch

from gankit.app.training import resume, run_config
from gankit.engine.checkpoint import load_checkpoint
from gankit.engine.rundir import latest_checkpoint
from gankit.engine.trainer import Trainer
from gankit.models.layers import minibatch_std
from gankit.tasks.base import StepInfo
from gankit.tasks.stabilizers import HistoricalAverage

TINY = {"data": "digits", "batch_size": 16, "model.width": 8, "model.z_dim": 8, "log.progress": False,
        "log.tensorboard": False, "log.report": False, "log.checkpoint_every": 2, "log.n_samples": 8}


def test_minibatch_std_is_the_mean_feature_spread_over_the_batch():
    feat = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    out = minibatch_std(feat)
    spread = (torch.tensor([0.0, 2.0, 4.0]).var(unbiased=False).sqrt() + 1e-4) / 2  # feature 2 has none (sqrt 1e-8)
    assert out.shape == (3, 1) and torch.allclose(out, spread.expand(3, 1), atol=1e-6)


def test_minibatch_std_is_one_more_d_feature(tiny_config):
    plain = Trainer(tiny_config(**TINY)).task.D
    with_std = Trainer(tiny_config(**TINY, **{"model.minibatch_std": True})).task.D
    assert with_std.head.in_features == plain.head.in_features + 1
    x = torch.randn(4, 1, 28, 28)
    same = x[:1].expand(4, -1, -1, -1)
    with_std.eval()
    # a batch of one image repeated (a collapsed G) has spread 0: D sees it, so its logit differs from a varied batch
    assert not torch.allclose(with_std(same)[0], with_std(torch.cat([x[:1], x[1:]]))[0])


def test_feature_matching_is_the_squared_distance_of_mean_features(tiny_config):
    task = Trainer(tiny_config(**TINY, **{"stabilize.feature_matching": True})).task
    z = torch.randn(16, 8)
    task.sample_latents = lambda n: (z[:n], None)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    loss, _ = task.g_loss((real, None), StepInfo(0, 0, True, 0.0))
    f_real, f_fake = task.D.body(real).mean(0), task.D.body(task.G(z)).mean(0)
    assert torch.allclose(loss, ((f_real - f_fake) ** 2).sum(), rtol=1e-5)


def test_feature_matching_refuses_label_input_discriminators(tiny_config):
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="feature_matching needs a discriminator"):
        Trainer(tiny_config(recipe="cgan", **TINY, **{"stabilize.feature_matching": True}))


def test_historical_average_is_the_mean_of_past_parameters():
    net = torch.nn.Linear(2, 1)
    h = HistoricalAverage(net, weight=0.5)
    seen = []
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            net.weight.fill_(value)
        h.update()
        seen.append(value)
    assert torch.allclose(h.average[0], torch.full((1, 2), sum(seen) / 3))
    with torch.no_grad():
        net.weight.fill_(0.0)
        net.bias.copy_(h.average[1])
    assert torch.allclose(h.penalty(), torch.tensor(0.5 * 2 * 3.0 ** 2))  # w * ||theta - theta_bar||^2


@pytest.mark.slow
def test_historical_averaging_resumes_exactly(tiny_config, tmp_path):
    cfg = lambda steps, out: tiny_config(**TINY, steps=steps, out=str(tmp_path / out),
                                         **{"stabilize.historical_averaging": 0.01})
    run_config(cfg(4, "a"), quiet=True)
    run_config(cfg(2, "b"), quiet=True)
    resume(tmp_path / "b", steps=4, quiet=True)
    a, b = (load_checkpoint(latest_checkpoint(tmp_path / n))[0] for n in "ab")
    for net in ("D", "G"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
