import pytest
import torch

from gankit.config import ModelConfig
from gankit.errors import ConfigError
from gankit.models import build_discriminator, build_generator


def test_mlp_matches_the_classic_tutorial_sizes():
    cfg = ModelConfig(generator="mlp", discriminator="mlp")
    G, D = build_generator(cfg, (1, 28, 28)), build_discriminator(cfg, (1, 28, 28))
    g_linear = [tuple(m.weight.shape) for m in G.modules() if isinstance(m, torch.nn.Linear)]
    d_linear = [tuple(m.weight.shape) for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert g_linear == [(256, 100), (512, 256), (1024, 512), (784, 1024)]
    assert d_linear == [(1024, 784), (512, 1024), (256, 512), (1, 256)]
    assert isinstance(list(G.modules())[-1], torch.nn.Tanh)
    x = G(torch.randn(5, 100))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (5,)


@pytest.mark.parametrize("res", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(res, channels):
    cfg = ModelConfig(width=8, z_dim=16)
    G, D = build_generator(cfg, (channels, res, res)), build_discriminator(cfg, (channels, res, res))
    x = G(torch.randn(3, 16))
    assert x.shape == (3, channels, res, res)
    assert D(x).shape == (3,)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in D.modules())


def test_dcgan_init_is_normal_0_02():
    G = build_generator(ModelConfig(width=64), (1, 64, 64))
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002


def test_dcgan_rejects_unsupported_resolution():
    with pytest.raises(ConfigError, match="resolutions"):
        build_generator(ModelConfig(), (1, 48, 48))


def test_unknown_architecture_lists_choices():
    with pytest.raises(ConfigError, match="choose from"):
        build_generator(ModelConfig(generator="stylegan9"), (1, 28, 28))
