"""Losses with an auxiliary head on D: ACGAN (Odena et al. 2017) and InfoGAN (Chen et al. 2016).

Both wrap an adversarial loss (``loss.adversarial``: bce by default, any registered loss works) and
call ``D.forward_aux(x, y) -> (logits (B,), aux (B, K))`` once per batch, so the auxiliary head shares
D's body as in the papers.

ACGAN: D minimises adv + w * [CE(aux(x), y) + CE(aux(G(z, y')), y')], G minimises adv_G + w * CE(aux(G(z, y')), y')
       (the paper's L_S and L_C: D maximises L_S + L_C, G maximises L_C - L_S).
InfoGAN: c = [onehot(cat), cont] is fed to G as y; Q = the aux head predicts c from G(z, c).
       L_I = CE(q_cat, cat) + w_cont * 1/2 ||q_cont - cont||^2 (Gaussian with unit variance, up to a constant)
       is minimised by both D's Q head (D step) and G (G step), weighted by w = loss.aux_weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import LossConfig
from gankit.errors import ConfigError
from gankit.losses import LOSSES, GANLoss, Stats


class AuxLoss(GANLoss):
    def __init__(self, base: GANLoss, weight: float):
        self.base, self.weight = base, weight

    @property
    def uses_targets(self) -> bool:  # type: ignore[override]
        return self.base.uses_targets

    def set_targets(self, real_target: float, flip_prob: float) -> None:
        self.base.set_targets(real_target, flip_prob)

    def aux_loss(self, aux: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _forward(self, D: nn.Module, x: torch.Tensor, y: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        logits, aux = D.forward_aux(x, y)
        if aux is None:
            raise ConfigError(f"loss {self.name} needs a discriminator with an auxiliary head: "
                              f"{self.needs}")
        return logits, aux


class ACGANLoss(AuxLoss):
    name = "acgan"
    needs = "set model.conditional=true and model.conditioning=acgan"

    def discriminator_loss(self, D, real, fake, y_real, y_fake) -> tuple[torch.Tensor, Stats]:
        if y_real is None or y_fake is None:
            raise ConfigError(f"loss acgan needs class labels: {self.needs}")
        real_logits, real_aux = self._forward(D, real, None)
        fake_logits, fake_aux = self._forward(D, fake, None)
        adv = self.base.d_terms(real_logits, fake_logits)
        cls = F.cross_entropy(real_aux, y_real) + F.cross_entropy(fake_aux, y_fake)
        loss = adv + self.weight * cls
        acc = (real_aux.argmax(1) == y_real).float().mean()
        return loss, {"d_loss": loss.detach(), "d_adv": adv.detach(), "d_class": cls.detach(),
                      "d_class_acc": acc.detach(), "d_real": real_logits.detach().mean(),
                      "d_fake": fake_logits.detach().mean()}

    def generator_loss(self, D, fake, y_fake, real=None, y_real=None) -> tuple[torch.Tensor, Stats]:
        logits, aux = self._forward(D, fake, None)
        adv = self.base.g_term(logits)
        cls = F.cross_entropy(aux, y_fake)
        loss = adv + self.weight * cls
        return loss, {"g_loss": loss.detach(), "g_adv": adv.detach(), "g_class": cls.detach()}


class InfoGANLoss(AuxLoss):
    name = "infogan"
    needs = "set model.info_categories and/or model.info_continuous"

    def __init__(self, base: GANLoss, weight: float, continuous_weight: float):
        super().__init__(base, weight)
        self.continuous_weight = continuous_weight
        self.categories = 0  # set by stabilizers.attach from the model config

    def aux_loss(self, aux: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        k = self.categories
        loss = aux.new_zeros(())
        if k:
            loss = loss + F.cross_entropy(aux[:, :k], codes[:, :k].argmax(1))
        if codes.shape[1] > k:
            loss = loss + self.continuous_weight * 0.5 * (aux[:, k:] - codes[:, k:]).pow(2).sum(1).mean()
        return loss

    def discriminator_loss(self, D, real, fake, y_real, y_fake) -> tuple[torch.Tensor, Stats]:
        if y_fake is None:
            raise ConfigError(f"loss infogan needs latent codes: {self.needs}")
        real_logits, _ = self._forward(D, real, None)
        fake_logits, fake_aux = self._forward(D, fake, None)
        adv = self.base.d_terms(real_logits, fake_logits)
        info = self.aux_loss(fake_aux, y_fake)  # trains Q (fake is detached in the D step)
        loss = adv + self.weight * info
        return loss, {"d_loss": loss.detach(), "d_adv": adv.detach(), "info_loss": info.detach(),
                      "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}

    def generator_loss(self, D, fake, y_fake, real=None, y_real=None) -> tuple[torch.Tensor, Stats]:
        logits, aux = self._forward(D, fake, None)
        adv = self.base.g_term(logits)
        info = self.aux_loss(aux, y_fake)
        loss = adv + self.weight * info
        return loss, {"g_loss": loss.detach(), "g_adv": adv.detach(), "g_info": info.detach()}


def _base(cfg: LossConfig) -> GANLoss:
    if cfg.adversarial in ("acgan", "infogan"):
        raise ConfigError(f"loss.adversarial must be a plain adversarial loss, not {cfg.adversarial!r}")
    return LOSSES.get(cfg.adversarial)(cfg)


@LOSSES.register("acgan")
def acgan(cfg: LossConfig) -> GANLoss:
    """Adversarial loss plus an auxiliary class-prediction loss on D's class head (Odena et al. 2017)."""
    return ACGANLoss(_base(cfg), cfg.aux_weight)


@LOSSES.register("infogan")
def infogan(cfg: LossConfig) -> GANLoss:
    """Adversarial loss plus a mutual-information bound on latent codes via D's Q head (Chen et al. 2016)."""
    return InfoGANLoss(_base(cfg), cfg.aux_weight, cfg.info_continuous_weight)
