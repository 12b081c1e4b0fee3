"""Spectral norm, conditioning, projection and the SNGAN ResNet."""

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.models import build_discriminator, build_generator
from gankit.models.layers import apply_spectral_norm


def _weight_matrix(m: nn.Module) -> torch.Tensor:
    return m.weight.flatten(1)  # (out, in * kh * kw): the matrix spectral norm divides


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Linear(50, 20))
    with torch.no_grad():
        for m in net:
            m.weight.mul_(7.0)  # far from 1 before normalisation
    before = [torch.linalg.svdvals(_weight_matrix(m))[0].item() for m in net]
    apply_spectral_norm(net)
    net.train()
    for _ in range(30):  # one power iteration per training-mode forward, as during training
        for m in net:
            _ = m.weight
            m(torch.randn(2, 3, 8, 8) if isinstance(m, nn.Conv2d) else torch.randn(2, 50))
    net.eval()
    after = [torch.linalg.svdvals(_weight_matrix(m))[0].item() for m in net]
    assert all(b > 2 for b in before)
    assert all(abs(a - 1) < 0.02 for a in after), after


@pytest.mark.parametrize("arch", ["dcgan", "resnet", "mlp"])
def test_spectral_norm_discriminators_stay_near_one(arch):
    cfg = ModelConfig(generator=arch, discriminator=arch, width=4, z_dim=8, d_hidden=[32], spectral_norm=True,
                      d_norm="none")
    D = build_discriminator(cfg, (1, 28, 28))
    D.train()
    for _ in range(20):
        D(torch.randn(4, 1, 28, 28))
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    sv = [torch.linalg.svdvals(_weight_matrix(m))[0].item() for m in layers]
    assert max(abs(s - 1) for s in sv) < 0.05, sv


@pytest.mark.parametrize("res", [28, 32, 64])
def test_resnet_shapes_and_structure(res):
    cfg = ModelConfig(generator="resnet", discriminator="resnet", width=4, z_dim=16)
    G, D = build_generator(cfg, (3, res, res)), build_discriminator(cfg, (3, res, res))
    x = G(torch.randn(2, 16))
    assert x.shape == (2, 3, res, res) and x.abs().max() <= 1
    assert D(x).shape == (2,)
    assert G.ch == 16 and D.body.out_features == 8  # 4x and 2x width, as the paper's 256 / 128
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


CONDITIONINGS = ["onehot", "embed", "projection", "acgan"]


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
@pytest.mark.parametrize("how", CONDITIONINGS)
def test_conditional_models_use_the_label(arch, how):
    torch.manual_seed(0)
    cfg = ModelConfig(generator=arch, discriminator=arch, width=4, z_dim=8, g_hidden=[16], d_hidden=[16],
                      d_dropout=0.0, conditional=True, conditioning=how)
    G, D = build_generator(cfg, (1, 28, 28), 10).eval(), build_discriminator(cfg, (1, 28, 28), 10).eval()
    z = torch.randn(4, 8)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    # The generator's output depends on the class (all conditionings feed the label to G).
    assert not torch.allclose(G(z, y0), G(z, y1))
    x = G(z, y0)
    logits, aux = D.forward_aux(x, y0)
    assert logits.shape == (4,)
    if how == "acgan":  # the class enters D only through its auxiliary head
        assert aux.shape == (4, 10)
        torch.testing.assert_close(D(x, y0), D(x, y1))
    else:
        assert aux is None
        assert not torch.allclose(D(x, y0), D(x, y1))


def test_projection_adds_the_inner_product_of_embedding_and_features():
    cfg = ModelConfig(width=4, z_dim=8, conditional=True, conditioning="projection", d_norm="none")
    D = build_discriminator(cfg, (1, 28, 28), 10).eval()
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([1, 4, 9])
    h = D.body(x)
    expected = D.head(h).squeeze(1) + (D.project.weight[y] * h).sum(1)  # psi(h) + <embed(y), h>
    torch.testing.assert_close(D(x, y), expected)


def test_infogan_generator_takes_codes_and_draws_them_deterministically_when_absent():
    cfg = ModelConfig(width=4, z_dim=8, info_categories=10, info_continuous=2)
    G, D = build_generator(cfg, (1, 28, 28)).eval(), build_discriminator(cfg, (1, 28, 28))
    z = torch.randn(5, 8)
    codes = G.input.codes_for(z)
    assert codes.shape == (5, 12) and (codes[:, :10].sum(1) == 1).all() and codes[:, 10:].abs().max() <= 1
    torch.testing.assert_close(G(z, None), G(z, codes))
    # deterministic: the codes follow from z alone, whatever torch's global RNG holds, and draw nothing from it
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = G(z)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2)
    torch.testing.assert_close(G(z), first, rtol=0, atol=0)
    assert not torch.equal(G.input.codes_for(torch.randn(5, 8)), codes)  # another z, other codes
    assert D.forward_aux(G(z))[1].shape == (5, 12)


def test_d_norm_choices():
    for norm, kind in (("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)):
        D = build_discriminator(ModelConfig(width=4, d_norm=norm), (1, 28, 28))
        assert any(isinstance(m, kind) for m in D.modules())
    D = build_discriminator(ModelConfig(width=4, d_norm="none"), (1, 28, 28))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in D.modules())
