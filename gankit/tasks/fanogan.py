"""The ``fanogan`` task: f-AnoGAN's encoder (Schlegl et al. 2019), trained after a GAN on normal data.

A GAN run on normal images gives a generator G (z -> x) and a discriminator D. f-AnoGAN trains an
encoder E (x -> z) with G and D frozen, by the izi_f objective

    L(x) = 1/n ||x - G(E(x))||^2  +  kappa / n_d ||f(x) - f(G(E(x)))||^2

(n pixels, n_d features; f is D's feature layer, ``D.body``), and scores an image by the same residual:
a normal image is reconstructed through z, an anomaly is not. The frozen G and D are this task's
networks too, so a checkpoint of the encoder run holds everything scoring needs; they are loaded from
the GAN run before training starts (``gankit.apps.anomaly``), stay in eval mode (the engine puts every
network in train mode each step; the phase puts these back) and have no optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import nn

from gankit.config import Config, Section
from gankit.data import ImageDataset
from gankit.errors import ConfigError
from gankit.losses import Stats
from gankit.models import build_discriminator, build_generator
from gankit.models.dcgan import DCGANBody, dcgan_init
from gankit.models.layers import code_dim
from gankit.tasks.base import Batch, Phase, StepInfo, Task, build_optimizer


class Encoder(nn.Module):
    """x (B, C, H, W) -> z (B, z_dim): the DCGAN discriminator's body with a linear head, as in f-AnoGAN."""

    def __init__(self, shape: tuple[int, int, int], width: int, z_dim: int):
        super().__init__()
        channels, resolution, _ = shape
        self.body = DCGANBody(channels, width, resolution, "batch")
        self.head = nn.Linear(self.body.out_features, z_dim)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class FAnoGANTask(Task):
    class Settings(Section):
        name: str = "fanogan"
        kappa: float = Field(1.0, ge=0.0, description="weight of the discriminator-feature residual (the paper's 1)")
        gan_run: str = Field("", description="the GAN run the frozen G and D come from (recorded by anomaly fit)")
        gan_checkpoint: str = Field("", description="its checkpoint (recorded by anomaly fit)")

    def __init__(self, config: Config, dataset: ImageDataset, device: torch.device):
        super().__init__(config, dataset, device)
        check_gan_config(config)
        nets = self.build_networks(config, self.shape, 0)
        self.G, self.D, self.E = (nets[k].to(device) for k in ("G", "D", "E"))
        if not isinstance(getattr(self.D, "body", None), nn.Module):
            raise ConfigError(f"f-AnoGAN needs a discriminator with a feature layer (D.body); "
                              f"{config.model.discriminator} has none")
        for net in (self.G, self.D):
            net.requires_grad_(False)
        self.kappa = self.settings.kappa
        self.networks = {"G": self.G, "D": self.D, "E": self.E}
        self.optimizers = {"E": build_optimizer(self.E.parameters(), config.optim, config.optim.lr_g)}
        self.phases = [Phase("E", "E", self.e_loss)]
        n = min(32, len(dataset))  # the grid: these images above their reconstructions G(E(x))
        self.fixed_x = dataset.float_images(slice(0, n)).to(device)

    @classmethod
    def build_networks(cls, config: Config, shape: tuple[int, int, int], num_classes: int) -> dict[str, nn.Module]:
        m = config.model
        return {"G": build_generator(m, shape, 0), "D": build_discriminator(m, shape, 0),
                "E": Encoder(shape, m.width, m.z_dim)}

    def e_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        self.G.eval()
        self.D.eval()
        x, _ = batch
        image_res, feature_res = izi_f_residuals(self.G, self.D, self.E, x)
        loss = (image_res + self.kappa * feature_res).mean()
        return loss, {"e_loss": loss.detach(), "image_residual": image_res.mean().detach(),
                      "feature_residual": feature_res.mean().detach()}

    def preview(self, nets: Mapping[str, nn.Module]) -> torch.Tensor:
        recon = nets["G"](nets["E"](self.fixed_x))
        return torch.cat([self.fixed_x, recon.to(self.fixed_x.dtype)])


def izi_f_residuals(G: nn.Module, D: nn.Module, E: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (B,): the mean squared image residual ||x - G(E(x))||^2 / n and the mean squared
    feature residual ||f(x) - f(G(E(x)))||^2 / n_d, f = D.body."""
    recon = G(E(x))
    f_real, f_recon = D.body(x), D.body(recon)  # (B, n_d)
    image_res = (x - recon).float().pow(2).flatten(1).mean(1)
    feature_res = (f_real - f_recon).float().pow(2).mean(1)
    return image_res, feature_res


@torch.no_grad()
def anomaly_scores(G: nn.Module, D: nn.Module, E: nn.Module, x: torch.Tensor, kappa: float,
                   batch_size: int = 500) -> torch.Tensor:
    """f-AnoGAN's score A(x) = A_R(x) + kappa A_D(x) per image (N,), higher = more anomalous; x in [-1, 1]."""
    out = []
    for net in (G, D, E):
        net.eval()
    device = next(E.parameters()).device
    for i in range(0, len(x), batch_size):
        image_res, feature_res = izi_f_residuals(G, D, E, x[i: i + batch_size].to(device))
        out.append((image_res + kappa * feature_res).cpu())
    return torch.cat(out)


def check_gan_config(config: Config) -> None:
    """f-AnoGAN needs an unconditional z -> image GAN."""
    m = config.model
    if m.conditional or code_dim(m):
        raise ConfigError("f-AnoGAN needs an unconditional GAN (no model.conditional, no InfoGAN codes): "
                          "train it on the normal class only, e.g. --classes 0")
