"""Fréchet distance between two Gaussians fitted to features (FID, Heusel et al. 2017).

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

Everything is float64. The trace of the matrix square root is computed without forming (S1 S2)^(1/2):
S1 S2 is similar to S1^(1/2) S2 S1^(1/2) = M^T M with M = S2^(1/2) S1^(1/2), so tr((S1 S2)^(1/2)) is
the sum of M's singular values (its nuclear norm). Symmetric eigendecompositions and an SVD give real
results by construction and need no eps-offset retry, unlike ``scipy.linalg.sqrtm`` on the
non-symmetric product. Taking singular values of M, rather than square roots of the eigenvalues of
M^T M, matters when a covariance is (nearly) singular, as with dead ReLU features or fewer samples
than dimensions: an eigenvalue that rounding leaves at 1e-15 instead of 0 adds sqrt(1e-15) ~ 3e-8 per
dimension, while a singular value carries only its own rounding error.
"""

from __future__ import annotations

import numpy as np
import torch


def feature_stats(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and unbiased covariance (D, D), both float64 (as ``np.cov``)."""
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    x = x.detach().to("cpu", torch.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need (N >= 2, D) features for a covariance, got shape {tuple(x.shape)}")
    mu = x.mean(0)
    sigma = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
    for chunk in x.split(8192):  # two-pass (centred) covariance, bounded memory
        c = chunk - mu
        sigma.addmm_(c.T, c)
    sigma /= len(x) - 1
    return mu.numpy(), sigma.numpy()


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric PSD S1, S2: the nuclear norm of S2^(1/2) S1^(1/2)."""
    m = _psd_sqrt(np.asarray(sigma2, dtype=np.float64)) @ _psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    return float(np.linalg.svd(m, compute_uv=False).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # FID is a squared distance: a tiny negative value is rounding around an exact 0.
    return max(float(value), 0.0)


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    return frechet_distance(*feature_stats(fake), *feature_stats(real))
