"""Stabilizers a task composes into its phases; each is off by default and they combine freely.

  reg.gp_weight          WGAN-GP gradient penalty              D-loss term    (Gulrajani et al. 2017)
  reg.r1_gamma           R1 penalty on reals, lazy every k     D-loss term    (Mescheder et al. 2018)
  reg.weight_clip        clamp D's weights to [-c, c]          after D steps  (Arjovsky et al. 2017)
  augment.policy         DiffAugment on every D input          D inputs       (Zhao et al. 2020)
  augment.instance_noise Gaussian noise on D inputs -> 0       D inputs       (Sonderby et al. 2017)
  stabilize.label_*      one-sided smoothing, label flips      loss targets   (Salimans et al. 2016)
  stabilize.grad_clip_*  clip gradient norms before a step     optimizer pre-step hooks
  stabilize.feature_matching  G matches D's mean real features  G loss         (Salimans et al. 2016)
  stabilize.historical_averaging  w ||theta - mean theta||^2   D and G loss   (Salimans et al. 2016)
  model.minibatch_std    the batch's feature spread as a D feature  D layer    (Karras et al. 2018)
The EMA of G (``ema.*``) is the engine's (``gankit.engine.ema``): any task's networks can have one.
TTUR (Heusel et al. 2017) needs no code: it is ``optim.lr_g`` != ``optim.lr_d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.losses.penalties import gradient_penalty, r1_penalty

# ---------------------------------------------------------------------------------------------
# regularizers: (D, real, fake, y_real, y_fake, step) -> extra D loss, or None on steps it skips


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


class HistoricalAverage:
    """w * ||theta - theta_bar||^2 with theta_bar the mean of the network's parameters after every step so far
    (Salimans et al. 2016, section 3.3). ``update`` runs after each optimizer step; the average is resume state."""

    def __init__(self, net: nn.Module, weight: float):
        self.params = [p for p in net.parameters() if p.requires_grad]
        self.weight, self.count = weight, 0
        self.average = [p.detach().clone() for p in self.params]

    def penalty(self) -> torch.Tensor:
        return self.weight * sum((p - a).pow(2).sum() for p, a in zip(self.params, self.average))

    @torch.no_grad()
    def update(self) -> None:  # running mean: a += (theta - a) / t
        self.count += 1
        for p, a in zip(self.params, self.average):
            a.add_(p.detach() - a, alpha=1.0 / self.count)

    def state_dict(self) -> dict:
        return {"count": self.count, "average": [a.clone() for a in self.average]}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        for a, saved in zip(self.average, state["average"]):
            a.copy_(saved)


# ---------------------------------------------------------------------------------------------
# hooks


class WeightClip:
    def __init__(self, net: nn.Module, c: float):
        self.net, self.c = net, c

    @torch.no_grad()
    def __call__(self) -> None:
        for p in self.net.parameters():
            p.clamp_(-self.c, self.c)


class GradClip:
    """Optimizer pre-step hook: clip the network's total gradient norm."""

    def __init__(self, net: nn.Module, max_norm: float):
        self.params = [p for p in net.parameters() if p.requires_grad]
        self.max_norm = max_norm

    def __call__(self, optimizer, args, kwargs) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, self.max_norm)


# ---------------------------------------------------------------------------------------------
# augmentation of everything D sees (real and fake, in both the D and the G step)


class Augment:
    def __init__(self, policy: str, noise_std: float):
        self.ops = [op for op in policy.split(",") if op]
        self.noise_std = noise_std

    def __call__(self, x: torch.Tensor, progress: float) -> torch.Tensor:
        x = diff_augment(x, self.ops)
        if self.noise_std:
            std = self.noise_std * (1.0 - progress)  # annealed linearly to 0 over the run
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
