"""Degradations computed on the fly: what the image-to-image tasks learn to undo.

Every function takes clean images as uint8 (N, C, H, W) and returns the degraded images as uint8 plus,
for inpainting, the mask (N, H, W) uint8 with 1 = missing pixel. The same functions build the training
inputs of the pix2pix recipes (``gankit.tasks.pix2pix``) and the files of ``gankit degrade``, so a model
is applied to exactly what it was trained on.

  superres  mean over each s x s block, rounded: (N, C, H/s, W/s)
  inpaint   holes (``box``: a rectangle of H/4..H/2 a side; ``stroke``: two thick random strokes;
            ``center``: the centred H/2 x W/2 square), one kind per image drawn from the list;
            missing pixels set to 0
  denoise   x + sigma * N(0, 1) in 0..255 units, rounded and clipped
  colorize  ITU-R BT.601 luma round(0.299 R + 0.587 G + 0.114 B): (N, 1, H, W)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.errors import ConfigError, DataError

DEGRADATIONS = ("superres", "inpaint", "denoise", "colorize")
HOLE_KINDS = ("box", "stroke", "center")
LUMA = (0.299, 0.587, 0.114)


def parse_holes(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in HOLE_KINDS]
    if bad or not kinds:
        what = f"unknown hole kind {bad[0]!r}" if bad else "no hole kind given"
        raise ValueError(f"{what}; choose a comma list of {', '.join(HOLE_KINDS)}")
    return kinds


def check_scale(scale: int, height: int, width: int) -> None:
    if height % scale or width % scale:
        raise ConfigError(f"task.scale={scale} does not divide the image size {height}x{width}; choose a scale "
                          f"that divides it or set data.resolution")


def superres(images: torch.Tensor, scale: int) -> torch.Tensor:
    """(N, C, H, W) uint8 -> (N, C, H/s, W/s) uint8, the mean of each s x s block rounded."""
    check_scale(scale, *images.shape[2:])
    return F.avg_pool2d(images.float(), scale).round_().clamp_(0, 255).to(torch.uint8)


def denoise(images: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=generator).to(images.device)
    return (images.float() + sigma * noise).round_().clamp_(0, 255).to(torch.uint8)


def colorize(images: torch.Tensor) -> torch.Tensor:
    if images.shape[1] != 3:
        raise DataError(f"colorization needs RGB images (3 channels), got {images.shape[1]}")
    w = torch.tensor(LUMA, device=images.device).view(1, 3, 1, 1)
    return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


def hole_masks(n: int, height: int, width: int, kinds: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """(n, H, W) uint8, 1 = missing; each image's hole kind drawn uniformly from ``kinds``."""
    kind = torch.randint(0, len(kinds), (n,), generator=generator)
    ys, xs = torch.arange(height).view(1, -1, 1), torch.arange(width).view(1, 1, -1)
    masks = torch.zeros(n, height, width, dtype=torch.bool)
    # box: sides in [H/4, H/2], anywhere inside the image
    bh = torch.randint(height // 4, height // 2 + 1, (n,), generator=generator).view(-1, 1, 1)
    bw = torch.randint(width // 4, width // 2 + 1, (n,), generator=generator).view(-1, 1, 1)
    top = (torch.rand(n, generator=generator).view(-1, 1, 1) * (height - bh + 1)).long()
    left = (torch.rand(n, generator=generator).view(-1, 1, 1) * (width - bw + 1)).long()
    box = (ys >= top) & (ys < top + bh) & (xs >= left) & (xs < left + bw)
    # stroke: two segments of length H/3..H from a random point, thickness H/14..H/7 (2..4 px at 28)
    s = 2
    p0 = torch.rand(n, s, 2, generator=generator) * torch.tensor([height, width])
    angle = torch.rand(n, s, generator=generator) * 2 * torch.pi
    length = height / 3 + torch.rand(n, s, generator=generator) * (2 * height / 3)
    p1 = p0 + length.unsqueeze(-1) * torch.stack([torch.sin(angle), torch.cos(angle)], -1)
    half = (height / 28) * (1 + torch.rand(n, s, generator=generator))  # half-thickness
    py, px = ys.unsqueeze(1).float() + 0.5, xs.unsqueeze(1).float() + 0.5  # (1, 1, H, 1), (1, 1, 1, W)
    d = p1 - p0  # distance from each pixel centre to each segment
    t = (((py - p0[..., 0, None, None]) * d[..., 0, None, None] + (px - p0[..., 1, None, None]) * d[..., 1, None, None])
         / (d.pow(2).sum(-1)[..., None, None] + 1e-9)).clamp(0, 1)
    dist2 = (py - p0[..., 0, None, None] - t * d[..., 0, None, None]) ** 2 + \
            (px - p0[..., 1, None, None] - t * d[..., 1, None, None]) ** 2
    stroke = (dist2 <= half[..., None, None] ** 2).any(1)
    center = center_mask(height, width).bool().unsqueeze(0)
    for i, name in enumerate(kinds):
        pick = (kind == i).view(-1, 1, 1)
        masks |= pick & {"box": box, "stroke": stroke, "center": center}[name]
    return masks.to(torch.uint8)


def center_mask(height: int, width: int) -> torch.Tensor:
    """(H, W) uint8: the centred H/2 x W/2 square (14 x 14 on 28 px digits)."""
    m = torch.zeros(height, width, dtype=torch.uint8)
    top, left = (height - height // 2) // 2, (width - width // 2) // 2
    m[top: top + height // 2, left: left + width // 2] = 1
    return m


def inpaint(images: torch.Tensor, kinds: tuple[str, ...], generator: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    n, _, h, w = images.shape
    mask = hole_masks(n, h, w, kinds, generator).to(images.device)
    return images * (1 - mask).unsqueeze(1), mask


def degrade(images: torch.Tensor, kind: str, *, scale: int = 4, sigma: float = 50.0,
            holes: tuple[str, ...] = HOLE_KINDS, generator: torch.Generator | None = None
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(degraded uint8, mask uint8 (N, H, W) or None) for clean uint8 (N, C, H, W)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if kind == "superres":
        return superres(images, scale), None
    if kind == "inpaint":
        return inpaint(images, holes, generator)
    if kind == "denoise":
        return denoise(images, sigma, generator), None
    if kind == "colorize":
        return colorize(images), None
    raise ConfigError(f"unknown degradation {kind!r}; choose from {', '.join(DEGRADATIONS)}")
