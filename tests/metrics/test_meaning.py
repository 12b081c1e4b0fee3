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

OPTS = EvalOptions(kid_subsets=20, kid_subset_size=1000)
N_FAKE = 2000


@pytest.fixture(scope="module")
def halves(mnist_root, tmp_path_factory):
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    test = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="test", download=False))
    perm = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    a, b = perm[:5000], perm[5000:]
    ref = reference_features(test.images[b], "mnist", options=OPTS, cache_dir=tmp_path_factory.mktemp("cache"))
    return test.images[a], test.labels[a], ref


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
def test_disjoint_halves_are_close_and_noise_is_monotone(halves):
    a, _, ref = halves
    clean = _eval(a[:N_FAKE], ref)
    levels = [_eval(_noisy(a[:N_FAKE], s), ref) for s in (0.1, 0.2, 0.4, 0.8)]
    fids = [clean["fid"]] + [r["fid"] for r in levels]
    kids = [clean["kid"]] + [r["kid"] for r in levels]
    assert fids == sorted(fids) and kids == sorted(kids), (fids, kids)
    # "small": the clean halves sit far below even the mildest damage
    assert clean["fid"] < 0.2 * levels[0]["fid"], fids
    assert abs(clean["kid"]) < 0.2 * levels[0]["kid"], kids
    assert clean["precision"] > 0.6 and clean["recall"] > 0.6 and clean["coverage"] > 0.8, clean
    assert 0.7 < clean["density"] < 1.3, clean


@pytest.mark.slow
def test_blur_is_monotone(halves):
    a, _, ref = halves
    results = [_eval(a[:N_FAKE], ref, "fid,kid")] + [_eval(_blurred(a[:N_FAKE], s), ref, "fid,kid")
                                                      for s in (0.5, 1.0, 1.5, 2.0)]
    fids = [r["fid"] for r in results]
    kids = [r["kid"] for r in results]
    assert fids == sorted(fids) and kids == sorted(kids), (fids, kids)
    assert fids[-1] > 5 * fids[0]


def test_dropping_classes_raises_fid_and_lowers_recall_and_coverage(halves):
    a, labels, ref = halves
    full = _eval(a[:N_FAKE], ref)
    keep = a[labels < 5][:N_FAKE]  # the same number of images, half the digits
    dropped = _eval(keep, ref)
    assert dropped["fid"] > 3 * full["fid"] and dropped["kid"] > full["kid"]
    assert dropped["recall"] < full["recall"] - 0.2, (full, dropped)
    assert dropped["coverage"] < full["coverage"] - 0.2, (full, dropped)
    kl_full = evaluate(a[:N_FAKE], ref, "class_kl", "mnist", options=OPTS)["class_kl"]
    kl_dropped = evaluate(keep, ref, "class_kl", "mnist", options=OPTS)["class_kl"]
    assert kl_full < 0.01 and kl_dropped > 0.5  # ln 2 = 0.69 for half the classes, evenly


def test_kid_of_a_set_against_itself_is_near_zero(halves):
    a, _, _ = halves
    r = evaluate(a, a, "kid,fid", "mnist", options=OPTS, cache=False)
    assert abs(r["kid"]) < max(3 * r["kid_std"], 1e-6), r
    assert r["fid"] < 1e-6, r


def test_classifier_reads_real_digits(halves):
    a, labels, _ = halves
    r = evaluate(a, None, "class_acc,mnist_score,is", "mnist", fake_labels=labels, options=OPTS)
    assert r["class_acc"] > 0.98
    assert r["mnist_score"] > 9.0 and r["is"] > 8.5
