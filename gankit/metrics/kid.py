"""Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 estimate with the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

Subsets are drawn exactly as torch-fidelity draws them (``np.random.RandomState(seed)``, per subset
``choice(n_fake, m, replace=False)`` then ``choice(n_real, m, replace=False)``), so with the same seed
and the same features the two agree to rounding.
"""

from __future__ import annotations

import numpy as np
import torch


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef0: float = 1.0) -> torch.Tensor:
    """(x.y / d + coef0)^degree, with the scale and offset fused into the matrix product."""
    k = torch.addmm(torch.full((1, 1), coef0, dtype=x.dtype), x, y.T, beta=1.0, alpha=1.0 / x.shape[1])
    return k.pow_(degree)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD^2 between two equal-sized samples (m, d): off-diagonal means of Kxx, Kyy minus 2 mean(Kxy)."""
    m = len(x)
    if len(y) != m or m < 2:
        raise ValueError(f"need two equal subsets of at least 2 rows, got {len(x)} and {len(y)}")
    kxx = polynomial_kernel(x, x, degree, coef0)
    sum_xx = kxx.sum() - kxx.diagonal().sum()
    del kxx  # one m x m matrix alive at a time
    kyy = polynomial_kernel(y, y, degree, coef0)
    sum_yy = kyy.sum() - kyy.diagonal().sum()
    del kyy
    sum_xy = polynomial_kernel(x, y, degree, coef0).sum()
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * sum_xy / (m * m))


def kid(fake: np.ndarray, real: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 2020, degree: int = 3, coef0: float = 1.0) -> tuple[float, float]:
    """Mean and (population) standard deviation of MMD^2 over ``subsets`` random subsets.

    The subset size shrinks to the smaller set when a set has fewer than ``subset_size`` rows
    (torch-fidelity refuses instead), so evaluation on a few hundred samples still gives an estimate.
    """
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    if f.ndim != 2 or r.ndim != 2 or f.shape[1] != r.shape[1]:
        raise ValueError(f"KID needs (N, D) features of the same D, got {tuple(f.shape)} and {tuple(r.shape)}")
    m = min(subset_size, len(f), len(r))
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        fi = torch.from_numpy(rng.choice(len(f), m, replace=False))
        ri = torch.from_numpy(rng.choice(len(r), m, replace=False))
        values[i] = mmd2_unbiased(f[fi], r[ri], degree, coef0)
    return float(values.mean()), float(values.std())
