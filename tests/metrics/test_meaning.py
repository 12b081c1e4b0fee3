"""The metrics mean what they should on real MNIST test digits with the built-in extractor:
halves of the same data are close, damage (noise, blur, dropped classes) raises FID/KID and lowers
recall/coverage monotonically, and a set compared with itself scores KID ~ 0."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.metrics import EvalOptions, evaluate, reference_features

OPTS = EvalOptions(kid_subsets=10, kid_subset_size=500)  # fewer, smaller KID subsets: fast, still decisive
N_FAKE = 2000


@pytest.fixture(scope="module")
def halves(mnist_root, tmp_path_factory):
    test = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="test", download=False))
    perm = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    a, b = perm[:5000], perm[5000:]
    ref = reference_features(test.images[b], "mnist", options=OPTS, cache_dir=tmp_path_factory.mktemp("cache"))
    return test.images[a], test.labels[a], ref, test.images[b]


def _eval(images: torch.Tensor, ref, metrics="fid,kid,pr,dc") -> dict[str, float]:
    return evaluate(images, ref, metrics, "mnist", options=OPTS)


def _noisy(images: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = images.float() / 127.5 - 1
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def _blurred(images: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = (k / k.sum())
    x = images.float() / 127.5 - 1
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return x


@pytest.mark.slow
def test_disjoint_halves_are_close(halves):
    a, _, ref, _ = halves
    r = _eval(a, ref)  # 5,000 vs the other 5,000
    noisy = _eval(_noisy(a[:N_FAKE], 0.1), ref, "fid")
    total_variance = float(ref.stats()[1].trace())
    assert r["fid"] < 0.01 * total_variance and r["fid"] < 0.25 * noisy["fid"], (r, noisy, total_variance)
    assert abs(r["kid"]) < 3 * r["kid_std"], r  # consistent with 0
    assert r["precision"] > 0.8 and r["recall"] > 0.8 and r["coverage"] > 0.8, r
    assert 0.8 < r["density"] < 1.2, r


@pytest.mark.slow
def test_noise_is_monotone(halves):
    a, _, ref, _ = halves
    clean = _eval(a[:N_FAKE], ref)
    levels = [clean] + [_eval(_noisy(a[:N_FAKE], s), ref) for s in (0.1, 0.2, 0.4, 0.8)]
    for key, direction in [("fid", 1), ("kid", 1), ("precision", -1), ("recall", -1), ("coverage", -1)]:
        values = [direction * r[key] for r in levels]
        assert values == sorted(values), (key, [r[key] for r in levels])
    assert abs(clean["kid"]) < 3 * clean["kid_std"], clean


@pytest.mark.slow
def test_blur_is_monotone(halves):
    a, _, ref, _ = halves
    results = [_eval(a[:N_FAKE], ref, "fid,kid")] + [_eval(_blurred(a[:N_FAKE], s), ref, "fid,kid")
                                                      for s in (0.5, 1.0, 1.5, 2.0)]
    fids = [r["fid"] for r in results]
    kids = [r["kid"] for r in results]
    assert fids == sorted(fids) and kids == sorted(kids), (fids, kids)
    assert fids[-1] > 5 * fids[0]


def test_dropping_classes_raises_fid_and_lowers_recall_and_coverage(halves):
    a, labels, ref, _ = halves
    full = _eval(a[:N_FAKE], ref)
    keep = a[labels < 5][:N_FAKE]  # the same number of images, half the digits
    dropped = _eval(keep, ref)
    assert dropped["fid"] > 3 * full["fid"] and dropped["kid"] > full["kid"] + 3 * full["kid_std"], (full, dropped)
    assert dropped["recall"] < 0.7 * full["recall"], (full, dropped)
    assert dropped["coverage"] < 0.7 * full["coverage"], (full, dropped)
    kl_full = evaluate(a[:N_FAKE], ref, "class_kl", "mnist", options=OPTS)["class_kl"]
    kl_dropped = evaluate(keep, ref, "class_kl", "mnist", options=OPTS)["class_kl"]
    assert kl_full < 0.01 and kl_dropped > 0.5  # ln 2 = 0.69 for half the classes, evenly


def test_kid_of_a_set_against_itself_is_near_zero(halves):
    _, _, ref, b = halves
    r = evaluate(b, ref, "kid,fid", "mnist", options=OPTS)  # the very images behind the reference
    assert abs(r["kid"]) < max(3 * r["kid_std"], 1e-6), r
    assert r["fid"] < 1e-6, r


def test_classifier_reads_real_digits(halves):
    a, labels, _, _ = halves
    r = evaluate(a, None, "class_acc,mnist_score,is", "mnist", fake_labels=labels, options=OPTS)
    assert r["class_acc"] > 0.98
    assert r["mnist_score"] > 9.0 and r["is"] > 8.5
