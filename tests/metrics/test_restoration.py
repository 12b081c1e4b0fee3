"""PSNR and SSIM agree with scikit-image's on the same arrays (grey and RGB, digits and noise)."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gankit.errors import DataError
from gankit.metrics.restoration import psnr, ssim


def _pair(c, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 256, (5, c, size, size), generator=g, dtype=torch.uint8)
    b = (a.int() + torch.randint(-60, 60, a.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    return a, b


@pytest.mark.parametrize("c", [1, 3])
def test_psnr_and_ssim_match_scikit_image(c):
    a, b = _pair(c)
    want_p = [peak_signal_noise_ratio(a[i].numpy(), b[i].numpy(), data_range=255) for i in range(5)]
    want_s = [structural_similarity(a[i].numpy(), b[i].numpy(), data_range=255, channel_axis=0) for i in range(5)]
    np.testing.assert_allclose(psnr(b, a).numpy(), want_p, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ssim(b, a).numpy(), want_s, rtol=0, atol=1e-6)


def test_on_real_looking_digits():
    from sklearn.datasets import load_digits

    x = torch.from_numpy((load_digits().images[:8] * 255 / 16).round().astype(np.uint8)).unsqueeze(1)
    x = torch.nn.functional.interpolate(x.float(), size=28, mode="nearest").to(torch.uint8)
    blurred = torch.nn.functional.avg_pool2d(x.float(), 3, 1, 1).round().to(torch.uint8)
    want = [structural_similarity(x[i, 0].numpy(), blurred[i, 0].numpy(), data_range=255) for i in range(8)]
    np.testing.assert_allclose(ssim(blurred, x).numpy(), want, atol=1e-6)
    assert (ssim(x, x) == 1).all() and torch.isinf(psnr(x, x)).all()


def test_bad_shapes_are_refused():
    a, b = _pair(1)
    with pytest.raises(DataError, match="differ in shape"):
        psnr(a, b[:2])
    with pytest.raises(DataError, match="at least 7x7"):
        ssim(a[..., :5, :5], b[..., :5, :5])
