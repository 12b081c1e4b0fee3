"""Adversarial losses by name.

The engine never names a loss: the ``gan`` task asks the loss object for the discriminator's and the
generator's terms. Most losses only need the logits, so they override ``d_terms``/``g_term``; losses
with auxiliary heads (ACGAN, InfoGAN) override ``discriminator_loss``/``generator_loss`` and call D
themselves. A loss whose generator term needs real images too (relativistic losses, feature matching)
sets ``sees_real_in_g_step`` and receives the real batch of the step in ``generator_loss``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.config import LossConfig
from gankit.errors import ConfigError
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

    sees_real_in_g_step = False

    def generator_loss(self, D: nn.Module, fake: torch.Tensor, y_fake: torch.Tensor | None,
                       real: torch.Tensor | None = None, y_real: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, Stats]:
        loss = self.g_term(D(fake, y_fake))
        return loss, {"g_loss": loss.detach()}

    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # Label smoothing and flipping (Salimans et al. 2016) change D's targets, so only losses that have
    # targets (bce, lsgan) accept them; ``stabilizers.attach`` sets them from the stabilize section.
    uses_targets = False
    real_target = 1.0  # one-sided smoothing: 1 - s
    flip_prob = 0.0  # chance that a sample's real/fake target is swapped

    def set_targets(self, real_target: float, flip_prob: float) -> None:
        self.real_target, self.flip_prob = real_target, flip_prob

    def targets(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample D targets (real, fake): 1-s and 0, with a fraction flip_prob of each swapped."""
        t_real = torch.full_like(real_logits, self.real_target)
        t_fake = torch.zeros_like(fake_logits)
        if self.flip_prob > 0:
            t_real = torch.where(torch.rand_like(t_real) < self.flip_prob, torch.zeros_like(t_real), t_real)
            t_fake = torch.where(torch.rand_like(t_fake) < self.flip_prob, torch.full_like(t_fake, self.real_target),
                                 t_fake)
        return t_real, t_fake

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


# A plugin (``--set loss.name=mypkg.losses:my_loss``) is a function or a GANLoss subclass called with the loss config.
LOSSES: Registry[Callable[[LossConfig], GANLoss]] = Registry("loss", plugins=True, kind_of=GANLoss)


def build_loss(cfg: LossConfig) -> GANLoss:
    loss = LOSSES.get(cfg.name)(cfg)
    if not isinstance(loss, GANLoss):
        raise ConfigError(f"loss {cfg.name!r} built a {type(loss).__name__}, not a gankit.losses.GANLoss")
    return loss


from gankit.losses import aux, bce, hinge, lsgan, relativistic, wgan  # noqa: E402,F401  (register the built-in losses)
