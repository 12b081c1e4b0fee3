"""perf section: one G forward per step with reuse_fake, fused optimizers, channels_last, bf16 autocast."""

import pytest
import torch

from gankit.engine import perf
from gankit.engine.trainer import Trainer
from gankit.errors import ConfigError


def _count_forwards(net):
    calls = []
    net.register_forward_hook(lambda *a: calls.append(1))
    return calls


@pytest.mark.parametrize("reuse,n_critic,expected", [(True, 1, 1), (False, 1, 2), (True, 3, 3), (False, 3, 4)])
def test_reuse_fake_saves_the_second_generator_forward(tiny_config, reuse, n_critic, expected):
    t = Trainer(tiny_config(**{"perf.reuse_fake": reuse, "optim.n_critic": n_critic}))
    calls = _count_forwards(t.task.G)
    g0 = [p.detach().clone() for p in t.task.G.parameters()]
    t.train_step()
    assert len(calls) == expected
    assert any(not torch.equal(a, b) for a, b in zip(g0, t.task.G.parameters()))  # G still learns


def test_fused_optimizer_flag_reaches_torch(tiny_config):
    assert Trainer(tiny_config()).task.optimizers["D"].defaults["fused"] is True
    assert not Trainer(tiny_config(**{"perf.fused_optimizer": False})).task.optimizers["D"].defaults["fused"]


def test_channels_last_and_bf16_autocast_train_in_fp32_outside(tiny_config):
    t = Trainer(tiny_config(**{"perf.channels_last": True, "perf.autocast": "bf16"}))
    conv = next(m for m in t.task.D.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    inner = []
    conv.register_forward_hook(lambda m, i, o: inner.append(o.dtype))
    stats = t.train_step()
    assert inner and set(inner) == {torch.bfloat16}  # the convolutions ran in bf16 ...
    assert all(p.dtype == torch.float32 for p in t.task.G.parameters())  # ... the weights stay fp32
    z, _ = t.task.sample_latents(4)
    assert t.task.G(z).dtype == torch.float32 and all(torch.isfinite(v) for v in stats.values())


def test_autocast_where_torch_cannot_is_a_config_error(tiny_config, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no bf16 here")

    monkeypatch.setattr(perf.torch, "autocast", broken)
    with pytest.raises(ConfigError, match="perf.autocast=bf16"):
        Trainer(tiny_config(**{"perf.autocast": "bf16"}))


def test_autocast_auto_follows_the_hardware(tiny_config, monkeypatch):
    for native in (True, False):
        monkeypatch.setattr(perf, "native_bf16", lambda device_type, native=native: native)
        t = Trainer(tiny_config(**{"perf.autocast": "auto"}))
        conv = next(m for m in t.task.D.modules() if isinstance(m, torch.nn.Conv2d))
        seen = []
        conv.register_forward_hook(lambda m, i, o, seen=seen: seen.append(o.dtype))
        t.train_step()
        assert set(seen) == {torch.bfloat16 if native else torch.float32}
