"""Relativistic average GAN loss (Jolicoeur-Martineau 2019, "The relativistic discriminator").

D estimates how much more real a real image is than the average fake, and vice versa; with
C the logits, r = C(x_real) - mean C(x_fake) and f = C(x_fake) - mean C(x_real):
  D minimises softplus(-r) + softplus(f)        (BCE(r, 1) + BCE(f, 0))
  G minimises softplus(-f) + softplus(r)        (the roles swapped)
G's term needs C(x_real), so the loss asks for the step's real batch (``sees_real_in_g_step``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import LossConfig
from gankit.losses import LOSSES, GANLoss, Stats


class RelativisticAverageLoss(GANLoss):
    sees_real_in_g_step = True

    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return (F.softplus(-(real_logits - fake_logits.mean())).mean()
                + F.softplus(fake_logits - real_logits.mean()).mean())

    def generator_loss(self, D: nn.Module, fake: torch.Tensor, y_fake: torch.Tensor | None,
                       real: torch.Tensor | None = None, y_real: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, Stats]:
        if real is None:
            raise ValueError("the relativistic loss needs the real batch in the generator step")
        with torch.no_grad():  # C(x_real) is a constant for G's gradient
            real_logits = D(real, y_real)
        fake_logits = D(fake, y_fake)
        loss = (F.softplus(-(fake_logits - real_logits.mean())).mean()
                + F.softplus(real_logits - fake_logits.mean()).mean())
        return loss, {"g_loss": loss.detach()}


@LOSSES.register("ragan")
def ragan(cfg: LossConfig) -> GANLoss:
    """Relativistic average BCE loss: D compares reals with the average fake (Jolicoeur-Martineau 2019)."""
    return RelativisticAverageLoss()
