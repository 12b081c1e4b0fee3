"""Classifier-based scores: class accuracy of conditional samples, predicted-class histogram, its KL
to the data's, and the MNIST score (TF-GAN's ``classifier_score``: the Inception Score of one split
computed with the digit classifier, between 1 and the number of classes).
"""

from __future__ import annotations

import numpy as np

from gankit.metrics.inception_score import inception_score

EPS = 1e-6  # floor on data-class frequencies, so a class absent from the data gives a large but finite KL


def class_histogram(predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Fraction of samples predicted as each class, (num_classes,) float64 summing to 1."""
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=num_classes)[:num_classes]
    return counts / max(int(counts.sum()), 1)


def class_kl(fake_hist: np.ndarray, data_hist: np.ndarray) -> float:
    """KL(fake || data) of predicted-class histograms, in nats (0 when the class mix matches).

    The direction follows the mode-collapse literature (Metz et al. 2017): classes the generator never
    draws add nothing directly, but their mass moves to other classes, which raises the divergence.
    """
    p = np.asarray(fake_hist, np.float64)
    q = np.maximum(np.asarray(data_hist, np.float64), EPS)
    q = q / q.sum()
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(q[mask]))))


def class_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"{len(predicted)} predictions for {len(labels)} labels")
    return float((predicted == labels).mean())


def mnist_score(logits: np.ndarray) -> float:
    return inception_score(logits, splits=1, shuffle=False)[0]
