"""evaluate(): input kinds, shared features, the reference cache, options and errors."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.errors import ConfigError, GankitError
from gankit.metrics import classify, evaluate, get_extractor, parse_metrics, reference_features
from gankit.metrics import reference as refmod
from gankit.metrics.extractors.digits import DigitExtractor, classifier_info
from gankit.metrics.fid import fid_from_features

OPTS = dict(kid_subsets=5, kid_subset_size=100)


class Tiny(nn.Module):
    """A user-supplied extractor: fixed random projection of the pixels (features only)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(28 * 28, 16)
        torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, x):
        return self.proj(x.flatten(1))


@pytest.fixture()
def sets():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 28, 28, generator=g) * 2 - 1
    fake = (torch.rand(250, 1, 28, 28, generator=g) * 1.6 - 0.8)
    return fake, real


def test_all_metrics_with_a_user_module(sets, tmp_path):
    fake, real = sets
    r = evaluate(fake, real, "fid,kid,prdc", Tiny(), cache_dir=tmp_path, **OPTS)
    assert list(r) == ["fid", "kid", "kid_std", "precision", "recall", "density", "coverage"]
    assert all(np.isfinite(v) for v in r.values()) and r["fid"] > 0


def test_fid_equals_fid_of_quantized_features(sets, tmp_path):
    """Float samples are rounded to uint8 first; the number is FID of the extractor's features."""
    fake, real = sets
    net = Tiny()
    ex = get_extractor(net)
    q = lambda x: x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)  # noqa: E731
    expected = fid_from_features(ex.extract(q(fake)).features, ex.extract(q(real)).features)
    assert evaluate(fake, real, "fid", net, cache=False)["fid"] == pytest.approx(expected, rel=1e-10)


def test_input_kinds_agree(sets, tmp_path):
    fake, real = sets
    net = Tiny()
    u8 = fake.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    nhwc = u8.permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "fake.npz", images=nhwc)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(len(nhwc)):
        Image.fromarray(nhwc[i, ..., 0]).save(folder / f"{i:04d}.png")
    kw = dict(metrics="fid,kid", extractor=net, cache_dir=tmp_path / "c", **OPTS)
    base = evaluate(fake, real, **kw)
    for src in (u8, nhwc, tmp_path / "fake.npz", str(folder)):
        assert evaluate(src, real, **kw) == pytest.approx(base, rel=1e-12), type(src)


def test_reference_cache_is_written_once_and_reused(sets, tmp_path, monkeypatch):
    fake, real = sets
    net = Tiny()
    first = evaluate(fake, real, "fid,pr", net, cache_dir=tmp_path, **OPTS)
    files = list((tmp_path / "refstats").glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert z["mu"].dtype == np.float64 and z["sigma"].shape == (16, 16) and "radii_3" in z.files

    calls = []
    real_build = refmod.build_feature_set
    monkeypatch.setattr(refmod, "build_feature_set", lambda *a, **k: calls.append(1) or real_build(*a, **k))
    assert evaluate(fake, real, "fid,pr", net, cache_dir=tmp_path, **OPTS) == first
    assert not calls  # the reference came from the cache
    evaluate(fake, real[:299], "fid", net, cache_dir=tmp_path, **OPTS)  # other data: another key
    assert len(calls) == 1 and len(list((tmp_path / "refstats").glob("*.npz"))) == 2
    net.proj.bias.data += 1  # other weights: another key
    evaluate(fake, real, "fid", net, cache_dir=tmp_path, **OPTS)
    assert len(list((tmp_path / "refstats").glob("*.npz"))) == 3


def test_saved_reference_file_and_extractor_mismatch(sets, tmp_path):
    fake, real = sets
    net = Tiny()
    ref = reference_features(real, net, cache=False)
    ref.save(tmp_path / "ref.npz")
    a = evaluate(fake, ref, "fid", net)
    b = evaluate(fake, str(tmp_path / "ref.npz"), "fid", net)
    assert a == b
    other = Tiny()
    other.proj.bias.data += 1
    with pytest.raises(GankitError, match="computed with extractor"):
        evaluate(fake, tmp_path / "ref.npz", "fid", other)


def test_metric_names_and_errors(sets):
    assert parse_metrics("fid, pr,dc") == ["fid", "precision", "recall", "density", "coverage"]
    with pytest.raises(ConfigError, match="did you mean 'fid'"):
        parse_metrics("fdi")
    fake, real = sets
    with pytest.raises(ConfigError, match="give a reference"):
        evaluate(fake, None, "fid", Tiny())
    with pytest.raises(GankitError, match="need class logits"):
        evaluate(fake, real, "is", Tiny())
    with pytest.raises(ConfigError, match="unknown evaluation option"):
        evaluate(fake, real, "fid", Tiny(), kid_subset=3)


def test_builtin_classifier_is_small_and_documented():
    from gankit.metrics.extractors.digits import WEIGHTS

    assert WEIGHTS.stat().st_size < 2_000_000
    info = classifier_info()
    assert info["test_accuracy"] > 0.98 and "never test" in info["trained_on"]
    assert get_extractor("auto", image_shape=(1, 28, 28)).name == "mnist"
    assert get_extractor("auto", image_shape=(1, 32, 32)).name == "mnist"


def test_classify_and_class_metrics(mnist_root):
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    test = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="test", download=False)).subset(1000)
    pred = classify(test.images)
    assert pred.dtype == torch.int64 and (pred == test.labels).float().mean() > 0.97
    rgb = test.images.expand(-1, 3, -1, -1)
    big = torch.nn.functional.interpolate(test.images.float(), size=56, mode="bilinear").round().to(torch.uint8)
    assert (classify(rgb) == pred).float().mean() > 0.99  # RGB -> gray is exact for gray RGB
    assert (classify(big) == test.labels).float().mean() > 0.95  # resized back to 28
    r = evaluate(test.images, None, "class_acc,class_hist,mnist_score", "mnist", fake_labels=test.labels)
    assert r["class_acc"] > 0.97 and sum(r[f"class_hist_{i}"] for i in range(10)) == pytest.approx(1.0)


def test_non_digit_images_warn():
    white = torch.full((50, 1, 28, 28), 250, dtype=torch.uint8)
    with pytest.warns(UserWarning, match="do not look like MNIST"):
        DigitExtractor().extract(white)


@pytest.mark.parametrize("damage", ["truncated", "empty", "flipped byte", "text"])
def test_damaged_cache_file_is_recomputed(sets, tmp_path, damage):
    fake, real = sets
    net = Tiny()
    first = evaluate(fake, real, "fid,pr", net, cache_dir=tmp_path, **OPTS)
    path = next((tmp_path / "refstats").glob("*.npz"))
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"not a cache",
                      "flipped byte": data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]}[damage])
    assert evaluate(fake, real, "fid,pr", net, cache_dir=tmp_path, **OPTS) == first
    assert refmod.FeatureSet.load(path).count == len(real)  # and the cache file was replaced


def test_damaged_statistics_file_as_reference_is_one_clear_error(sets, tmp_path):
    fake, real = sets
    net = Tiny()
    ref = reference_features(real, net, cache=False)
    ref.save(tmp_path / "ref.npz")
    with np.load(tmp_path / "ref.npz") as z:
        arrays = dict(z)
    np.savez(tmp_path / "bad.npz", **{**arrays, "sigma": arrays["sigma"][:5]})
    with pytest.raises(GankitError, match="damaged"):
        evaluate(fake, str(tmp_path / "bad.npz"), "fid", net)


def test_unwritable_cache_only_warns(sets, tmp_path):
    fake, real = sets
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="not cached"):
        r = evaluate(fake, real, "fid", Tiny(), cache_dir=blocker)
    assert r["fid"] > 0


def test_reference_of_another_size_is_brought_to_the_samples_size(sets, tmp_path):
    fake, real = sets
    big = torch.nn.functional.interpolate(fake, size=32, mode="bilinear", align_corners=False)
    net = nn.Sequential(nn.AdaptiveAvgPool2d(8), nn.Flatten())  # takes any size
    with pytest.warns(UserWarning, match="converting it to the samples' 32x32"):
        r = evaluate(big, real, "fid", net, cache=False)
    real32 = torch.nn.functional.interpolate(real, size=32, mode="bilinear", align_corners=False)
    assert r["fid"] == pytest.approx(evaluate(big, real32, "fid", net, cache=False)["fid"], rel=0.05)
    ref = reference_features(real, net, cache=False)  # saved statistics cannot be converted: refused
    with pytest.raises(GankitError, match="same size"):
        evaluate(big, ref, "fid", net)


def test_too_few_images_and_a_failing_user_module_are_clear_errors(sets):
    fake, real = sets
    with pytest.raises(GankitError, match=r"precision: .*k=3.*3 samples"):
        evaluate(fake[:3], real, "pr", Tiny(), cache=False)
    with pytest.raises(GankitError, match="is: .*splits"):
        evaluate(fake[:8], None, "is", "mnist")
    rgb = fake.expand(-1, 3, -1, -1)
    with pytest.raises(GankitError, match=r"failed on images of shape \(250, 3, 28, 28\)"):
        evaluate(rgb, rgb, "fid", Tiny(), cache=False)


def test_float_tensors_in_0_1_read_as_numpy_arrays_do(sets):
    fake, _ = sets
    unit = fake.clamp(-1, 1).add(1).div(2)  # [0, 1]
    from gankit.metrics.evaluate import load_images

    a, _, _ = load_images(unit)
    b, _, _ = load_images(unit.numpy())
    assert torch.equal(a, b)


PLUGIN = '''
import pathlib
import torch
from gankit.metrics.extractors import feature_extractor

class Pool(torch.nn.Sequential):
    def __init__(self):
        super().__init__(torch.nn.AvgPool2d(4), torch.nn.Flatten())

net = Pool()

@feature_extractor
def marked(device):
    return Pool()

def unmarked():
    pathlib.Path("called").touch()
    return Pool()
'''


def test_an_import_path_names_an_extractor_and_nothing_else_is_called(tmp_path, monkeypatch):
    """--extractor module:attr takes a module, its class or a @feature_extractor factory; any other callable
    (os:system, an unmarked function, a class that is no module) is refused before it is called."""
    (tmp_path / "gankit_test_plugin.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "gankit_test_plugin", raising=False)  # undone after the test
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    for spec in ("gankit_test_plugin:net", "gankit_test_plugin:Pool", "gankit_test_plugin:marked"):
        assert get_extractor(spec).extract(images).features.shape == (3, 49), spec
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    for spec, what in [("gankit_test_plugin:unmarked", "a function"), ("os:system", "a function"),
                       ("subprocess:Popen", "a class Popen"), ("builtins:print", "a builtin_function_or_method")]:
        with pytest.raises(ConfigError, match=f"extractor '{spec}' is {what}, not a torch module"):
            get_extractor(spec)
    assert calls == [] and not (tmp_path / "called").exists()


def test_evaluation_options_must_be_positive(sets):
    fake, real = sets
    for option, value in [("batch_size", 0), ("batch_size", -3), ("kid_subsets", 0), ("pr_k", 1.5)]:
        with pytest.raises(ConfigError, match=f"evaluation option {option} must be a positive integer, got {value}"):
            evaluate(fake, real, "fid", Tiny(), cache=False, **{option: value})


def test_an_unknown_or_absent_device_is_one_line(sets):
    fake, real = sets
    with pytest.raises(GankitError, match=r"unknown device 'foo' \(--device\); choose from auto, cpu, cuda"):
        evaluate(fake, real, "fid", Tiny(), cache=False, device="foo")
    if not torch.cuda.is_available():
        with pytest.raises(GankitError, match="'cuda' requested but CUDA is not available"):
            evaluate(fake, real, "fid", "mnist", cache=False, device="cuda")
