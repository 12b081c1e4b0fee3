"""The ``pix2pix`` task (Isola et al. 2017): restore or translate images with a U-Net G and a PatchGAN D.

Each batch of clean images is degraded on the fly (``gankit.data.degrade``: super-resolution, inpainting,
denoising, colorization), so any image source gankit reads is training data. G sees the degradation at
full size, x (B, Cin, H, W), and returns y_hat (B, C, H, W); D judges (x, y) pairs patch by patch:

  D  (fresh clean batch y, degraded to x)   [softplus(-D(x, y)) + softplus(D(x, y_hat))] / 2
  G  (the D phase's x, y and y_hat)         adv_weight * softplus(-D(x, y_hat)) + l1_weight * |y_hat - y|

with softplus(-l) = -log(sigmoid(l)), averaged over patches. ``task.adv_weight=0`` is the L1-only U-Net
(no discriminator at all): the ablation every pix2pix user asks about. For inpainting the mask is an
extra input channel and the known pixels are kept: y_hat = m * G(x) + (1 - m) * x.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from gankit.config import Config
from gankit.data import ImageDataset
from gankit.data.degrade import DEGRADATIONS, check_scale, degrade, parse_holes
from gankit.errors import ConfigError
from gankit.losses import Stats
from gankit.models.unet import PatchDiscriminator, UNet
from gankit.tasks.base import Batch, Phase, StepInfo, Task, build_optimizer

PREVIEW = 12  # examples in the sample grid: 6 rows of 2 (input | output | target) triplets


class Pix2PixSettings(Task.Settings):
    name: str = "pix2pix"
    degradation: Literal["superres", "inpaint", "denoise", "colorize"] = Field(
        "superres", description="what G learns to undo: " + ", ".join(DEGRADATIONS))
    scale: Literal[2, 4] = Field(4, description="superres: the input is the mean of each scale x scale block")
    sigma: float = Field(50.0, gt=0.0, le=255.0, description="denoise: Gaussian noise std in 0..255 units")
    holes: str = Field("box,stroke,center", description="inpaint: hole kinds, one per image (box, stroke, center)")
    l1_weight: float = Field(100.0, ge=0.0, description="weight of |G(x) - y| (pix2pix: lambda = 100)")
    adv_weight: float = Field(1.0, ge=0.0, description="weight of the adversarial term; 0 = L1-only U-Net, no D")
    blocks: int = Field(2, ge=0, le=16, description="residual blocks at the bottom of the U-Net")

    @field_validator("holes")
    @classmethod
    def _holes(cls, value: str) -> str:
        return ",".join(parse_holes(value))


def input_channels(settings: Pix2PixSettings, channels: int) -> int:
    """Channels of G's input x for images of ``channels`` channels."""
    return {"inpaint": channels + 1, "colorize": 1}.get(settings.degradation, channels)


def generator_input(settings: Pix2PixSettings, degraded: torch.Tensor, mask: torch.Tensor | None,
                    size: tuple[int, int]) -> torch.Tensor:
    """The degraded images (B, C', h, w) in [-1, 1] as G's full-size input x (B, Cin, H, W)."""
    kind = settings.degradation
    if kind == "superres":  # bicubic start: G learns what bicubic interpolation misses
        return F.interpolate(degraded, size=size, mode="bicubic", align_corners=False).clamp_(-1, 1)
    if kind == "inpaint":
        m = mask.unsqueeze(1).to(degraded.dtype)  # (B, 1, H, W), 1 = missing
        return torch.cat([degraded * (1 - m), m], 1)
    return degraded


def finish(settings: Pix2PixSettings, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """G's output as the restoration: inpainting keeps the known pixels of x."""
    if settings.degradation == "inpaint":
        m = x[:, -1:]
        return m * out + (1 - m) * x[:, :-1]
    return out


def display_input(settings: Pix2PixSettings, x: torch.Tensor, degraded: torch.Tensor, channels: int) -> torch.Tensor:
    """What a person should see as the input, at full size with the output's channels."""
    kind = settings.degradation
    if kind == "superres":
        shown = F.interpolate(degraded, size=x.shape[2:], mode="nearest")
    elif kind == "inpaint":  # holes in mid grey, visible on black and white alike
        shown = x[:, :-1] * (1 - x[:, -1:])
    else:
        shown = x
    return shown.expand(-1, channels, -1, -1) if shown.shape[1] != channels else shown


class Pix2PixTask(Task):
    Settings = Pix2PixSettings
    ema = ("G",)
    draws_from_latents = False

    def __init__(self, config: Config, dataset: ImageDataset, device: torch.device):
        super().__init__(config, dataset, device)
        s: Pix2PixSettings = self.settings  # type: ignore[assignment]
        check_input(s, self.shape)
        nets = self.build_networks(config, self.shape, 0)
        self.G = nets["G"].to(device)
        self.networks = {"G": self.G}
        o, fused = config.optim, config.perf.fused_optimizer
        self.optimizers = {"G": build_optimizer(self.G.parameters(), o, o.lr_g, fused)}
        self.adversarial = s.adv_weight > 0
        if self.adversarial:
            self.D = nets["D"].to(device)
            self.networks["D"] = self.D
            self.optimizers["D"] = build_optimizer(self.D.parameters(), o, o.lr_d, fused)
            self.phases = [Phase("D", "D", self.d_loss), Phase("G", "G", self.g_loss, new_batch=False)]
        else:
            self.phases = [Phase("G", "G", self.g_loss)]
        # the degradations draw from their own generator, saved in checkpoints, so resume is exact
        self.rng = torch.Generator().manual_seed(config.train.seed + 3)
        self._pair: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # (x, y, y_hat): D -> G phase
        self.preview_x, self.preview_shown, self.preview_y = self._preview_inputs(config.train.seed)

    @classmethod
    def build_networks(cls, config: Config, shape: tuple[int, int, int], num_classes: int) -> dict[str, nn.Module]:
        s: Pix2PixSettings = cls.read_settings(config)  # type: ignore[assignment]
        c, h, w = shape
        cin, width = input_channels(s, c), config.model.width
        nets: dict[str, nn.Module] = {"G": UNet(cin, c, width, h, w, s.blocks)}
        if s.adv_weight > 0:
            nets["D"] = PatchDiscriminator(cin + c, width)
        return nets

    # ------------------------------------------------------------------------------------------
    # degradation of a batch

    def degrade(self, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean y (B, C, H, W) in [-1, 1] -> (G's input x, the degraded images in [-1, 1] as a file holds them)."""
        s: Pix2PixSettings = self.settings  # type: ignore[assignment]
        clean = y.add(1).mul_(127.5).round_().to(torch.uint8)
        low, mask = degrade(clean, s.degradation, scale=s.scale, sigma=s.sigma, holes=parse_holes(s.holes),
                            generator=generator)
        degraded = low.float().div_(127.5).sub_(1)
        return generator_input(s, degraded, mask, tuple(y.shape[2:])), degraded

    def _preview_inputs(self, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = min(PREVIEW, len(self.dataset))
        y = self.dataset.float_images(slice(0, n)).to(self.device)
        x, degraded = self.degrade(y, torch.Generator().manual_seed(seed + 4))
        return x, display_input(self.settings, x, degraded, self.shape[0]), y  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------
    # the phases

    def restore(self, G: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return finish(self.settings, G(x), x)  # type: ignore[arg-type]

    def d_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        y = batch[0]
        x, _ = self.degrade(y, self.rng)
        y_hat = self.restore(self.G, x)  # with its graph: the G phase reuses it
        self._pair = (x, y, y_hat)
        real, fake = self.D(x, y), self.D(x, y_hat.detach())
        loss = 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean())
        return loss, {"d_loss": loss.detach()}

    def g_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        s: Pix2PixSettings = self.settings  # type: ignore[assignment]
        if self._pair is None:  # L1 only: no D phase drew the batch
            y = batch[0]
            x, _ = self.degrade(y, self.rng)
            y_hat = self.restore(self.G, x)
        else:
            (x, y, y_hat), self._pair = self._pair, None
        l1 = (y_hat - y).abs().mean()
        loss = s.l1_weight * l1
        stats: Stats = {"l1": l1.detach()}
        if self.adversarial:
            adv = F.softplus(-self.D(x, y_hat)).mean()
            loss = loss + s.adv_weight * adv
            stats["g_adv"] = adv.detach()
        stats["g_loss"] = loss.detach()
        return loss, stats

    # ------------------------------------------------------------------------------------------
    # samples and state

    def preview(self, nets: Mapping[str, nn.Module]) -> torch.Tensor:
        """(3 n, C, H, W): input | output | target for the fixed preview images, two triplets a row."""
        y_hat = self.restore(nets["G"], self.preview_x)
        return torch.stack([self.preview_shown, y_hat, self.preview_y], 1).flatten(0, 1)

    def state_dict(self) -> dict[str, Any]:
        return {"degrade_rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["degrade_rng"].clone().to(torch.uint8))


def check_input(settings: Pix2PixSettings, shape: tuple[int, int, int]) -> None:
    """Refuse data the degradation cannot apply to, before anything is trained or written."""
    c, h, w = shape
    if settings.degradation == "superres":
        check_scale(settings.scale, h, w)
    if settings.degradation == "colorize" and c != 3:
        raise ConfigError(f"task.degradation=colorize needs RGB images, but the data has {c} channel(s); "
                          f"use RGB images (or data.channels=3 for grey ones, which teaches nothing)")
