"""The FID InceptionV3 module, with random weights (the real ones are not available offline here):
shapes, weight loading (.pth and .safetensors), the layout and outputs of torch-fidelity's port,
and the one-line errors when weights are missing."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.extractors.inception import ENV, FIDInceptionV3, InceptionExtractor, find_weights, resize_tf1


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[dict[str, torch.Tensor], object]:
    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    for m in net.modules():  # non-trivial BN statistics, so a mis-wired layer changes the output
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = net.state_dict()
    d = tmp_path_factory.mktemp("inception")
    torch.save(state, d / "w.pth")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(d / "w.safetensors"))
    return state, d


@pytest.fixture(scope="module")
def extractor(weights) -> InceptionExtractor:
    return InceptionExtractor(weights=weights[1] / "w.pth")


@pytest.mark.slow
def test_shapes_and_safetensors_equal_pth(weights, extractor, monkeypatch):
    images = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    a = extractor.extract(images)
    monkeypatch.setenv(ENV, str(weights[1] / "w.safetensors"))
    b = InceptionExtractor().extract(images)
    assert a.features.shape == (1, 2048) and a.logits.shape == (1, 1008)
    assert (a.features >= 0).all()  # pool3 averages ReLU outputs
    assert torch.equal(torch.from_numpy(a.features), torch.from_numpy(b.features))
    gray = extractor.extract(images[:, :1])  # grayscale is repeated to RGB
    assert gray.features.shape == (1, 2048)


@pytest.mark.slow
def test_matches_torch_fidelity_port(weights, extractor, refpkgs):
    """torch-fidelity loads our state dict strictly (same layout) and gives the same pool3 and logits."""
    theirs = refpkgs.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                 feature_extractor_weights_path=str(weights[1] / "w.pth"))
    images = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    ref_pool, ref_logits = theirs(images)
    ours = extractor.extract(images)
    torch.testing.assert_close(torch.from_numpy(ours.features), ref_pool, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(ours.logits), ref_logits, rtol=1e-4, atol=1e-4)


def test_resize_matches_tensorflow1_formula():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = resize_tf1(x, 8)
    # TF1: source = i * in/out with no half-pixel offset, so even output pixels copy input pixels
    assert torch.equal(y[0, 0, ::2, ::2], x[0, 0])
    assert y[0, 0, 0, 1].item() == pytest.approx(0.5)
    assert y[0, 0, 0, 7].item() == pytest.approx(3.0)  # clamped at the edge


def test_missing_weights_explain_themselves(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(GankitError, match=f"set {ENV}=.*--download"):
        find_weights()
    monkeypatch.setenv(ENV, str(tmp_path / "nope.pth"))
    with pytest.raises(GankitError, match="not found at"):
        InceptionExtractor()
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3)}, bad)
    with pytest.raises(GankitError, match="not the FID InceptionV3"):
        InceptionExtractor(weights=bad)


def test_download_checks_the_checksum_and_is_atomic(tmp_path, monkeypatch):
    import hashlib

    from gankit.metrics.extractors import inception

    src = tmp_path / "remote.pth"
    src.write_bytes(b"not really weights")
    url = src.as_uri()  # file:// stands in for the release URL (this machine is offline)
    dest = tmp_path / "cache" / inception.FILENAME
    with pytest.raises(GankitError, match="expected 6726825d"):
        inception.download_weights(dest, url=url)
    assert not dest.exists() and not list(dest.parent.glob("*.tmp"))  # nothing half-written is left
    monkeypatch.setattr(inception, "SHA256_PREFIX", hashlib.sha256(src.read_bytes()).hexdigest()[:8])
    assert inception.download_weights(dest, url=url) == dest and dest.read_bytes() == src.read_bytes()
    with pytest.raises(GankitError, match="cannot download"):
        inception.download_weights(tmp_path / "other.pth", url=(tmp_path / "missing.pth").as_uri())
