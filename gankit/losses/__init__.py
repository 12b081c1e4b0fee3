"""Adversarial losses by name.

The engine never names a loss: it asks the loss object for the discriminator's and the generator's
terms. Most losses only need the logits, so they override ``d_terms``/``g_term``; losses with
auxiliary heads (ACGAN, InfoGAN) override ``discriminator_loss``/``generator_loss`` and call D themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.config import LossConfig
from gankit.registry import Registry

Stats = dict[str, torch.Tensor]  # detached scalars; read with .item() only when logged


class GANLoss:
    def discriminator_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                           y_real: torch.Tensor | None, y_fake: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        # Separate forwards, as in DCGAN: BatchNorm in D normalises real and fake batches apart.
        real_logits, fake_logits = D(real, y_real), D(fake, y_fake)
        loss = self.d_terms(real_logits, fake_logits)
        return loss, {"d_loss": loss.detach(), "d_real": real_logits.detach().mean(),
                      "d_fake": fake_logits.detach().mean()}

    def generator_loss(self, D: nn.Module, fake: torch.Tensor, y_fake: torch.Tensor | None
                       ) -> tuple[torch.Tensor, Stats]:
        loss = self.g_term(D(fake, y_fake))
        return loss, {"g_loss": loss.detach()}

    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


LOSSES: Registry[Callable[[LossConfig], GANLoss]] = Registry("loss")


def build_loss(cfg: LossConfig) -> GANLoss:
    return LOSSES.get(cfg.name)(cfg)


from gankit.losses import bce  # noqa: E402,F401  (register the built-in losses)
