"""Tasks by name: what a run trains (see ``gankit.tasks.base``). ``gan`` is the z -> image GAN of every recipe.

A new task is one file with a ``Task`` subclass plus its registration (``TASKS.add("name", MyTask)``),
or, without touching gankit, an import path: ``--set task.name=mypkg.tasks:MyTask``.
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.data import ImageDataset
from gankit.registry import Registry
from gankit.tasks.base import Batch, Phase, StepInfo, Task, build_optimizer
from gankit.tasks.fanogan import FAnoGANTask
from gankit.tasks.gan import GANTask
from gankit.tasks.pix2pix import Pix2PixTask
from gankit.tasks.ssgan import SSGANTask

TASKS: Registry[type[Task]] = Registry("task", plugins=True, kind_of=Task)
TASKS.add("gan", GANTask, "z -> image GANs: unconditional, class-conditional, ACGAN, InfoGAN")
TASKS.add("ssgan", SSGANTask, "semi-supervised K+1-class discriminator with feature matching (gankit classify)")
TASKS.add("fanogan", FAnoGANTask, "f-AnoGAN's encoder x -> z for a trained GAN's frozen G and D (anomaly detection; "
          "gankit anomaly fit)")
TASKS.add("pix2pix", Pix2PixTask, "image -> image: U-Net G, PatchGAN D, L1 + adversarial (super-resolution, "
          "inpainting, denoising, colorization)")

__all__ = ["TASKS", "Batch", "Phase", "StepInfo", "Task", "build_optimizer", "build_task"]


def build_task(config: Config, dataset: ImageDataset, device: torch.device) -> Task:
    return TASKS.get(config.task.name)(config, dataset, device)
