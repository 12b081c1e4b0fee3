"""Inception Score (Salimans et al. 2016) from classifier logits: exp(E_x KL(p(y|x) || p(y))).

Computed per split (default 10) and reported as mean and population std over splits, as the original
code and torch-fidelity do. With the built-in MNIST classifier and one split this is TF-GAN's
"MNIST score" (``classifier_score``), whose maximum is the number of classes (10).
"""

from __future__ import annotations

import numpy as np
import torch


def inception_score(logits: np.ndarray | torch.Tensor, splits: int = 10, shuffle: bool = True,
                    seed: int = 2020) -> tuple[float, float]:
    x = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits)
    x = x.detach().to("cpu", torch.float64)
    n = len(x)
    if x.ndim != 2 or n < splits:
        raise ValueError(f"need (N >= splits={splits}, classes) logits, got shape {tuple(x.shape)}")
    if shuffle:  # the same permutation as torch-fidelity's isc_features_to_metric
        x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    log_p = x.log_softmax(dim=1)  # (N, K)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_q = p[lo:hi].mean(0, keepdim=True).log()  # marginal p(y) of the split, (1, K)
        kl = (p[lo:hi] * (log_p[lo:hi] - log_q)).sum(1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))
