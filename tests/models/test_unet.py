"""The pix2pix networks: shapes at every size the engine supports, and an untrained U-Net returns its input."""

import pytest
import torch

from gankit.models.unet import PatchDiscriminator, UNet, unet_depth


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two threads on a loaded 2-core machine wait on each other (30x slower here)


@pytest.mark.parametrize(("size", "depth"), [(28, 2), (32, 3), (64, 4), (30, 1), (8, 1), (7, 0)])
def test_the_encoder_halves_while_the_size_stays_even_and_at_least_4(size, depth):
    assert unet_depth(size, size) == depth
    g = UNet(2, 1, 8, size, size, blocks=1)
    y = g(torch.rand(3, 2, size, size) * 2 - 1)
    assert y.shape == (3, 1, size, size) and y.abs().max() <= 1


def test_an_untrained_unet_returns_its_input_and_then_learns():
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    g = UNet(3, 3, 8, 32, 32)
    torch.testing.assert_close(g(x), 0.99 * x)
    grey = UNet(1, 3, 8, 32, 32)(x[:, :1])  # colour from grey: the grey image in every channel
    torch.testing.assert_close(grey, 0.99 * x[:, :1].expand(-1, 3, -1, -1))
    small, g = x[:2, :, :16, :16], UNet(3, 3, 8, 16, 16, blocks=1)
    opt = torch.optim.Adam(g.parameters(), 1e-3)
    target = -small
    before = (g(small) - target).abs().mean().item()
    for _ in range(8):
        loss = (g(small) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before


def test_patch_discriminator_gives_one_logit_per_patch():
    d = PatchDiscriminator(3, 8)
    assert d(torch.zeros(2, 2, 28, 28), torch.zeros(2, 1, 28, 28)).shape == (2, 1, 7, 7)
    assert d(torch.zeros(2, 2, 64, 64), torch.zeros(2, 1, 64, 64)).shape == (2, 1, 16, 16)
