"""One-class MNIST anomaly detection (the protocol of Ruff et al. 2018, Deep SVDD): f-AnoGAN against the
methods a user would pick without a GAN, side by side in one run, and the paper's published rows.

For each normal digit d: train on the d images of MNIST train only; score all 10,000 images of MNIST test
(higher = more anomalous); AUROC of telling the other digits from d. Contenders, all on raw pixels:

  f-AnoGAN      gankit train --recipe dcgan-fast --classes d, then gankit anomaly fit (izi_f encoder)
  IF            scikit-learn IsolationForest(100 trees)
  OC-SVM        scikit-learn OneClassSVM(rbf, nu=0.1, gamma="scale")
  k-NN          mean distance to the 5 nearest training images
  CAE           a small convolutional autoencoder's reconstruction error (same steps as the GAN)

    python -m bench anomaly --data-root ../shared/data --digits 0,1,2 --anomaly-steps 300
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench import common

# Ruff et al. 2018 (ICML), "Deep One-Class Classification", Table 1, MNIST: AUROC (%) per normal digit,
# mean over their 10 seeds (standard deviations omitted here).
PAPER = {
    "OC-SVM/SVDD": [98.6, 99.5, 82.5, 88.1, 94.9, 77.1, 96.5, 93.7, 88.9, 93.1],
    "KDE": [97.1, 98.9, 79.0, 86.2, 87.9, 73.8, 87.6, 91.4, 79.2, 88.2],
    "IF": [98.0, 97.3, 88.6, 89.9, 92.7, 85.5, 95.6, 92.0, 89.9, 93.5],
    "DCAE": [97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3, 86.5, 90.4],
    "AnoGAN": [96.6, 99.2, 85.0, 88.7, 89.4, 88.3, 94.7, 93.5, 84.9, 92.4],
    "Soft-bound Deep SVDD": [97.8, 99.6, 89.5, 90.3, 93.8, 85.8, 98.0, 92.7, 92.9, 94.9],
    "One-class Deep SVDD": [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5],
}
PAPER_CITE = "Ruff et al. 2018, Deep One-Class Classification (ICML), Table 1 (MNIST, mean of 10 seeds)"
MEASURED = ("f-AnoGAN", "IF", "OC-SVM", "k-NN", "CAE")


def run(data_root: str, digits: list[int], steps: int = 300, threads: int = 1, quick: bool = False) -> dict[str, Any]:
    from gankit.app import anomaly
    from gankit.app.cli import main as gankit
    from gankit.metrics.evaluate import load_images

    train_x, train_y, _ = load_images("mnist:train", data_root)
    test_x, test_y, _ = load_images("mnist:test", data_root)
    if quick:
        test_x, test_y = test_x[:1000], test_y[:1000]
    per: dict[str, dict[str, float]] = {m: {} for m in MEASURED}
    seconds: dict[str, float] = {m: 0.0 for m in MEASURED}
    flat_test = test_x.reshape(len(test_x), -1).numpy().astype(np.float32) / 255.0
    with tempfile.TemporaryDirectory(prefix="gankit-anomaly-") as tmp:
        for d in digits:
            normal = train_x[torch.from_numpy(train_y == d)]
            flat = normal.reshape(len(normal), -1).numpy().astype(np.float32) / 255.0
            for name, fn in (("IF", _iforest), ("OC-SVM", _ocsvm), ("k-NN", _knn)):
                t = time.perf_counter()
                per[name][str(d)] = anomaly.auroc(fn(flat, flat_test), test_y, [d])
                seconds[name] += time.perf_counter() - t
            t = time.perf_counter()
            per["CAE"][str(d)] = anomaly.auroc(_cae(normal, test_x, steps, seed=d), test_y, [d])
            seconds["CAE"] += time.perf_counter() - t
            t = time.perf_counter()
            run_dir = Path(tmp) / f"gan-{d}"
            args = ["train", "--recipe", "dcgan-fast", "--data", "mnist", "--data-root", data_root, "--classes", str(d),
                    "--steps", str(steps), "--batch-size", "64", "--out", str(run_dir), "--quiet", "--no-tensorboard",
                    "--no-report", "--set", f"train.threads={threads}"]
            if gankit(args) != 0:
                raise RuntimeError(f"training the GAN of digit {d} failed")
            anomaly.fit(run_dir, steps=steps, quiet=True)
            per["f-AnoGAN"][str(d)] = anomaly.auroc(anomaly.Scorer(run_dir)(test_x), test_y, [d])
            seconds["f-AnoGAN"] += time.perf_counter() - t
            print(f"digit {d}: " + ", ".join(f"{m} {per[m][str(d)]:.3f}" for m in MEASURED), flush=True)
    mean = {m: float(np.mean(list(v.values()))) for m, v in per.items()}
    paper_same = {name: float(np.mean([rows[d] for d in digits])) / 100 for name, rows in PAPER.items()}
    return {"machine": common.machine(), "digits": digits, "steps": steps, "test_images": len(test_x),
            "auroc": per, "mean": mean, "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "paper": PAPER, "paper_mean_same_digits": paper_same, "paper_cite": PAPER_CITE}


# ---------------------------------------------------------------------------------------------
# baselines on pixels in [0, 1]: (train (N, 784), test (M, 784)) -> (M,) scores, higher = more anomalous

def _iforest(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    return -IsolationForest(n_estimators=100, random_state=0).fit(train).score_samples(test)


def _ocsvm(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.svm import OneClassSVM

    return -OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(train).decision_function(test)


def _knn(train: np.ndarray, test: np.ndarray, k: int = 5) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
    return dist.mean(1)


def _cae(train: torch.Tensor, test: torch.Tensor, steps: int, seed: int, batch: int = 64) -> np.ndarray:
    """A convolutional autoencoder 28 -> 7x7x32 -> 28, MSE, Adam 1e-3; score = per-image reconstruction MSE."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(16, 32, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, 32, 7, 7)
        nn.Conv2d(32, 8, 3, 1, 1), nn.LeakyReLU(0.2),  # bottleneck (B, 8, 7, 7): 392 numbers
        nn.ConvTranspose2d(8, 32, 4, 2, 1), nn.LeakyReLU(0.2), nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Tanh())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = train.float().div(127.5).sub(1)
    for _ in range(steps):
        xb = x[torch.randint(0, len(x), (batch,), generator=gen)]
        loss = (net(xb) - xb).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        xt = test.float().div(127.5).sub(1)
        return torch.cat([(net(b) - b).pow(2).flatten(1).mean(1) for b in xt.split(1000)]).numpy()


def markdown(result: dict[str, Any]) -> str:
    digits = result["digits"]
    head = "| method | " + " | ".join(str(d) for d in digits) + " | mean |"
    lines = [head, "|---|" + "---:|" * (len(digits) + 1)]
    best = max(result["mean"].values())
    for m in MEASURED:
        row = result["auroc"][m]
        mean = result["mean"][m]
        shown = f"**{100 * mean:.1f}**" if mean == best else f"{100 * mean:.1f}"
        lines.append(f"| {m} (measured) | " + " | ".join(f"{100 * row[str(d)]:.1f}" for d in digits) + f" | {shown} |")
    for name, rows in result["paper"].items():
        lines.append(f"| {name} (paper) | " + " | ".join(f"{rows[d]:.1f}" for d in digits)
                     + f" | {100 * result['paper_mean_same_digits'][name]:.1f} |")
    return "\n".join(lines)
