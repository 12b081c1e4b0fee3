"""Hinge loss (Lim & Ye 2017, Geometric GAN; Miyato et al. 2018, SNGAN).

D minimises E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimises -E[D(G(z))].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.config import LossConfig
from gankit.losses import LOSSES, GANLoss


class HingeLoss(GANLoss):
    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@LOSSES.register("hinge")
def hinge(cfg: LossConfig) -> GANLoss:
    """Hinge loss for D, -D(G(z)) for G (Lim & Ye 2017; Miyato et al. 2018)."""
    return HingeLoss()
