"""Gradient penalties on D, added to its loss by regularizers (``gankit.tasks.stabilizers``).

gradient_penalty  E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = e x + (1 - e) G(z), e ~ U(0, 1)
                  (WGAN-GP, Gulrajani et al. 2017; the loss adds lambda times this)
r1_penalty        E[||grad_x D(x)||_2^2] on real x (Mescheder et al. 2018; the loss adds gamma/2 times this)
"""

from __future__ import annotations

import torch
from torch import nn


def _input_grad(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    out = D(x, y)
    # create_graph: the penalty itself is differentiated when D takes its step
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)  # (B, C*H*W)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None = None,
                     target: float = 1.0) -> torch.Tensor:
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    grad = _input_grad(D, x_hat, y)
    norm = (grad.pow(2).sum(1) + 1e-12).sqrt()  # the epsilon keeps the gradient of sqrt finite at 0
    return (norm - target).pow(2).mean()


def r1_penalty(D: nn.Module, real: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    x = real.detach().requires_grad_(True)
    return _input_grad(D, x, y).pow(2).sum(1).mean()
