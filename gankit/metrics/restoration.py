"""Paired quality of restored images against their clean targets: PSNR and SSIM, per image.

Both take uint8 (N, C, H, W) tensors (or anything ``load_images`` reads) and return one value per image,
computed in float64 so they agree with scikit-image's to 1e-6 (tests/metrics/test_restoration.py):

  PSNR = 10 log10(255^2 / MSE)                                        (infinite for identical images)
  SSIM = mean over the valid 7x7 windows and the channels of
         (2 mu_x mu_y + C1)(2 cov_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)),
         C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 255, uniform window, sample (co)variances (x N/(N-1))
         — skimage.metrics.structural_similarity's defaults (Wang et al. 2004 with a uniform window).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.errors import DataError

WINDOW = 7


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape:
        raise DataError(f"restored images {tuple(a.shape)} and targets {tuple(b.shape)} differ in shape")
    return a.double(), b.double()


def psnr(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) PSNR in dB of uint8 images."""
    a, b = _pair(restored, target)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0**2 / mse)


def ssim(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) SSIM of uint8 images (mean over channels), as skimage's structural_similarity(data_range=255)."""
    a, b = _pair(restored, target)
    if min(a.shape[2:]) < WINDOW:
        raise DataError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got {tuple(a.shape[2:])}")
    n, c = a.shape[:2]
    x, y = a.reshape(n * c, 1, *a.shape[2:]), b.reshape(n * c, 1, *b.shape[2:])
    mean = lambda t: F.avg_pool2d(t, WINDOW, stride=1)  # only windows inside the image, as skimage's crop
    mx, my = mean(x), mean(y)
    k = WINDOW * WINDOW / (WINDOW * WINDOW - 1)  # sample covariance
    vx, vy, cxy = k * (mean(x * x) - mx * mx), k * (mean(y * y) - my * my), k * (mean(x * y) - mx * my)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).view(n, c).mean(1)
