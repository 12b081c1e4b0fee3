"""What a task is: named networks, their optimizers, and the phases that train them.

The engine (``gankit.engine.trainer``) only schedules: for every phase whose turn it is, it draws a batch
(or hands on the previous phase's), asks the phase for ``(loss, stats)``, and steps the phase's
optimizer. Everything a model family needs besides that — its losses, regularizers, latents, the
image pool of CycleGAN, the encoder of f-AnoGAN — lives in its task, in one file (stylegan2-ada's
``loss.py`` with phases Gmain/Dmain, but owning the networks too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import ValidationError
from torch import nn

from gankit.config import Config, OptimConfig, Section, one_line_error
from gankit.data import ImageDataset
from gankit.errors import ConfigError
from gankit.losses import Stats
from gankit.models import build_generator

Batch = tuple[torch.Tensor, torch.Tensor | None]  # (images (B, C, H, W) in [-1, 1], labels (B,) or None)


@dataclass(frozen=True)
class StepInfo:
    """Where the engine is when it calls a phase."""
    step: int  # steps done before this one
    repeat: int  # which repetition of the phase this is (0 .. phase.repeat - 1)
    last: bool  # the phase's last repetition in this step
    progress: float  # fraction of the run done, for schedules (instance-noise annealing)


@dataclass
class Phase:
    """One optimizer update: ``loss(batch, info) -> (loss, stats)``, then ``optimizer`` steps.

    ``repeat`` runs it several times per step (WGAN's n_critic), each on a fresh batch when
    ``new_batch``; otherwise it sees the batch of the phase before it (the generator step sees the
    critic's last real batch, so feature matching and relativistic losses need no second draw).
    ``every`` runs it only on steps divisible by it (lazy regularisation); ``after`` hooks run after
    each optimizer step (weight clipping).
    """
    name: str
    optimizer: str
    loss: Callable[[Batch, StepInfo], tuple[torch.Tensor, Stats]]
    repeat: int = 1
    every: int = 1
    new_batch: bool = True
    after: list[Callable[[], None]] = field(default_factory=list)


class Task:
    """Base of every task. A subclass sets ``networks``, ``optimizers`` and ``phases`` in ``__init__``.

    ``Settings`` (a config ``Section``) validates the task's own keys under ``task.*``; ``ema`` names
    the networks the engine keeps an exponential moving average of (``ema.enabled``), stored as
    ``NAME_ema``; ``num_classes`` is recorded in run.json for sampling by class later.
    """

    class Settings(Section):
        name: str = "gan"

    ema: ClassVar[tuple[str, ...]] = ()
    num_classes: int = 0
    # G maps (z, y) -> images, so `gankit sample`, `eval RUN`, `interpolate` and the report draw from it;
    # a task whose G maps images to images (pix2pix) sets False and is used through `gankit apply`.
    draws_from_latents: ClassVar[bool] = True

    def __init__(self, config: Config, dataset: ImageDataset, device: torch.device):
        self.config, self.dataset, self.device = config, dataset, device
        self.shape = dataset.shape
        self.settings = self.read_settings(config)
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.phases: list[Phase] = []

    @classmethod
    def read_settings(cls, config: Config) -> Section:
        try:
            return cls.Settings.model_validate(config.task.model_dump())
        except ValidationError as exc:
            raise ConfigError(f"config: task {config.task.name}: {one_line_error(exc, cls.Settings, 'task')}") from None

    @classmethod
    def build_networks(cls, config: Config, shape: tuple[int, int, int], num_classes: int) -> dict[str, nn.Module]:
        """The task's networks, untrained, from what a run directory records (its config, and run.json's image
        shape and number of classes): what loading a finished run needs, without its dataset. The default
        is the z -> image generator ``model.generator``, which is what sampling a run of a plugin task uses."""
        return {"G": build_generator(config.model, shape, num_classes)}

    @property
    def batches_per_step(self) -> int:
        """Fresh data batches one step draws (for converting epochs to steps)."""
        return sum(p.repeat for p in self.phases if p.new_batch and p.every == 1) or 1

    @property
    def images_per_step(self) -> int:
        """Images through the networks per step, for the images/s of the log."""
        return self.config.train.batch_size * sum(p.repeat for p in self.phases if p.every == 1)

    def preview(self, nets: Mapping[str, nn.Module]) -> torch.Tensor:
        """Images for the sample grid, from fixed inputs, so grids over training are comparable.

        ``nets`` maps network names to the copies to sample from (the EMA copy where there is one);
        the engine calls this in eval mode under no_grad.
        """
        raise NotImplementedError

    def evaluation_samples(self, nets: Mapping[str, nn.Module], n: int, seed: int
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images, labels or None) scored by evaluation during training (``eval.every``)."""
        raise ConfigError(f"task {self.config.task.name} has no image evaluation during training; "
                          f"leave eval.every unset")

    # State that exact resume needs besides the networks and optimizers (fixed latents, an image pool).
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def build_optimizer(params: Any, cfg: OptimConfig, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    # fused=True: one kernel per step instead of a loop over parameters (torch has none for RMSprop)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.beta1, fused=fused or None)
