"""Stabilizers, built from the config in one place and hooked into the engine around ``train_step``.

``attach(trainer)`` reads the ``reg``, ``ema``, ``augment`` and ``stabilize`` sections (and the
InfoGAN codes of ``model``) and fills the engine's extension points; each piece is off by default
and they combine freely:

  reg.gp_weight          WGAN-GP gradient penalty              regularizer    (Gulrajani et al. 2017)
  reg.r1_gamma           R1 penalty on reals, lazy every k     regularizer    (Mescheder et al. 2018)
  reg.weight_clip        clamp D's weights to [-c, c]          d_hook         (Arjovsky et al. 2017)
  ema.*                  EMA of G (weights and BN buffers)     g_hook, G_ema  (Karras et al. 2018/2020)
  augment.policy         DiffAugment on every D input          augment        (Zhao et al. 2020)
  augment.instance_noise Gaussian noise on D inputs -> 0       augment        (Sonderby et al. 2017)
  stabilize.label_*      one-sided smoothing, label flips      loss targets   (Salimans et al. 2016)
  stabilize.grad_clip_*  clip gradient norms before a step     optimizer pre-step hooks
TTUR (Heusel et al. 2017) needs no code: it is ``optim.lr_g`` != ``optim.lr_d``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import ConfigError
from gankit.losses.penalties import gradient_penalty, r1_penalty
from gankit.models.layers import code_dim, has_aux_head, sample_codes

if TYPE_CHECKING:
    from gankit.train.engine import Trainer


def attach(trainer: "Trainer") -> None:
    cfg = trainer.config
    check_compatible(trainer)

    if code_dim(cfg.model):  # InfoGAN: the codes travel as G's y
        trainer.code_sampler = lambda n: sample_codes(n, cfg.model, trainer.device)
        trainer.loss.categories = cfg.model.info_categories
        trainer.fixed_y = fixed_codes(len(trainer.fixed_z), cfg.model, cfg.train.seed).to(trainer.device)

    st = cfg.stabilize
    if st.label_smoothing or st.label_flip:
        trainer.loss.set_targets(1.0 - st.label_smoothing, st.label_flip)
    for opt, net, limit in ((trainer.opt_d, trainer.D, st.grad_clip_d), (trainer.opt_g, trainer.G, st.grad_clip_g)):
        if limit:
            opt.register_step_pre_hook(GradClip(net, limit))

    reg = cfg.reg
    if reg.gp_weight:
        trainer.regularizers.append(GradientPenalty(reg.gp_weight))
    if reg.r1_gamma:
        trainer.regularizers.append(R1Penalty(reg.r1_gamma, reg.r1_every))
    if reg.weight_clip:
        trainer.d_hooks.append(WeightClip(reg.weight_clip))

    if cfg.ema.enabled:
        ema = EMA(trainer.G, cfg.ema.half_life, cfg.ema.decay, cfg.train.batch_size, cfg.ema.start,
                  cfg.ema.rampup)
        trainer.G_ema = ema.module
        trainer.g_hooks.append(ema.hook)

    aug = cfg.augment
    if aug.policy or aug.instance_noise:
        trainer.augment = Augment(aug.policy, aug.instance_noise, trainer)


def check_compatible(trainer: "Trainer") -> None:
    """Refuse combinations that would train something other than what the config says."""
    cfg, m = trainer.config, trainer.config.model
    if m.conditional and not trainer.dataset.num_classes:
        raise ConfigError(f"model.conditional needs class labels, but dataset {trainer.dataset.name!r} has none")
    loss = cfg.loss.name
    acgan_d = m.conditional and m.conditioning == "acgan"
    if (loss == "acgan") != acgan_d:
        raise ConfigError("ACGAN needs loss.name=acgan together with model.conditional=true and "
                          "model.conditioning=acgan (one was set without the other)")
    if (loss == "infogan") != bool(code_dim(m)):
        raise ConfigError("InfoGAN needs loss.name=infogan together with model.info_categories and/or "
                          "model.info_continuous > 0 (one was set without the other)")
    if loss == "infogan" and m.conditional:
        raise ConfigError("InfoGAN codes and class conditioning cannot be combined; set model.conditional=false")
    if loss in ("acgan", "infogan") and not has_aux_head(trainer.D):
        raise ConfigError(f"loss {loss} needs a discriminator with an auxiliary head")
    st = cfg.stabilize
    if (st.label_smoothing or st.label_flip) and not trainer.loss.uses_targets:
        raise ConfigError(f"stabilize.label_smoothing / label_flip need a loss with targets (bce, lsgan), "
                          f"not {cfg.loss.adversarial if loss in ('acgan', 'infogan') else loss}")


def fixed_codes(n: int, model_cfg, seed: int) -> torch.Tensor:
    """Codes for the fixed sample grid: category i % K in column order, continuous codes drawn once."""
    codes = sample_codes(n, model_cfg, "cpu", torch.Generator().manual_seed(seed + 2))
    k = model_cfg.info_categories
    if k:
        codes[:, :k] = F.one_hot(torch.arange(n) % k, k).float()
    return codes


# ---------------------------------------------------------------------------------------------
# regularizers: (D, real, fake, y_real, y_fake, step) -> extra D loss


class GradientPenalty:
    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, D, real, fake, y_real, y_fake, step):  # lambda * E[(||grad D(x_hat)|| - 1)^2]
        return self.weight * gradient_penalty(D, real, fake, y_real)


class R1Penalty:
    def __init__(self, gamma: float, every: int = 1):
        self.gamma, self.every = gamma, every

    def __call__(self, D, real, fake, y_real, y_fake, step):  # gamma/2 * E||grad D(x)||^2, x10 when lazy every 10
        if step % self.every:
            return None
        return 0.5 * self.gamma * self.every * r1_penalty(D, real, y_real)


# ---------------------------------------------------------------------------------------------
# hooks


class WeightClip:
    def __init__(self, c: float):
        self.c = c

    @torch.no_grad()
    def __call__(self, trainer: "Trainer") -> None:
        for p in trainer.D.parameters():
            p.clamp_(-self.c, self.c)


class GradClip:
    """Optimizer pre-step hook: clip the network's total gradient norm."""

    def __init__(self, net: nn.Module, max_norm: float):
        self.params = [p for p in net.parameters() if p.requires_grad]
        self.max_norm = max_norm

    def __call__(self, optimizer, args, kwargs) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, self.max_norm)


class EMA:
    """G_ema <- beta G_ema + (1 - beta) G after each G step, beta = 0.5 ** (batch / half_life_images)
    (StyleGAN2's ema_kimg) or a fixed decay. Float buffers (BatchNorm running statistics) are averaged
    the same way, so the EMA network's normalisation matches its weights; integer buffers are copied.

    ``rampup`` (StyleGAN2-ADA's ema_rampup) caps the half-life at that fraction of the images seen so
    far: without it the average is dominated by the random initial G for the first few half-lives,
    and a short run's EMA generator draws noise long after G itself draws digits.
    """

    def __init__(self, G: nn.Module, half_life: float, decay: float | None, batch_size: int, start: int = 0,
                 rampup: float | None = None):
        self.G = G
        self.module = copy.deepcopy(G).eval().requires_grad_(False)
        self.half_life, self.decay, self.batch_size = half_life, decay, batch_size
        self.start, self.rampup = start, rampup

    def beta(self, step: int) -> float:
        """The decay applied after G step ``step`` (0-based)."""
        if step < self.start:
            return 0.0
        if self.decay is not None:
            return self.decay
        half_life = self.half_life
        if self.rampup is not None:
            half_life = min(half_life, self.rampup * (step + 1) * self.batch_size)
        return 0.5 ** (self.batch_size / half_life)

    @torch.no_grad()
    def update(self, step: int) -> None:
        beta = self.beta(step)
        for p_ema, p in zip(self.module.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(self.module.buffers(), self.G.buffers()):
            if b.is_floating_point():
                b_ema.lerp_(b, 1.0 - beta)
            else:
                b_ema.copy_(b)

    def hook(self, trainer: "Trainer") -> None:
        self.update(trainer.step)


# ---------------------------------------------------------------------------------------------
# augmentation of everything D sees (real and fake, in both the D and the G step)


class Augment:
    def __init__(self, policy: str, noise_std: float, trainer: "Trainer"):
        self.ops = [op for op in policy.split(",") if op]
        self.noise_std = noise_std
        self.trainer = trainer

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = diff_augment(x, self.ops)
        if self.noise_std:
            std = self.noise_std * (1.0 - self.trainer.progress)  # annealed linearly to 0 over the run
            x = x + std * torch.randn_like(x)
        return x


def diff_augment(x: torch.Tensor, ops: list[str]) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): differentiable, per-sample random transforms of (B, C, H, W) in [-1, 1]."""
    for op in ops:
        x = AUGMENTS[op](x)
    return x.contiguous()


def rand_color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness +- 0.5
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation x [0, 2]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast x [0.5, 1.5]


def rand_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels, filling with zeros."""
    b, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy = (torch.arange(h, device=x.device)[None, :, None] + ty).clamp(-1, h)  # -1 and h land in the padding
    gx = (torch.arange(w, device=x.device)[None, None, :] + tx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (B, H+2, W+2, C)
    bi = torch.arange(b, device=x.device)[:, None, None]
    return padded[bi, gy + 1, gx + 1].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio * size at a random centre in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None] - oy + ch // 2
    xs = torch.arange(w, device=x.device)[None, None, :] - ox + cw // 2
    inside = (ys >= 0) & (ys < ch) & (xs >= 0) & (xs < cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}
