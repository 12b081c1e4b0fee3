"""Pieces every architecture shares: how labels and codes enter G, the discriminator's heads, spectral norm.

Generators see one input vector per sample, ``LatentInput(z, y)``:
  unconditional  z                                   (B, z_dim)
  onehot/acgan   [z, onehot(y)]                      (B, z_dim + K)       Mirza & Osindero 2014
  embed/proj.    [z, embedding(y)]                   (B, 2 z_dim)
  InfoGAN        [z, c]  with c = [onehot(cat), cont] (B, z_dim + codes)   Chen et al. 2016

Discriminators are a body (B, C', H, W) -> features (B, F) under ``Discriminator``, which adds the label
input and the heads:
  onehot      label maps: K extra input channels, one-hot per pixel          (Mirza & Osindero 2014)
  embed       one extra input channel: a learned H*W map per class
  projection  logit = psi(h) + <embed(y), h>                                 (Miyato & Koyama 2018)
  acgan       unconditional input, an auxiliary K-way class head              (Odena et al. 2017)
  InfoGAN     an auxiliary head Q(c | x): categorical logits then continuous means (Chen et al. 2016)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.config import ModelConfig
from gankit.errors import GankitError


def code_dim(cfg: ModelConfig) -> int:
    """Width of the InfoGAN code c: one-hot categorical plus continuous entries."""
    return cfg.info_categories + cfg.info_continuous


def sample_codes(n: int, cfg: ModelConfig, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """InfoGAN codes (n, info_categories + info_continuous): a one-hot category, then U(-1, 1) values."""
    parts = []
    if cfg.info_categories:
        cat = torch.randint(0, cfg.info_categories, (n,), generator=generator)
        parts.append(F.one_hot(cat, cfg.info_categories).float())
    if cfg.info_continuous:
        parts.append(torch.rand(n, cfg.info_continuous, generator=generator) * 2 - 1)
    return torch.cat(parts, 1).to(device)


class LatentInput(nn.Module):
    """(z, y) -> the generator's input vector; ``out_dim`` is its width."""

    def __init__(self, cfg: ModelConfig, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.codes = code_dim(cfg)
        self.mode = "none"
        self.embed: nn.Embedding | None = None
        extra = 0
        if num_classes:
            if cfg.conditioning in ("onehot", "acgan"):
                self.mode, extra = "onehot", num_classes
            else:
                self.mode, extra = "embed", cfg.z_dim
                self.embed = nn.Embedding(num_classes, cfg.z_dim)
        elif self.codes:
            self.mode, extra = "code", self.codes
        self.out_dim = cfg.z_dim + extra
        self.cfg = cfg

    def codes_for(self, z: torch.Tensor) -> torch.Tensor:
        """InfoGAN codes for callers that give none: drawn from a generator seeded by z's bytes, so the
        same z always gives the same image and the codes keep their prior, independent of z."""
        seed = zlib.crc32(z.detach().float().cpu().numpy().tobytes())
        return sample_codes(len(z), self.cfg, z.device, torch.Generator().manual_seed(seed))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        z = z.flatten(1)
        if self.mode == "none":
            return z
        if y is None and self.mode == "code":
            y = self.codes_for(z)
        if y is None:
            raise GankitError("this generator is class-conditional: pass class labels as y")
        if self.mode == "onehot":
            return torch.cat([z, F.one_hot(y.long(), self.num_classes).to(z.dtype)], 1)
        if self.mode == "embed":
            return torch.cat([z, self.embed(y.long())], 1)
        return torch.cat([z, y.to(z.dtype)], 1)


def extra_input_channels(cfg: ModelConfig, num_classes: int) -> int:
    """Channels the discriminator's body receives beyond the image's own."""
    if not num_classes:
        return 0
    return {"onehot": num_classes, "embed": 1}.get(cfg.conditioning, 0)


def conv_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # normalise over (C, H, W) per sample: no batch coupling, safe under a gradient penalty
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class Discriminator(nn.Module):
    """Label input + body + heads. ``forward`` gives adversarial logits (B,); ``forward_aux`` also the
    auxiliary outputs (B, K) of ACGAN / InfoGAN (None for other discriminators)."""

    def __init__(self, body: nn.Module, feat_dim: int, cfg: ModelConfig, shape: tuple[int, int, int],
                 num_classes: int, init: Callable[[nn.Module], None] | None = None):
        super().__init__()
        self.body = body
        self.num_classes = num_classes
        self.mode = cfg.conditioning if num_classes else "none"
        self.minibatch_std = cfg.minibatch_std
        feat_dim += int(self.minibatch_std)  # one more feature: the batch's spread
        _, h, w = shape
        self.label_map = nn.Embedding(num_classes, h * w) if self.mode == "embed" else None
        self.head = nn.Linear(feat_dim, 1)
        self.project = nn.Embedding(num_classes, feat_dim) if self.mode == "projection" else None
        aux = num_classes if self.mode == "acgan" else (0 if num_classes else code_dim(cfg))
        self.aux = nn.Linear(feat_dim, aux) if aux else None
        if init is not None:
            self.apply(init)
        if self.project is not None:
            nn.init.xavier_uniform_(self.project.weight)
        if cfg.spectral_norm:  # after init: the parametrization divides whatever weights it finds
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_aux(x, y)[0]

    def forward_aux(self, x: torch.Tensor, y: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        needs_y = self.mode in ("onehot", "embed", "projection")
        if needs_y and y is None:
            raise GankitError("this discriminator is class-conditional: pass class labels as y")
        b, _, h, w = x.shape
        if self.mode == "onehot":
            maps = F.one_hot(y.long(), self.num_classes).to(x.dtype)  # (B, K) -> (B, K, H, W)
            x = torch.cat([x, maps[:, :, None, None].expand(b, -1, h, w)], 1)
        elif self.mode == "embed":
            x = torch.cat([x, self.label_map(y.long()).view(b, 1, h, w)], 1)
        feat = self.body(x)  # (B, F)
        if self.minibatch_std:
            feat = torch.cat([feat, minibatch_std(feat)], 1)  # (B, F + 1)
        logits = self.head(feat).squeeze(1)
        if self.project is not None:
            logits = logits + (self.project(y.long()) * feat).sum(1)
        return logits, (self.aux(feat) if self.aux is not None else None)


def minibatch_std(feat: torch.Tensor) -> torch.Tensor:
    """(B, F) -> (B, 1): the standard deviation of each feature over the batch, averaged over features
    (Karras et al. 2018's minibatch stddev, on the flattened features), the same for every sample."""
    std = torch.sqrt(feat.float().var(0, unbiased=False) + 1e-8).mean()
    return std.to(feat.dtype).expand(feat.shape[0], 1)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Divide every conv / linear / embedding weight by its largest singular value (one power
    iteration per forward, as in Miyato et al. 2018), using torch's parametrization."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)) and not _has_sn(m):
            spectral_norm(m)
    return module


def _has_sn(m: nn.Module) -> bool:
    return hasattr(m, "parametrizations") and "weight" in m.parametrizations


def has_aux_head(D: nn.Module) -> int:
    """Width of D's auxiliary head (0 when it has none)."""
    aux = getattr(D, "aux", None)
    return aux.out_features if isinstance(aux, nn.Linear) else 0
