"""Exponential moving averages of a task's networks (``ema.*``), kept by the engine for any task.

The averaged copy is what samples, grids and evaluation use: it draws cleaner images than the raw
generator, whose weights oscillate with the adversarial game (Karras et al. 2018; Yazıcı et al. 2019).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


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

