"""Gradient penalties against values worked out by hand on functions with known gradients."""

import torch
from torch import nn

from gankit.losses.penalties import gradient_penalty, r1_penalty


class Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so the GP is (||w|| - 1)^2 exactly."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return (x.flatten(1) * self.w).sum(1)


class Quadratic(nn.Module):
    """D(x) = a/2 ||x||^2: its gradient is a x, so R1 = a^2 E||x||^2."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x, y=None):
        return 0.5 * self.a * x.flatten(1).pow(2).sum(1)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0, 0.0, 0.0])  # ||w|| = 5
    D = Linear(w)
    real, fake = torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2)
    gp = gradient_penalty(D, real, fake)
    torch.testing.assert_close(gp, torch.tensor(16.0))  # (5 - 1)^2
    gp.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    torch.testing.assert_close(D.w.grad, 2 * 4 * w / 5)


def test_gradient_penalty_samples_between_real_and_fake():
    # D(x) = a/2 ||x||^2 has gradient a x_hat; with real = 1, fake = 0 and 4 pixels, x_hat = eps * 1,
    # so the gradient norm is a * eps * sqrt(4) = 2 eps for a = 1.
    D = Quadratic(1.0)
    real, fake = torch.ones(4096, 1, 2, 2), torch.zeros(4096, 1, 2, 2)
    torch.manual_seed(0)
    gp = gradient_penalty(D, real, fake).item()
    # E[(2 eps - 1)^2] for eps ~ U(0, 1) is 1/3
    assert abs(gp - 1 / 3) < 0.02, gp


def test_r1_of_a_quadratic_discriminator():
    D = Quadratic(0.5)
    x = torch.randn(16, 1, 3, 3)
    r1 = r1_penalty(D, x)
    expected = (0.5**2) * x.flatten(1).pow(2).sum(1).mean()
    torch.testing.assert_close(r1, expected)
    r1.backward()  # d/da a^2 E||x||^2 = 2 a E||x||^2
    torch.testing.assert_close(D.a.grad, 2 * 0.5 * x.flatten(1).pow(2).sum(1).mean())
