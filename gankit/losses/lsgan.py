"""Least-squares GAN (Mao et al. 2017), the a-b-c = 0-1-1 coding.

D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]; G minimises 1/2 E[(D(G(z)) - c)^2],
with a = 0 (fake), b = 1 (real), c = 1 (G wants fakes taken for real). Label smoothing moves b.
"""

from __future__ import annotations

import torch

from gankit.config import LossConfig
from gankit.losses import LOSSES, GANLoss


class LeastSquaresLoss(GANLoss):
    uses_targets = True

    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        t_real, t_fake = self.targets(real_logits, fake_logits)  # b = 1 - s, a = 0
        return 0.5 * (real_logits - t_real).pow(2).mean() + 0.5 * (fake_logits - t_fake).pow(2).mean()

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake_logits - 1.0).pow(2).mean()  # c = 1


@LOSSES.register("lsgan")
def lsgan(cfg: LossConfig) -> GANLoss:
    """Least-squares loss with a=0, b=1, c=1 (Mao et al. 2017)."""
    return LeastSquaresLoss()
