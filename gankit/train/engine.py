"""The one training engine every recipe runs on.

``Trainer.train_step`` is the whole optimisation core: n_critic discriminator updates, then one
generator update, with the loss object supplying both terms. Everything optional hooks in around it:
``d_hooks`` run after each discriminator step (weight clipping), ``g_hooks`` after each generator step
(EMA), ``regularizers`` add terms to the discriminator loss (gradient penalty, R1), ``augment``
transforms every image D sees (DiffAugment), and callbacks do the housekeeping (logs, samples,
checkpoints, progress) between steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.config import Config, ConfigError, OptimConfig
from gankit.data import BatchSampler, ImageDataset, load_dataset
from gankit.errors import CheckpointError, GankitError, Interrupted, TrainingDiverged
from gankit.losses import Stats, build_loss
from gankit.models import build_discriminator, build_generator
from gankit.train import perf, stabilizers
from gankit.train.callbacks import Callback
from gankit.train.guard import DivergenceGuard, deferred_interrupts
from gankit.utils import resolve_device, resolve_threads, seed_everything

Regularizer = Callable[..., torch.Tensor | None]  # (D, real, fake, y_real, y_fake, step) -> extra D loss


def build_optimizer(params: Any, cfg: OptimConfig, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    # fused=True: one kernel per step instead of a loop over parameters (torch has none for RMSprop)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.beta1, fused=fused or None)


class Trainer:
    """Holds every piece of a GAN run and the counters that say where it is."""

    def __init__(self, config: Config, dataset: ImageDataset | None = None):
        self.config = config
        tc = config.train
        if tc.threads:
            torch.set_num_threads(resolve_threads(tc.threads))
        self.device = resolve_device(tc.device)
        seed_everything(tc.seed)
        self.dataset = dataset if dataset is not None else load_dataset(config.data)
        self.shape = self.dataset.shape
        self.num_classes = self.dataset.num_classes if self.conditional else 0

        self.G = build_generator(config.model, self.shape, self.num_classes).to(self.device)
        self.D = build_discriminator(config.model, self.shape, self.num_classes).to(self.device)
        self.loss = build_loss(config.loss)
        fused = config.perf.fused_optimizer
        self.opt_g = build_optimizer(self.G.parameters(), config.optim, config.optim.lr_g, fused)
        self.opt_d = build_optimizer(self.D.parameters(), config.optim, config.optim.lr_d, fused)
        self.sampler = BatchSampler(self.dataset, tc.batch_size, tc.seed, self.device)

        self.regularizers: list[Regularizer] = []
        self.d_hooks: list[Callable[["Trainer"], None]] = []
        self.g_hooks: list[Callable[["Trainer"], None]] = []
        self.augment: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.code_sampler: Callable[[int], torch.Tensor] | None = None  # InfoGAN codes, given to G as y
        self.callbacks: list[Callback] = []

        # The fixed latent batch behind every sample grid, so grids over time are comparable.
        gen = torch.Generator().manual_seed(tc.seed + 1)
        n = config.log.n_samples
        self.fixed_z = torch.randn(n, config.model.z_dim, generator=gen).to(self.device)
        self.fixed_y = (torch.arange(n) % self.num_classes).to(self.device) if self.num_classes else None

        self.step = 0  # generator steps done
        self.elapsed = 0.0  # training seconds, summed over resumed sessions
        self.stop_reason = ""
        self.total_steps = self._total_steps()
        stabilizers.attach(self)  # regularizers, hooks, EMA and augmentation, from the config
        perf.apply(self)  # channels_last, bf16 autocast, torch.compile, from the config
        # Exact resume saves every optimizer, scheduler, hook and callback with state_dict/load_state_dict
        # found on the trainer (see stateful_parts); anything else registers itself here by name.
        self.extra_state: dict[str, Any] = {}
        self.guard = DivergenceGuard(config.guard, config.log.sample_every) if config.guard.enabled else None

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.config.model, "conditional", False))

    @property
    def sampling_generator(self) -> nn.Module:
        """The network samples come from: the EMA copy when there is one."""
        return getattr(self, "G_ema", None) or self.G

    def _total_steps(self) -> int | None:
        tc, per_epoch = self.config.train, self.sampler.batches_per_epoch
        limits = []
        if tc.steps:
            limits.append(tc.steps)
        if tc.epochs:
            limits.append(max(1, math.ceil(tc.epochs * per_epoch / self.config.optim.n_critic)))
        if not limits and not tc.max_time:
            raise ConfigError("config: set train.steps, train.epochs or train.max_time so training can end")
        return min(limits) if limits else None

    # ------------------------------------------------------------------------------------------
    # the optimisation core

    def sample_latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, self.config.model.z_dim, device=self.device)
        y = torch.randint(0, self.num_classes, (n,), device=self.device) if self.num_classes else None
        if y is None and self.code_sampler is not None:
            y = self.code_sampler(n)
        return z, y

    def train_step(self) -> Stats:
        aug = self.augment or (lambda x: x)
        stats: Stats = {}
        n_critic, reuse = self.config.optim.n_critic, self.config.perf.reuse_fake
        for i in range(n_critic):
            real, y_real = self.sampler.next()
            if not self.num_classes:
                y_real = None
            z, y_fake = self.sample_latents(len(real))
            with torch.set_grad_enabled(reuse and i == n_critic - 1):  # reuse: the G step needs this graph
                fake_g = self.G(z, y_fake)
            fake = fake_g.detach()
            d_loss, stats = self.loss.discriminator_loss(self.D, aug(real), aug(fake), y_real, y_fake)
            for reg in self.regularizers:
                extra = reg(self.D, real, fake, y_real, y_fake, self.step)
                if extra is not None:
                    d_loss = d_loss + extra
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            for hook in self.d_hooks:
                hook(self)

        if not reuse:  # a fresh batch costs a second G forward per step
            z, y_fake = self.sample_latents(self.config.train.batch_size)
            fake_g = self.G(z, y_fake)
        g_loss, g_stats = self.loss.generator_loss(self.D, aug(fake_g), y_fake)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        for hook in self.g_hooks:
            hook(self)
        self.step += 1
        return {**stats, **g_stats}

    # ------------------------------------------------------------------------------------------
    # the loop, with housekeeping around the core

    def fit(self) -> "Trainer":
        for cb in self.callbacks:
            cb.on_start(self)
        max_time = self.config.train.max_time
        started, base = time.perf_counter(), self.elapsed
        if self.guard is not None:
            self.guard.before_fit(self)
        # Ctrl-C / SIGTERM stop between steps, so the checkpoint written on the way out resumes exactly.
        signum = 0
        with deferred_interrupts() as interrupt_requested:
            try:
                while True:
                    if self.total_steps is not None and self.step >= self.total_steps:
                        self.stop_reason = f"reached {self.total_steps} steps"
                        break
                    if max_time is not None and self.elapsed >= max_time:
                        self.stop_reason = f"reached the time limit ({max_time:g} s)"
                        break
                    signum = interrupt_requested()
                    if signum:
                        self.stop_reason = "interrupted"
                        break
                    self.G.train()
                    self.D.train()
                    stats = self.train_step()
                    self.elapsed = base + time.perf_counter() - started
                    if self.guard is not None and not self.guard.after_step(self, stats):
                        if self.guard.stopped:  # rolled back to the last good state; callbacks save it
                            self.stop_reason = self.guard.message
                            break
                        continue  # a rolled-back step never reaches logs or checkpoints
                    for cb in self.callbacks:
                        cb.on_step(self, stats)
            except KeyboardInterrupt as exc:  # a second Ctrl-C: possibly mid-step, so no final checkpoint
                signum = getattr(exc, "signum", 2)
                self.stop_reason = "interrupted"
                self.hard_interrupt = True
            finally:
                self.elapsed = base + time.perf_counter() - started
        for cb in self.callbacks:
            cb.on_end(self)
        if self.stop_reason == "interrupted":
            raise Interrupted(signum)
        if self.guard is not None and self.guard.stopped:
            raise TrainingDiverged(self.guard.message)
        return self

    @property
    def epoch(self) -> float:
        return (self.sampler.epoch * len(self.dataset) + self.sampler.position) / len(self.dataset)

    @property
    def progress(self) -> float:
        """Fraction of the run done, by whichever limit comes first."""
        parts = []
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if self.config.train.max_time:
            parts.append(self.elapsed / self.config.train.max_time)
        return min(1.0, max(parts)) if parts else 0.0

    # ------------------------------------------------------------------------------------------
    # state for checkpoints (exact resume)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"G": self.G, "D": self.D}
        if getattr(self, "G_ema", None) is not None:
            nets["G_ema"] = self.G_ema
        return nets

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [obj for obj in self.stateful_parts().values() if isinstance(obj, torch.optim.Optimizer)]

    def stateful_parts(self) -> dict[str, Any]:
        """Everything besides the networks' weights that exact resume restores, by a stable name.

        Found automatically: attributes of the trainer with ``state_dict``/``load_state_dict``
        (optimizers, schedulers, the sampler, the guard, extra modules or loss objects) and such
        objects in the hook and callback lists (an EMA or ADA object, a callback with running sums);
        ``self.extra_state[name] = obj`` adds anything else. The networks go to weights.safetensors.
        """
        nets = {id(m) for m in self.networks().values()}
        skip = nets | {id(self)}
        parts: dict[str, Any] = {}

        def consider(name: str, obj: Any) -> None:
            obj = getattr(obj, "__self__", obj)  # a bound method hook: its object holds the state
            if id(obj) in skip or isinstance(obj, type):
                return
            if callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)):
                if isinstance(obj, nn.Module) and not obj.state_dict():
                    return  # stateless module (a loss object, say): nothing to save
                skip.add(id(obj))
                parts[name] = obj

        for name, obj in vars(self).items():
            if isinstance(obj, (list, tuple)):
                for i, item in enumerate(obj):
                    consider(f"{name}.{i}.{type(getattr(item, '__self__', item)).__name__}", item)
            elif name != "extra_state":
                consider(name, obj)
        for name, obj in self.extra_state.items():
            consider(name, obj)
        return parts

    def state_dict(self) -> dict[str, Any]:
        import random

        import numpy as np

        state: dict[str, Any] = {
            "step": self.step,
            "elapsed": self.elapsed,
            "fixed_z": self.fixed_z,
            "parts": {name: obj.state_dict() for name, obj in self.stateful_parts().items()},
            "rng": {"torch": torch.get_rng_state(), "numpy": list(np.random.get_state()),
                    "python": _python_rng_to_json(random.getstate())},
        }
        if torch.cuda.is_available():
            state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import random

        import numpy as np

        parts, saved = self.stateful_parts(), state.get("parts", {})
        missing, unexpected = sorted(set(parts) - set(saved)), sorted(set(saved) - set(parts))
        if missing or unexpected:
            detail = f"lacks {missing[0]}" if missing else f"has an unknown {unexpected[0]}"
            raise CheckpointError(f"checkpoint state does not fit this run ({detail}); was it written with "
                                  f"another config?")
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        for name, obj in parts.items():
            obj.load_state_dict(saved[name])
        self.fixed_z = state["fixed_z"].to(self.device)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].to(torch.uint8))
        np.random.set_state(tuple(rng["numpy"]))
        random.setstate(_python_rng_from_json(rng["python"]))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([t.to(torch.uint8) for t in rng["cuda"]])


def _python_rng_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_rng_from_json(state: list) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def check_run_dir_free(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise GankitError(f"--out {path} is a file, not a directory; choose another --out")
    if path.exists() and any(path.iterdir()):
        raise GankitError(f"run directory {path} already exists and is not empty; choose another --out "
                          f"(or --resume it)")
