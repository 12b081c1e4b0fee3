"""What the engine tests share: train a config into a run directory through the public entry point
(``gankit.app.training.run_config``), reach into the trainer before its first step, and a task that
owns a learning-rate scheduler (state a task keeps besides its networks and optimizers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from gankit import config as cfgmod
from gankit.app.training import run_config
from gankit.engine import callbacks as cb
from gankit.tasks.gan import GANTask


def into(cfg, run_dir: Path):
    """A copy of ``cfg`` that trains into ``run_dir`` (run_config trains into ``cfg.out``)."""
    return cfgmod.build_config(cfg.to_dict(), {"out": str(run_dir)})


class OnStart(cb.Callback):
    """Calls ``setup(trainer)`` before the first step (after a resume has loaded its state) and keeps the
    trainer, so a test can still look at it when training raised."""

    def __init__(self, setup: Callable | None = None):
        self.setup, self.trainer = setup, None

    def on_start(self, trainer):
        self.trainer = trainer
        if self.setup is not None:
            self.setup(trainer)


def fit(cfg, run_dir: Path, *callbacks: cb.Callback, setup: Callable | None = None):
    """Train ``cfg`` into ``run_dir`` with ``callbacks`` after the run's own; ``setup(trainer)`` runs
    before the first step. Returns the Trainer."""
    return run_config(into(cfg, run_dir), callbacks=[OnStart(setup), *callbacks], quiet=True, progress=False).trainer


def after_g_step(trainer, hook: Callable) -> None:
    """Run ``hook(trainer)`` after every optimizer step of the generator (the GAN task's last phase)."""
    trainer.task.phases[-1].after.append(lambda: hook(trainer))


def after_d_step(trainer, hook: Callable) -> None:
    """Run ``hook(trainer)`` after every optimizer step of the discriminator (the GAN task's first phase)."""
    trainer.task.phases[0].after.append(lambda: hook(trainer))


class ScheduledGAN(GANTask):
    """The GAN task with a StepLR on G's learning rate, stepped after every G step and saved with the task."""

    def __init__(self, config, dataset, device):
        super().__init__(config, dataset, device)
        self.sched_g = torch.optim.lr_scheduler.StepLR(self.optimizers["G"], step_size=1, gamma=0.5)
        self.phases[-1].after.append(self.sched_g.step)

    def state_dict(self):
        return {**super().state_dict(), "sched_g": self.sched_g.state_dict()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.sched_g.load_state_dict(state["sched_g"])


SCHEDULED_GAN = f"{__name__}:ScheduledGAN"  # task.name of a run with that task, by import path
