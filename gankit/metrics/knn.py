"""k-nearest-neighbour manifold metrics.

Improved precision and recall (Kynkäänniemi et al. 2019, k=3): each set's manifold is the union of
balls around its points with radius = distance to the point's k-th nearest neighbour in the same set.
Precision is the fraction of fake points inside the real manifold, recall the fraction of real points
inside the fake manifold (``<=``, as the paper's code and torch-fidelity).

Density and coverage (Naeem et al. 2020, k=5) use only real balls (``<``, as the authors' ``prdc``):
density = mean over fake points of (number of real balls containing it) / k; coverage = fraction of
real points whose ball contains at least one fake point.

All four come from one chunked pass over the fake-real distance matrix (never held whole in memory),
plus one pass over fake-fake distances for the fake radii; real radii come from the reference cache.
Distances are float64 ``torch.cdist``.
"""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 2048  # rows per distance block: 2048 x 10k float64 = 160 MB at most


def _as64(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    return t.detach().to("cpu", torch.float64).contiguous()


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # The matmul form |a|^2 + |b|^2 - 2ab is what sklearn (prdc) uses too; clamp its rounding at 0.
    return torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist").clamp_min_(0.0)


def knn_radii(x: np.ndarray | torch.Tensor, ks: int | tuple[int, ...], chunk: int = CHUNK) -> dict[int, np.ndarray]:
    """Distance from each row to its k-th nearest other row, for each k (the row itself is the 0-th)."""
    ks = (ks,) if isinstance(ks, int) else tuple(ks)
    x = _as64(x)
    kmax = max(ks)
    if len(x) <= kmax:
        raise ValueError(f"need more than k={kmax} points for k-NN radii, got {len(x)}")
    out = {k: np.empty(len(x)) for k in ks}
    for lo in range(0, len(x), chunk):
        d = _cdist(x[lo : lo + chunk], x)
        nearest = torch.topk(d, kmax + 1, dim=1, largest=False).values  # sorted ascending, self first
        for k in ks:
            out[k][lo : lo + chunk] = nearest[:, k].numpy()
    return out


def manifold_metrics(fake: np.ndarray | torch.Tensor, real: np.ndarray | torch.Tensor, *,
                     pr_k: int | None = 3, dc_k: int | None = 5,
                     real_radii: dict[int, np.ndarray] | None = None,
                     chunk: int = CHUNK) -> dict[str, float]:
    """precision/recall (when ``pr_k``) and density/coverage (when ``dc_k``) of fake vs real features."""
    f, r = _as64(fake), _as64(real)
    if f.ndim != 2 or r.ndim != 2 or f.shape[1] != r.shape[1]:
        raise ValueError(f"need (N, D) features of the same D, got {tuple(f.shape)} and {tuple(r.shape)}")
    need = {k for k in (pr_k, dc_k) if k is not None}
    radii = dict(real_radii or {})
    missing = tuple(k for k in need if k not in radii)
    if missing:
        radii.update(knn_radii(r, missing, chunk))
    out: dict[str, float] = {}
    if pr_k is not None:
        fake_r = torch.from_numpy(knn_radii(f, pr_k, chunk)[pr_k])
        real_pr = torch.from_numpy(np.asarray(radii[pr_k], dtype=np.float64))
        precision_hits = 0
        recalled = torch.zeros(len(r), dtype=torch.bool)
    if dc_k is not None:
        real_dc = torch.from_numpy(np.asarray(radii[dc_k], dtype=np.float64))
        density_sum = 0.0
        nearest_fake = torch.full((len(r),), float("inf"), dtype=torch.float64)
    for lo in range(0, len(f), chunk):
        d = _cdist(f[lo : lo + chunk], r)  # (chunk, n_real)
        if pr_k is not None:
            precision_hits += int((d <= real_pr).any(1).sum())
            recalled |= (d <= fake_r[lo : lo + chunk, None]).any(0)
        if dc_k is not None:
            density_sum += float((d < real_dc).sum())
            nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    if pr_k is not None:
        out["precision"] = precision_hits / len(f)
        out["recall"] = float(recalled.double().mean())
    if dc_k is not None:
        out["density"] = density_sum / (dc_k * len(f))
        out["coverage"] = float((nearest_fake < real_dc).double().mean())
    return out
