"""Wasserstein GAN (Arjovsky et al. 2017): D is a critic with unbounded scores.

D maximises E[D(x)] - E[D(G(z))], an estimate of the Wasserstein-1 distance when D is 1-Lipschitz;
G minimises -E[D(G(z))]. The Lipschitz constraint is not part of the loss: it comes from weight
clipping (``reg.weight_clip``, the original paper) or the gradient penalty (``reg.gp_weight``,
WGAN-GP, Gulrajani et al. 2017), both in ``gankit.tasks.stabilizers``.
"""

from __future__ import annotations

import torch

from gankit.config import LossConfig
from gankit.losses import LOSSES, GANLoss


class WassersteinLoss(GANLoss):
    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.mean() - real_logits.mean()

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@LOSSES.register("wgan")
def wgan(cfg: LossConfig) -> GANLoss:
    """Wasserstein critic loss (Arjovsky et al. 2017); pair with weight clipping or a gradient penalty."""
    return WassersteinLoss()
