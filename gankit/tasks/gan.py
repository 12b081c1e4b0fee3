"""The ``gan`` task: z -> image GANs, unconditional, class-conditional (cGAN, projection, ACGAN) or with
InfoGAN codes, trained by n_critic discriminator phases and one generator phase per step.

Everything a GAN variant needs is wired here from the config: the networks and loss by name, the
stabilizers (``gankit.tasks.stabilizers``), class labels or InfoGAN codes as G's ``y``, and the
fixed latents behind every sample grid. The engine only sees two phases:

  D  (repeat optim.n_critic, fresh real batch each time)  loss.discriminator_loss + regularizers
  G  (the D phase's last real batch)                      loss.generator_loss
With ``perf.reuse_fake`` the G phase reuses the last D phase's fake batch (one G forward per step, as
the DCGAN reference code); its graph is kept only on that last D repetition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import Config, ModelConfig
from gankit.data import ImageDataset
from gankit.errors import ConfigError
from gankit.losses import Stats, build_loss
from gankit.models import build_discriminator, build_generator
from gankit.models.layers import code_dim, has_aux_head, sample_codes
from gankit.tasks.base import Batch, Phase, StepInfo, Task, build_optimizer
from gankit.tasks.stabilizers import Augment, GradClip, GradientPenalty, HistoricalAverage, R1Penalty, WeightClip


class GANTask(Task):
    ema = ("G",)

    def __init__(self, config: Config, dataset: ImageDataset, device: torch.device):
        super().__init__(config, dataset, device)
        m, o = config.model, config.optim
        self.num_classes = dataset.num_classes if m.conditional else 0
        nets = self.build_networks(config, self.shape, self.num_classes)
        self.G, self.D = nets["G"].to(device), nets["D"].to(device)
        self.loss = build_loss(config.loss)
        fused = config.perf.fused_optimizer
        self.networks = {"G": self.G, "D": self.D}
        self.optimizers = {"G": build_optimizer(self.G.parameters(), o, o.lr_g, fused),
                           "D": build_optimizer(self.D.parameters(), o, o.lr_d, fused)}
        self.reuse_fake = config.perf.reuse_fake
        self._fake: tuple[torch.Tensor, torch.Tensor | None] | None = None  # D phase -> G phase (reuse_fake)

        # The fixed latent batch behind every sample grid, so grids over time are comparable.
        n, seed = config.log.n_samples, config.train.seed
        self.fixed_z = torch.randn(n, m.z_dim, generator=torch.Generator().manual_seed(seed + 1)).to(device)
        self.fixed_y = (torch.arange(n) % self.num_classes).to(device) if self.num_classes else None
        self.infogan = bool(code_dim(m))
        if self.infogan:  # the codes travel as G's y
            self.loss.categories = m.info_categories
            self.fixed_y = fixed_codes(n, m, seed).to(device)
        self._check_compatible()
        self._attach_stabilizers()
        d_after = [WeightClip(self.D, config.reg.weight_clip)] if config.reg.weight_clip else []
        g_after = []
        w = config.stabilize.historical_averaging
        self.history = {name: HistoricalAverage(self.networks[name], w) for name in ("D", "G")} if w else {}
        if self.history:
            d_after.append(self.history["D"].update)
            g_after.append(self.history["G"].update)
        self.phases = [Phase("D", "D", self.d_loss, repeat=o.n_critic, after=d_after),
                       Phase("G", "G", self.g_loss, new_batch=False, after=g_after)]

    @classmethod
    def build_networks(cls, config: Config, shape: tuple[int, int, int], num_classes: int) -> dict[str, nn.Module]:
        m = config.model  # G before D: the order the recorded goldens drew their initial weights in
        return {"G": build_generator(m, shape, num_classes), "D": build_discriminator(m, shape, num_classes)}

    def _attach_stabilizers(self) -> None:
        cfg = self.config
        st = cfg.stabilize
        if st.label_smoothing or st.label_flip:
            self.loss.set_targets(1.0 - st.label_smoothing, st.label_flip)
        for name, limit in (("D", st.grad_clip_d), ("G", st.grad_clip_g)):
            if limit:
                self.optimizers[name].register_step_pre_hook(GradClip(self.networks[name], limit))
        self.regularizers: list[Any] = []  # (D, real, fake, y_real, y_fake, step) -> extra D loss or None
        if cfg.reg.gp_weight:
            self.regularizers.append(GradientPenalty(cfg.reg.gp_weight))
        if cfg.reg.r1_gamma:
            self.regularizers.append(R1Penalty(cfg.reg.r1_gamma, cfg.reg.r1_every))
        aug = cfg.augment
        self.augment = Augment(aug.policy, aug.instance_noise) if aug.policy or aug.instance_noise else None

    def _check_compatible(self) -> None:
        """Refuse combinations that would train something other than what the config says."""
        cfg, m = self.config, self.config.model
        if m.conditional and not self.dataset.num_classes:
            raise ConfigError(f"model.conditional needs class labels, but dataset {self.dataset.name!r} has none")
        if m.conditional and self.dataset.labels is None:
            raise ConfigError("model.conditional needs the label of every image; data.labels_per_class keeps only "
                              "some (the task ssgan learns from few labels)")
        loss = cfg.loss.name
        if (loss == "acgan") != (m.conditional and m.conditioning == "acgan"):
            raise ConfigError("ACGAN needs loss.name=acgan together with model.conditional=true and "
                              "model.conditioning=acgan (one was set without the other)")
        if (loss == "infogan") != self.infogan:
            raise ConfigError("InfoGAN needs loss.name=infogan together with model.info_categories and/or "
                              "model.info_continuous > 0 (one was set without the other)")
        if loss == "infogan" and m.conditional:
            raise ConfigError("InfoGAN codes and class conditioning cannot be combined; set model.conditional=false")
        if loss in ("acgan", "infogan") and not has_aux_head(self.D):
            raise ConfigError(f"loss {loss} needs a discriminator with an auxiliary head")
        st = cfg.stabilize
        if st.feature_matching and (m.conditional and m.conditioning in ("onehot", "embed") or self.infogan
                                    or not isinstance(getattr(self.D, "body", None), nn.Module)):
            raise ConfigError("stabilize.feature_matching needs a discriminator whose features see the image alone "
                              "(unconditional, projection or acgan; not onehot/embed conditioning or InfoGAN)")
        if (st.label_smoothing or st.label_flip) and not self.loss.uses_targets:
            raise ConfigError(f"stabilize.label_smoothing / label_flip need a loss with targets (bce, lsgan), "
                              f"not {cfg.loss.adversarial if loss in ('acgan', 'infogan') else loss}")

    # ------------------------------------------------------------------------------------------
    # the phases

    def sample_latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, self.config.model.z_dim, device=self.device)
        if self.num_classes:
            return z, torch.randint(0, self.num_classes, (n,), device=self.device)
        return z, sample_codes(n, self.config.model, self.device) if self.infogan else None

    def _aug(self, x: torch.Tensor, info: StepInfo) -> torch.Tensor:
        return x if self.augment is None else self.augment(x, info.progress)

    def d_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        real, y_real = batch
        if not self.num_classes:
            y_real = None
        z, y_fake = self.sample_latents(len(real))
        keep = self.reuse_fake and info.last  # the G phase reuses this fake batch, with its graph
        with torch.set_grad_enabled(keep):
            fake_g = self.G(z, y_fake)
        self._fake = (fake_g, y_fake) if keep else None
        fake = fake_g.detach()
        loss, stats = self.loss.discriminator_loss(self.D, self._aug(real, info), self._aug(fake, info),
                                                   y_real, y_fake)
        for reg in self.regularizers:
            extra = reg(self.D, real, fake, y_real, y_fake, info.step)
            if extra is not None:
                loss = loss + extra
        if self.history:
            loss = loss + self.history["D"].penalty()
        return loss, stats

    def g_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        loss, stats = self._g_loss(batch, info)
        if self.history:
            loss = loss + self.history["G"].penalty()
        return loss, stats

    def _g_loss(self, batch: Batch, info: StepInfo) -> tuple[torch.Tensor, Stats]:
        if self._fake is None:  # a fresh batch costs a second G forward per step
            z, y_fake = self.sample_latents(self.config.train.batch_size)
            fake_g = self.G(z, y_fake)
        else:
            (fake_g, y_fake), self._fake = self._fake, None
        real = None
        if self.config.stabilize.feature_matching:  # ||E f(x) - E f(G(z))||^2, f = D's features on the real batch
            real = self._aug(batch[0], info)
            f_real, f_fake = self.D.body(real).mean(0), self.D.body(self._aug(fake_g, info)).mean(0)
            loss = (f_real.detach() - f_fake).pow(2).sum()
            return loss, {"g_loss": loss.detach()}
        if self.loss.sees_real_in_g_step:  # relativistic losses, feature matching
            real, y_real = batch
            real = self._aug(real, info)
            y_real = y_real if self.num_classes else None
            return self.loss.generator_loss(self.D, self._aug(fake_g, info), y_fake, real, y_real)
        return self.loss.generator_loss(self.D, self._aug(fake_g, info), y_fake)

    # ------------------------------------------------------------------------------------------
    # samples

    def preview(self, nets: Mapping[str, nn.Module]) -> torch.Tensor:
        return nets["G"](self.fixed_z, self.fixed_y)

    def evaluation_samples(self, nets: Mapping[str, nn.Module], n: int, seed: int
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images from fixed latents (the same every evaluation, so numbers over time are comparable);
        classes in turn for conditional runs, InfoGAN codes drawn from the prior."""
        z = torch.randn(n, self.config.model.z_dim, generator=torch.Generator().manual_seed(seed))
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        y = labels if labels is not None else (
            sample_codes(n, self.config.model, self.device).cpu() if self.infogan else None)
        G = nets["G"]
        out = [G(z[i: i + 500].to(self.device), None if y is None else y[i: i + 500].to(self.device)).float().cpu()
               for i in range(0, n, 500)]
        return torch.cat(out), labels

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"fixed_z": self.fixed_z}
        if self.history:  # historical averaging's running means
            state["history"] = {name: h.state_dict() for name, h in self.history.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fixed_z = state["fixed_z"].to(self.device)
        for name, h in self.history.items():
            h.load_state_dict(state["history"][name])


def fixed_codes(n: int, model_cfg: ModelConfig, seed: int) -> torch.Tensor:
    """Codes for the fixed sample grid: category i % K in column order, continuous codes drawn once."""
    codes = sample_codes(n, model_cfg, "cpu", torch.Generator().manual_seed(seed + 2))
    k = model_cfg.info_categories
    if k:
        codes[:, :k] = F.one_hot(torch.arange(n) % k, k).float()
    return codes
