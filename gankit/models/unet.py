"""Image-to-image networks of pix2pix (Isola et al. 2017): a U-Net generator and a conditional PatchGAN.

U-Net: x (B, Cin, H, W) -> y (B, Cout, H, W) in [-1, 1]. An encoder halves the size while it stays even
and at least 4 px (28 -> 14 -> 7; 32 -> 16 -> 8 -> 4), residual blocks at the bottom, a decoder that
doubles back and concatenates the encoder's features of the same size (the skips carry the detail a
restoration keeps). The output corrects the input in logit space, y = tanh(atanh(0.99 x') + r(x)), with x'
the input's first C channels (a grey input repeated for colour output) and r's last layer zero at the
start: an untrained G returns its input (the bicubic upsampling, the noisy or holed image, the grey
image) and learns what that input lacks instead of first learning the identity. No normalisation layers
(as EDSR): BatchNorm or GroupNorm doubled the CPU time of a step, and without them train and eval mode
are the same network.

PatchGAN: D(x, y) -> (B, 1, H/4, W/4) logits, one per overlapping patch (receptive field 22 px at
28 px input), conditioned on the generator's input x by concatenation; spectral norm on every layer.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def unet_depth(height: int, width: int, max_depth: int = 4) -> int:
    """How many times the encoder halves: while both sides stay even and at least 4 px."""
    depth = 0
    while depth < max_depth and height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 4:
        height, width, depth = height // 2, width // 2, depth + 1
    return depth


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(True), nn.Conv2d(ch, ch, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int, height: int, image_width: int,
                 blocks: int = 2):
        super().__init__()
        depth = unet_depth(height, image_width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True))
        chans = [width * 2 ** min(i, 3) for i in range(depth + 1)]  # e.g. 32 @ 28, 64 @ 14, 128 @ 7
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1), nn.LeakyReLU(0.2, True))
            for i in range(depth))
        self.middle = nn.Sequential(*(ResBlock(chans[-1]) for _ in range(blocks)))
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(chans[i + 1], chans[i], 4, 2, 1), nn.ReLU(True))
            for i in reversed(range(depth)))
        self.merge = nn.ModuleList(  # after concatenating the skip: 2 ch -> ch
            nn.Sequential(nn.Conv2d(2 * chans[i], chans[i], 3, 1, 1), nn.ReLU(True))
            for i in reversed(range(depth)))
        self.out = nn.Conv2d(width, out_channels, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        skips = []
        for down in self.down:
            skips.append(h)
            h = down(h)
        h = self.middle(h)
        for up, merge in zip(self.up, self.merge):
            h = merge(torch.cat([up(h), skips.pop()], 1))
        c = self.out_channels
        base = x[:, :c] if x.shape[1] >= c else x[:, :1].expand(-1, c, -1, -1)  # (B, C, H, W) in [-1, 1]
        return torch.tanh(torch.atanh(0.99 * base) + self.out(h))


class PatchDiscriminator(nn.Module):
    """(x, y) -> patch logits (B, 1, H/4, W/4)."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        sn = spectral_norm
        self.net = nn.Sequential(
            sn(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(2 * width, 4 * width, 3, 1, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(4 * width, 1, 3, 1, 1)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], 1))
