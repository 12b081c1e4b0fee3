"""How close gankit's FID is to the exact value, next to its earlier eigvalsh method and scipy's sqrtm
(what pytorch-fid, torch-fidelity and torchmetrics use), on synthetic and on real digit features.

    .venv/bin/python bench/fid_precision.py --data-root ../shared/data

The exact value is computed with mpmath at 40 digits (eigendecompositions of the symmetric PSD
matrices, as in the closed form), so it takes a few minutes. Writes bench/results/fid_precision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import mpmath as mp
import numpy as np
import scipy.linalg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from gankit.metrics.fid import feature_stats, frechet_distance  # noqa: E402


def exact_fid(mu1, s1, mu2, s2, digits: int = 40) -> float:
    mp.mp.dps = digits

    def psd_sqrt(a: mp.matrix) -> mp.matrix:
        w, q = mp.eigsy(a)
        return q * mp.diag([mp.sqrt(max(x, 0)) for x in w]) * q.T

    r = psd_sqrt(mp.matrix(s1.tolist()))
    m = r * mp.matrix(s2.tolist()) * r
    w, _ = mp.eigsy((m + m.T) / 2)
    d = [mp.mpf(float(a)) - mp.mpf(float(b)) for a, b in zip(mu1, mu2)]
    value = (mp.fsum(x * x for x in d) + mp.fsum(mp.mpf(float(x)) for x in np.diag(s1))
             + mp.fsum(mp.mpf(float(x)) for x in np.diag(s2)) - 2 * mp.fsum(mp.sqrt(max(x, 0)) for x in w))
    return float(value)


def eigvalsh_fid(mu1, s1, mu2, s2) -> float:
    """gankit's first method: square roots of the eigenvalues of S1^1/2 S2 S1^1/2."""
    from gankit.metrics.fid import _psd_sqrt

    r = _psd_sqrt(s1)
    a = r @ s2 @ r
    trace = np.sqrt(np.clip(np.linalg.eigvalsh((a + a.T) / 2), 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace)


def scipy_fid(mu1, s1, mu2, s2) -> float:
    """pytorch-fid's formula: sqrtm of the non-symmetric product, real part of the trace."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def synthetic(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    mix = np.random.default_rng(123).normal(size=(d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).normal(size=(n, d)) @ mix * scale + shift


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=os.environ.get("GANKIT_DATA", str(REPO.parent / "shared" / "data")))
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = p.parse_args()

    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics import get_extractor

    ex = get_extractor("mnist")
    train = load_dataset(DataConfig(name="mnist", root=args.data_root, split="train", download=False))
    test = load_dataset(DataConfig(name="mnist", root=args.data_root, split="test", download=False))
    cases = {
        "synthetic full rank (1200 vs 1500, 64-d)": (synthetic(1200, 64, 2, 0.1, 0.9), synthetic(1500, 64, 3)),
        "synthetic singular (90 vs 80, 100-d)": (synthetic(90, 100, 2, 0.1, 0.9), synthetic(80, 100, 3)),
        "MNIST train 10k vs test 10k, digit features (128-d)": (ex.extract(train.images[:10000]).features,
                                                               ex.extract(test.images).features),
    }
    rows = []
    for name, (a, b) in cases.items():
        stats = (*feature_stats(a), *feature_stats(b))
        t = time.perf_counter()
        exact = exact_fid(*stats)
        ours, old, sp = frechet_distance(*stats), eigvalsh_fid(*stats), scipy_fid(*stats)
        rows.append({"case": name, "exact": exact, "gankit": ours, "eigvalsh": old, "scipy_sqrtm": sp,
                     "gankit_rel_error": abs(ours - exact) / exact, "eigvalsh_rel_error": abs(old - exact) / exact,
                     "scipy_rel_error": abs(sp - exact) / exact, "exact_seconds": round(time.perf_counter() - t, 1)})
        print(f"{name}: exact {exact:.12g}; relative error of gankit (nuclear norm) "
              f"{rows[-1]['gankit_rel_error']:.1e}, eigvalsh (gankit before) {rows[-1]['eigvalsh_rel_error']:.1e}, "
              f"scipy sqrtm {rows[-1]['scipy_rel_error']:.1e}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fid_precision.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
