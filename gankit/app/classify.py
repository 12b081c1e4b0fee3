"""Classification with a semi-supervised GAN's discriminator (task ``ssgan``): ``gankit classify``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.engine.checkpoint import load_checkpoint, load_network
from gankit.engine.rundir import read_run_dir, resolve_checkpoint
from gankit.errors import GankitError
from gankit.tasks.ssgan import ClassifierD, predict


class Classifier:
    """A run's K-class discriminator, loaded: ``classifier(images uint8 (N, C, H, W))`` -> (N,) classes."""

    def __init__(self, run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu"):
        run_dir = Path(run_dir)
        cfg, meta = read_run_dir(run_dir)
        if cfg.task.name != "ssgan":
            raise GankitError(f"{run_dir} has no classifier head (a run of task {cfg.task.name}); gankit classify "
                              f"needs a run of task ssgan (--recipe ssgan)")
        self.checkpoint = resolve_checkpoint(run_dir, checkpoint)
        weights, _ = load_checkpoint(self.checkpoint, networks_only=True)
        self.shape = tuple(meta["shape"])
        self.num_classes = int(weights["D"]["classes.weight"].shape[0])
        self.D = ClassifierD(cfg, self.shape, self.num_classes)
        load_network(self.D, weights["D"], f"{self.checkpoint} (D)")
        self.D.to(torch.device(device)).eval()

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        if tuple(images.shape[1:]) != self.shape:
            raise GankitError(f"images of shape {tuple(images.shape[1:])} do not fit this classifier "
                              f"(trained on {self.shape})")
        return predict(self.D, images.float().div(127.5).sub(1.0)).numpy()
