"""The ``ssgan`` task: semi-supervised classification with a GAN (Salimans et al. 2016, section 5).

D is a K-class classifier whose "fake" class K+1 has its logit fixed at 0 (the logit-sum trick), so with
l = D(x) in R^K and Z(x) = sum_k exp(l_k):  p(real | x) = Z / (Z + 1),  log p(real | x) = lse(l) - softplus(lse(l)).

  D phase   L = CE(l(x_lab), y)                                        labelled batch (the task's own sampler)
              + softplus(lse(l(x))) - lse(l(x))                        unlabelled real batch (the engine's)
              + softplus(lse(l(G(z))))                                 generated batch: -log(1 - p(real))
  G phase   || mean f(x) - mean f(G(z)) ||^2                           feature matching on D's features f = body

The engine's batches carry no labels when ``data.labels_per_class`` is set (every label it dropped is
gone); the labelled images are a second data stream this task owns, with its sampler state in
``state_dict`` for exact resume. ``task.supervised_only`` trains the same D on the labelled images
alone (no G): the baseline at the same budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.config import Config, Section
from gankit.data import BatchSampler, ImageDataset, SelectedDataset
from gankit.errors import ConfigError
from gankit.losses import Stats
from gankit.models import build_discriminator, build_generator
from gankit.tasks.base import Batch, Phase, StepInfo, Task, build_optimizer


class ClassifierD(nn.Module):
    """The configured discriminator's body with a K-way head: x -> class logits (B, K)."""

    def __init__(self, config: Config, shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        base = build_discriminator(config.model, shape, 0)
        if not isinstance(getattr(base, "body", None), nn.Module):
            raise ConfigError(f"ssgan needs a discriminator with a feature layer (D.body); "
                              f"{config.model.discriminator} has none")
        self.body = base.body
        self.classes = nn.Linear(base.head.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classes(self.body(x))


class SSGANTask(Task):
    ema = ("G",)

    class Settings(Section):
        name: str = "ssgan"
        unsupervised_weight: float = Field(1.0, ge=0.0, description="weight of the real/fake loss against the "
                                           "labelled cross-entropy")
        supervised_only: bool = Field(False, description="train D on the labelled images alone, no G (the baseline)")

    def __init__(self, config: Config, dataset: ImageDataset, device: torch.device):
        super().__init__(config, dataset, device)
        labelled = dataset.labelled() if isinstance(dataset, SelectedDataset) else None
        if labelled is None:
            if dataset.labels is None:
                raise ConfigError(f"ssgan needs class labels (dataset {dataset.name!r} has none); keep some with "
                                  f"data.labels_per_class")
            labelled = dataset  # every label kept: fully supervised plus the GAN
        self.k = dataset.num_classes
        o, st = config.optim, self.settings
        self.D = ClassifierD(config, self.shape, self.k).to(device)
        self.networks: dict[str, nn.Module] = {"D": self.D}
        self.optimizers = {"D": build_optimizer(self.D.parameters(), o, o.lr_d)}
        self.phases = [Phase("D", "D", self.d_loss)]
        # a second data stream: the labelled images, in batches as large as the set allows
        self.labelled = BatchSampler(labelled, min(config.train.batch_size, len(labelled)), config.train.seed + 1,
                                     device)
        self.G = build_generator(config.model, self.shape, 0).to(device)
        self.networks["G"] = self.G  # the baseline keeps an untrained G, so its run loads like any other
        if not st.supervised_only:
            self.optimizers["G"] = build_optimizer(self.G.parameters(), o, o.lr_g)
            self.phases.append(Phase("G", "G", self.g_loss, new_batch=False))
            n = config.log.n_samples
            self.fixed_z = torch.randn(n, config.model.z_dim,
                                       generator=torch.Generator().manual_seed(config.train.seed + 1)).to(device)
        else:
            self.ema = ()

    @classmethod
    def build_networks(cls, config: Config, shape: tuple[int, int, int], num_classes: int) -> dict[str, nn.Module]:
        return {"G": build_generator(config.model, shape, 0)}

    def fake(self, n: int) -> torch.Tensor:
        return self.G(torch.randn(n, self.config.model.z_dim, device=self.device))

    def d_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        x_lab, y_lab = self.labelled.next()
        sup = F.cross_entropy(self.D(x_lab), y_lab)
        stats: Stats = {"d_sup": sup.detach()}
        if self.settings.supervised_only:
            return sup, stats
        real, _ = batch
        lse_real = torch.logsumexp(self.D(real), 1)
        lse_fake = torch.logsumexp(self.D(self.fake(len(real)).detach()), 1)
        unsup = (F.softplus(lse_real) - lse_real).mean() + F.softplus(lse_fake).mean()
        stats["d_unsup"] = unsup.detach()
        return sup + self.settings.unsupervised_weight * unsup, stats

    def g_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        real, _ = batch
        f_real, f_fake = self.D.body(real).mean(0), self.D.body(self.fake(len(real))).mean(0)
        loss = (f_real.detach() - f_fake).pow(2).mean()  # feature matching
        return loss, {"g_fm": loss.detach()}

    def preview(self, nets: Mapping[str, nn.Module]) -> torch.Tensor:
        if self.settings.supervised_only:  # the baseline trains no generator: show the labelled images
            return self.labelled.dataset.float_images(slice(0, 64)).to(self.device)
        return nets["G"](self.fixed_z)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"labelled": self.labelled.state_dict()}
        if not self.settings.supervised_only:
            state["fixed_z"] = self.fixed_z
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labelled.load_state_dict(state["labelled"])
        if "fixed_z" in state:
            self.fixed_z = state["fixed_z"].to(self.device)


@torch.no_grad()
def predict(D: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class per image (N,) from a ClassifierD; x in [-1, 1]."""
    D.eval()
    device = next(D.parameters()).device
    return torch.cat([D(x[i: i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
