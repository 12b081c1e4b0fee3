"""The original GAN objective (Goodfellow et al. 2014) on logits.

D maximises log D(x) + log(1 - D(G(z))), i.e. minimises softplus(-l_real) + softplus(l_fake).
G either minimises log(1 - D(G(z))) = -softplus(l_fake) (minimax, saturates early in training) or
the non-saturating -log D(G(z)) = softplus(-l_fake) that the paper recommends in practice.
With smoothed or flipped targets t, D's terms are the binary cross-entropies BCE(l, t).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.config import LossConfig
from gankit.losses import LOSSES, GANLoss


class BCELoss(GANLoss):
    uses_targets = True

    def __init__(self, g_form: str = "non-saturating"):
        self.g_form = g_form

    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.real_target == 1.0 and self.flip_prob == 0.0:
            return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        t_real, t_fake = self.targets(real_logits, fake_logits)
        return (F.binary_cross_entropy_with_logits(real_logits, t_real)
                + F.binary_cross_entropy_with_logits(fake_logits, t_fake))

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.g_form == "minimax":
            return -F.softplus(fake_logits).mean()
        return F.softplus(-fake_logits).mean()


@LOSSES.register("bce")
def bce(cfg: LossConfig) -> GANLoss:
    """Binary cross-entropy on logits; non-saturating or minimax generator (Goodfellow et al. 2014)."""
    return BCELoss(cfg.g_form)
