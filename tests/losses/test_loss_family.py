"""Each loss against its formula on fixed logits, written out independently of the implementation."""

import pytest
import torch
import torch.nn.functional as F

from gankit.config import LossConfig, ModelConfig
from gankit.errors import ConfigError
from gankit.losses import build_loss
from gankit.models import build_discriminator, build_generator

REAL = torch.tensor([2.0, -1.0, 0.5, 3.0])
FAKE = torch.tensor([-2.0, 0.3, 1.5, -0.7])


def test_wgan_is_the_critic_difference():
    loss = build_loss(LossConfig(name="wgan"))
    # D maximises E[D(x)] - E[D(G(z))]: (2 - 1 + 0.5 + 3)/4 - (-2 + 0.3 + 1.5 - 0.7)/4 = 1.125 + 0.225
    torch.testing.assert_close(loss.d_terms(REAL, FAKE), torch.tensor(-(1.125 + 0.225)))
    torch.testing.assert_close(loss.g_term(FAKE), torch.tensor(0.225))


def test_lsgan_is_half_squared_error_to_0_1_1():
    loss = build_loss(LossConfig(name="lsgan"))
    d = 0.5 * sum((r - 1) ** 2 for r in REAL.tolist()) / 4 + 0.5 * sum(f**2 for f in FAKE.tolist()) / 4
    g = 0.5 * sum((f - 1) ** 2 for f in FAKE.tolist()) / 4
    torch.testing.assert_close(loss.d_terms(REAL, FAKE), torch.tensor(d))
    torch.testing.assert_close(loss.g_term(FAKE), torch.tensor(g))


def test_hinge_counts_only_margin_violations():
    loss = build_loss(LossConfig(name="hinge"))
    # real: max(0, 1 - [2, -1, .5, 3]) = [0, 2, .5, 0]; fake: max(0, 1 + [-2, .3, 1.5, -.7]) = [0, 1.3, 2.5, .3]
    torch.testing.assert_close(loss.d_terms(REAL, FAKE), torch.tensor(2.5 / 4 + 4.1 / 4))
    torch.testing.assert_close(loss.g_term(FAKE), -FAKE.mean())


def test_one_sided_label_smoothing_moves_only_the_real_target():
    loss = build_loss(LossConfig(name="bce"))
    loss.set_targets(0.9, 0.0)
    expected = F.binary_cross_entropy(torch.sigmoid(REAL), torch.full((4,), 0.9)) + \
        F.binary_cross_entropy(torch.sigmoid(FAKE), torch.zeros(4))
    torch.testing.assert_close(loss.d_terms(REAL, FAKE), expected)
    ls = build_loss(LossConfig(name="lsgan"))
    ls.set_targets(0.9, 0.0)
    torch.testing.assert_close(ls.d_terms(REAL, FAKE),
                               0.5 * (REAL - 0.9).pow(2).mean() + 0.5 * FAKE.pow(2).mean())


def test_label_flip_swaps_about_the_requested_fraction():
    loss = build_loss(LossConfig(name="bce"))
    loss.set_targets(1.0, 0.2)
    torch.manual_seed(0)
    t_real, t_fake = loss.targets(torch.zeros(20000), torch.zeros(20000))
    assert set(t_real.unique().tolist()) == {0.0, 1.0} and set(t_fake.unique().tolist()) == {0.0, 1.0}
    assert abs((t_real == 0).float().mean().item() - 0.2) < 0.015
    assert abs((t_fake == 1).float().mean().item() - 0.2) < 0.015


class FixedAuxD(torch.nn.Module):
    """A 'discriminator' returning preset logits and auxiliary outputs, whatever the input."""

    def __init__(self, logits, aux):
        super().__init__()
        self.logits, self.aux_out = logits, aux

    def forward_aux(self, x, y=None):
        return self.logits[: len(x)], self.aux_out[: len(x)]


def test_acgan_adds_class_cross_entropy_on_real_and_fake():
    torch.manual_seed(0)
    aux = torch.randn(4, 3)
    D = FixedAuxD(REAL, aux)
    y_real, y_fake = torch.tensor([0, 2, 1, 1]), torch.tensor([2, 2, 0, 1])
    loss = build_loss(LossConfig(name="acgan", aux_weight=0.5))
    d, stats = loss.discriminator_loss(D, torch.zeros(4, 1), torch.zeros(4, 1), y_real, y_fake)
    bce = F.softplus(-REAL).mean() + F.softplus(REAL).mean()  # D returns REAL logits for both batches
    ce = -(aux.log_softmax(1)[torch.arange(4), y_real]).mean() - (aux.log_softmax(1)[torch.arange(4), y_fake]).mean()
    torch.testing.assert_close(d, bce + 0.5 * ce)
    g, _ = loss.generator_loss(D, torch.zeros(4, 1), y_fake)
    torch.testing.assert_close(g, F.softplus(-REAL).mean() + 0.5 * -(aux.log_softmax(1)[torch.arange(4), y_fake]).mean())
    assert stats["d_class_acc"] == (aux.argmax(1) == y_real).float().mean()


def test_infogan_code_loss_is_cross_entropy_plus_gaussian_term():
    torch.manual_seed(1)
    aux = torch.randn(4, 5)  # 3 categorical logits, 2 continuous means
    codes = torch.cat([F.one_hot(torch.tensor([1, 0, 2, 2]), 3).float(), torch.rand(4, 2) * 2 - 1], 1)
    loss = build_loss(LossConfig(name="infogan", adversarial="hinge", aux_weight=2.0, info_continuous_weight=0.1))
    loss.categories = 3
    ce = -(aux[:, :3].log_softmax(1)[torch.arange(4), torch.tensor([1, 0, 2, 2])]).mean()
    gauss = 0.5 * ((aux[:, 3:] - codes[:, 3:]) ** 2).sum(1).mean()
    g, stats = loss.generator_loss(FixedAuxD(FAKE, aux), torch.zeros(4, 1), codes)
    torch.testing.assert_close(stats["g_info"], ce + 0.1 * gauss)
    torch.testing.assert_close(g, -FAKE.mean() + 2.0 * (ce + 0.1 * gauss))  # hinge G term underneath


def test_aux_losses_refuse_a_discriminator_without_a_head():
    D = build_discriminator(ModelConfig(width=4), (1, 28, 28))
    x = torch.zeros(2, 1, 28, 28)
    with pytest.raises(ConfigError, match="auxiliary head"):
        build_loss(LossConfig(name="acgan")).generator_loss(D, x, torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="plain adversarial"):
        build_loss(LossConfig(name="acgan", adversarial="infogan"))


def test_minimax_and_non_saturating_gradients_have_the_same_sign():
    # Both G objectives push fake logits up; they differ only in how strongly when D rejects fakes.
    G = build_generator(ModelConfig(generator="mlp", g_hidden=[8], z_dim=4), (1, 4, 4))
    assert G(torch.randn(2, 4)).shape == (2, 1, 4, 4)
    for form in ("minimax", "non-saturating"):
        logits = torch.tensor([-1.0, 0.5], requires_grad=True)
        build_loss(LossConfig(name="bce", g_form=form)).g_term(logits).backward()
        assert (logits.grad < 0).all()
