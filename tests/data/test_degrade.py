"""The degradations of the image-to-image tasks: exact where they are arithmetic, reproducible where random."""

import numpy as np
import pytest
import torch

from gankit.data.degrade import center_mask, colorize, degrade, denoise, hole_masks, parse_holes, superres
from gankit.errors import ConfigError, DataError


def _images(n=6, c=1, size=28, seed=0):
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_superres_is_the_rounded_mean_of_each_block():
    x = _images()
    low = superres(x, 4)
    want = np.rint(x.numpy().astype(np.float64).reshape(6, 1, 7, 4, 7, 4).mean(axis=(3, 5)))
    assert low.dtype == torch.uint8 and low.shape == (6, 1, 7, 7)
    np.testing.assert_array_equal(low.numpy(), want.astype(np.uint8))
    assert superres(x, 2).shape == (6, 1, 14, 14)


def test_a_scale_that_does_not_divide_the_size_is_refused():
    with pytest.raises(ConfigError, match="task.scale=4 does not divide the image size 30x30"):
        superres(_images(size=30), 4)


def test_denoise_adds_gaussian_noise_of_sigma_clipped_and_rounded():
    grey = torch.full((64, 1, 28, 28), 128, dtype=torch.uint8)
    noisy = denoise(grey, 20.0, torch.Generator().manual_seed(1))
    assert noisy.dtype == torch.uint8
    diff = noisy.float() - 128
    assert abs(diff.std().item() - 20.0) < 0.5 and abs(diff.mean().item()) < 0.5
    assert torch.equal(noisy, denoise(grey, 20.0, torch.Generator().manual_seed(1)))  # same seed, same noise
    assert not torch.equal(noisy, denoise(grey, 20.0, torch.Generator().manual_seed(2)))
    black = denoise(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), 50.0, torch.Generator().manual_seed(0))
    assert black.min() == 0 and (black == 0).float().mean() > 0.4  # clipped, not wrapped around


def test_colorize_input_is_bt601_luma_and_grey_images_are_refused():
    rgb = _images(c=3)
    luma = colorize(rgb)
    r, g, b = rgb.numpy().astype(np.float64).transpose(1, 0, 2, 3)
    want = np.rint(0.299 * r + 0.587 * g + 0.114 * b)
    assert luma.shape == (6, 1, 28, 28)
    assert np.abs(luma.numpy()[:, 0].astype(int) - want).max() <= 0  # exactly; float32 sums never cross a .5 here
    with pytest.raises(DataError, match="colorization needs RGB images"):
        colorize(_images(c=1))


def test_holes_of_each_kind_and_their_mask():
    gen = torch.Generator().manual_seed(0)
    for kinds in (("box",), ("stroke",), ("center",)):
        masks = hole_masks(32, 28, 28, kinds, gen)
        assert masks.dtype == torch.uint8 and masks.shape == (32, 28, 28)
        assert set(masks.unique().tolist()) <= {0, 1}
        frac = masks.float().mean(dim=(1, 2))
        assert (frac > 0.01).all() and (frac < 0.5).all(), kinds
    center = hole_masks(3, 28, 28, ("center",), gen)
    assert torch.equal(center[0], center_mask(28, 28)) and center_mask(28, 28)[7:21, 7:21].all()
    assert center_mask(28, 28).sum() == 14 * 14
    x = _images(n=32)
    holed, mask = degrade(x, "inpaint", holes=("box", "stroke"), generator=torch.Generator().manual_seed(3))
    assert (holed[mask.unsqueeze(1).bool()] == 0).all()  # missing pixels zeroed
    keep = ~mask.unsqueeze(1).bool()
    assert torch.equal(holed[keep], x[keep])


def test_hole_kinds_are_checked():
    assert parse_holes(" box, center ") == ("box", "center")
    with pytest.raises(ValueError, match="unknown hole kind 'circle'; choose a comma list of box, stroke, center"):
        parse_holes("box,circle")
