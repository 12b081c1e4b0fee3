"""Feature matching (Salimans et al. 2016) as a gankit task: G matches the mean of D's features on real data."""

import torch
import torch.nn.functional as F

from gankit.models import build_discriminator, build_generator
from gankit.tasks import Phase, Task, build_optimizer


class FeatureMatchingGAN(Task):
    ema = ("G",)  # the engine keeps an average of G (G_ema) when ema.enabled

    def __init__(self, config, dataset, device):
        super().__init__(config, dataset, device)
        m, o = config.model, config.optim
        self.G = build_generator(m, self.shape).to(device)
        self.D = build_discriminator(m, self.shape).to(device)
        self.networks = {"G": self.G, "D": self.D}
        self.optimizers = {"G": build_optimizer(self.G.parameters(), o, o.lr_g),
                           "D": build_optimizer(self.D.parameters(), o, o.lr_d)}
        self.phases = [Phase("D", optimizer="D", loss=self.d_loss),
                       Phase("G", optimizer="G", loss=self.g_loss, new_batch=False)]
        self.fixed_z = torch.randn(64, m.z_dim, generator=torch.Generator().manual_seed(0)).to(device)

    def fake(self, n):
        return self.G(torch.randn(n, self.config.model.z_dim, device=self.device))

    def d_loss(self, batch, info):  # the usual discriminator: BCE on logits
        real, _labels = batch
        real_logits, fake_logits = self.D(real), self.D(self.fake(len(real)).detach())
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        return loss, {"d_loss": loss.detach()}

    def g_loss(self, batch, info):  # the D phase's real batch, handed on: no second draw
        real, _labels = batch
        f_real, f_fake = self.D.body(real).mean(0), self.D.body(self.fake(len(real))).mean(0)
        loss = (f_real.detach() - f_fake).pow(2).sum()
        return loss, {"g_loss": loss.detach()}

    def preview(self, nets):  # the sample grids: the same latents every time
        return nets["G"](self.fixed_z)
