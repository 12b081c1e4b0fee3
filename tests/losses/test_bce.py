import torch
import torch.nn.functional as F

from gankit.config import LossConfig
from gankit.losses import build_loss

REAL = torch.tensor([2.0, -1.0, 0.5, 3.0])
FAKE = torch.tensor([-2.0, 0.3, 1.5, -0.7])


def test_discriminator_term_is_binary_cross_entropy():
    loss = build_loss(LossConfig(name="bce"))
    expected = F.binary_cross_entropy(torch.sigmoid(REAL), torch.ones(4)) + \
        F.binary_cross_entropy(torch.sigmoid(FAKE), torch.zeros(4))
    torch.testing.assert_close(loss.d_terms(REAL, FAKE), expected)


def test_non_saturating_generator_is_minus_log_d():
    loss = build_loss(LossConfig(name="bce", g_form="non-saturating"))
    torch.testing.assert_close(loss.g_term(FAKE), -torch.log(torch.sigmoid(FAKE)).mean())


def test_minimax_generator_is_log_one_minus_d():
    loss = build_loss(LossConfig(name="bce", g_form="minimax"))
    torch.testing.assert_close(loss.g_term(FAKE), torch.log(1 - torch.sigmoid(FAKE)).mean())


def test_minimax_saturates_where_non_saturating_does_not():
    # When D confidently rejects fakes (very negative logits) the minimax gradient vanishes.
    logits = torch.tensor([-8.0], requires_grad=True)
    for form, small in (("minimax", True), ("non-saturating", False)):
        logits.grad = None
        build_loss(LossConfig(name="bce", g_form=form)).g_term(logits).backward()
        assert (abs(logits.grad.item()) < 1e-3) == small
