"""gankit's metrics agree with torch-fidelity, pytorch-fid, torchmetrics and prdc on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.metrics.fid import feature_stats, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, mmd2_unbiased
from gankit.metrics.knn import knn_radii, manifold_metrics

RTOL = 1e-6


def _features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    mix = np.random.default_rng(123).normal(size=(d, d)) / np.sqrt(d)  # correlated features, like a network's
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) @ mix * scale + shift).astype(np.float64)


@pytest.fixture(scope="module")
def sets() -> tuple[np.ndarray, np.ndarray]:
    real = _features(1500, 64, 0)
    fake = _features(1200, 64, 1, shift=0.15, scale=1.2)
    return fake, real


def test_feature_stats_match_numpy_and_torch_fidelity(sets, refpkgs):
    fake, _ = sets
    mu, sigma = feature_stats(fake)
    np.testing.assert_allclose(mu, fake.mean(0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sigma, np.cov(fake, rowvar=False), rtol=1e-10, atol=1e-13)
    ref = refpkgs.fid_features_to_statistics(torch.from_numpy(fake))
    np.testing.assert_allclose(sigma, ref["sigma"], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n_fake, n_real, d", [(1200, 1500, 64), (90, 80, 100)])  # full rank and singular
def test_fid_matches_references(refpkgs, n_fake, n_real, d):
    fake = _features(n_fake, d, 2, shift=0.1, scale=0.9)
    real = _features(n_real, d, 3)
    (mu1, s1), (mu2, s2) = feature_stats(fake), feature_stats(real)
    ours = frechet_distance(mu1, s1, mu2, s2)
    tf = refpkgs.fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False)
    ptf = refpkgs.calculate_frechet_distance(mu1, s1, mu2, s2)
    tm = refpkgs._compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))).item()
    assert ours > 1.0
    assert ours == pytest.approx(tf["frechet_inception_distance"], rel=RTOL)
    assert ours == pytest.approx(ptf, rel=RTOL)
    assert ours == pytest.approx(tm, rel=RTOL)


def test_fid_of_identical_statistics_is_zero(sets):
    mu, sigma = feature_stats(sets[1])
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_kid_matches_torch_fidelity(sets, refpkgs):
    fake, real = sets
    ours = kid(fake, real, subsets=20, subset_size=500, seed=2020)
    ref = refpkgs.kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=20,
                                         kid_subset_size=500, rng_seed=2020, verbose=False)
    assert ours[0] > 0
    assert ours[0] == pytest.approx(ref["kernel_inception_distance_mean"], rel=RTOL)
    assert ours[1] == pytest.approx(ref["kernel_inception_distance_std"], rel=RTOL)


def test_mmd_matches_torchmetrics(sets, refpkgs):
    fake, real = (torch.from_numpy(a[:400]) for a in sets)
    assert mmd2_unbiased(fake, real) == pytest.approx(refpkgs.poly_mmd(real, fake).item(), rel=RTOL)


def test_inception_score_matches_torch_fidelity_and_torchmetrics(refpkgs):
    logits = torch.from_numpy(np.random.default_rng(4).normal(scale=3.0, size=(2000, 10)))
    mean, std = inception_score(logits, splits=10, shuffle=True, seed=2020)
    ref = refpkgs.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    assert mean == pytest.approx(ref["inception_score_mean"], rel=RTOL)
    assert std == pytest.approx(ref["inception_score_std"], rel=RTOL)
    # torchmetrics shuffles with torch.randperm: replay its permutation, then compare unshuffled.
    metric = refpkgs.InceptionScore(feature=torch.nn.Identity(), splits=10)
    metric.update(logits)
    torch.manual_seed(7)
    tm_mean, tm_std = metric.compute()
    torch.manual_seed(7)
    perm = torch.randperm(len(logits))
    mean2, std2 = inception_score(logits[perm], splits=10, shuffle=False)
    assert mean2 == pytest.approx(tm_mean.item(), rel=RTOL)
    assert std2 * np.sqrt(10 / 9) == pytest.approx(tm_std.item(), rel=RTOL)  # torchmetrics: unbiased std


def test_precision_recall_match_torch_fidelity_and_prdc(sets, refpkgs):
    fake, real = sets
    ours = manifold_metrics(fake, real, pr_k=3, dc_k=5)
    tf = refpkgs.prc_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), prc_neighborhood=3,
                                        prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    pr = refpkgs.prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=3)
    dc = refpkgs.prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    assert 0.05 < ours["precision"] < 0.99 and 0.05 < ours["recall"] < 0.99  # a non-trivial case
    for key, ref in [("precision", tf["precision"]), ("recall", tf["recall"]), ("precision", pr["precision"]),
                     ("recall", pr["recall"]), ("density", dc["density"]), ("coverage", dc["coverage"])]:
        assert ours[key] == pytest.approx(float(ref), rel=RTOL), key


def test_cached_real_radii_and_small_chunks_give_the_same_answer(sets):
    fake, real = sets
    full = manifold_metrics(fake, real)
    radii = knn_radii(real, (3, 5))
    chunked = manifold_metrics(fake, real, real_radii=radii, chunk=100)
    assert chunked == pytest.approx(full, rel=1e-12)


@pytest.fixture(scope="module")
def digit_features(mnist_root) -> tuple[np.ndarray, np.ndarray]:
    """The built-in classifier's features of real MNIST digits: many dead ReLU units, so (nearly)
    singular covariances, and a small FID, where rounding in the matrix square root shows most."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics import get_extractor

    ex = get_extractor("mnist")
    train = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="train", download=False))
    test = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="test", download=False))
    return ex.extract(train.images[:5000]).features, ex.extract(test.images[:5000]).features


def test_fid_on_real_digit_features_matches_references(digit_features, refpkgs):
    (mu1, s1), (mu2, s2) = (feature_stats(f) for f in digit_features)
    assert np.linalg.eigvalsh(s1)[0] < 1e-10 * np.linalg.eigvalsh(s1)[-1]  # the hard case: near-singular
    ours = frechet_distance(mu1, s1, mu2, s2)
    tf = refpkgs.fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False)
    ptf = refpkgs.calculate_frechet_distance(mu1, s1, mu2, s2)
    tm = refpkgs._compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))).item()
    assert 0.1 < ours < 10
    for ref in (tf["frechet_inception_distance"], ptf, tm):
        assert ours == pytest.approx(ref, rel=RTOL)
