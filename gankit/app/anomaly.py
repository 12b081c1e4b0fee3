"""Anomaly detection with a trained GAN: f-AnoGAN (Schlegl et al. 2019), ``gankit anomaly fit/score``.

``fit(RUN)`` trains the encoder of the task ``fanogan`` (``gankit.tasks.fanogan``) into RUN/anomaly/,
a run directory of its own that gankit owns inside the GAN's: config, checkpoints, logs, exact resume;
running it again continues an interrupted fit, or extends a finished one given more steps. G and D
are copied from the GAN run's newest checkpoint into the encoder run's checkpoints, so scoring needs
only RUN/anomaly/. ``score(RUN, images)`` gives one float per image, higher = more anomalous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from gankit import config as cfgmod
from gankit.app.training import is_gankit_run, run_config
from gankit.engine.checkpoint import load_checkpoint, load_network
from gankit.engine.rundir import Run, latest_checkpoint, read_run_dir
from gankit.engine.trainer import Trainer
from gankit.errors import CheckpointError, GankitError
from gankit.tasks.fanogan import FAnoGANTask, anomaly_scores, check_gan_config

SUBDIR = "anomaly"  # RUN/anomaly: the encoder run
DEFAULT_STEPS = 2000


def encoder_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / SUBDIR


def fit(run_dir: str | Path, *, steps: int | None = None, max_time: str | float | None = None,
        batch_size: int | None = None, lr: float | None = None, kappa: float | None = None,
        seed: int | None = None, quiet: bool = False, progress: bool | None = None) -> Run:
    """Train (or continue training) f-AnoGAN's encoder for the GAN run ``run_dir``; returns the encoder run."""
    run_dir = Path(run_dir)
    gan_cfg, _meta = read_run_dir(run_dir)
    if gan_cfg.task.name != "gan":
        raise GankitError(f"{run_dir} is a run of task {gan_cfg.task.name}; anomaly fit needs a GAN run (task gan)")
    check_gan_config(gan_cfg)
    ckpt = latest_checkpoint(run_dir)
    out = encoder_dir(run_dir)
    resuming = is_gankit_run(out)
    if resuming:  # the same fit again: its saved config, with only the limits changed
        limits = {k: v for k, v in (("steps", steps), ("max_time", max_time)) if v is not None}
        cfg = cfgmod.build_config(cfgmod.load(out / "config.yaml").to_dict(), {"train": limits})
        changed = {"batch_size": batch_size, "lr": lr, "kappa": kappa, "seed": seed}
        given = [k for k, v in changed.items() if v is not None]
        if given:
            raise GankitError(f"{out} already holds an encoder fit; --{given[0].replace('_', '-')} cannot change "
                              f"when it continues (only --steps, --max-time); move {out} aside to fit anew")
    else:
        task = {"name": "fanogan", "gan_run": str(run_dir), "gan_checkpoint": ckpt.name,
                **({"kappa": kappa} if kappa is not None else {})}
        train: dict[str, Any] = {"steps": steps or (None if max_time else DEFAULT_STEPS), "epochs": None,
                                 "max_time": max_time}
        if batch_size is not None:
            train["batch_size"] = batch_size
        if seed is not None:
            train["seed"] = seed
        layer = {"task": task, "out": str(out), "name": None, "train": train, "ema": {"enabled": False},
                 "eval": {"every": None}, "guard": {"collapse_ratio": 0.0},
                 "log": {"tensorboard": False, "report": False},
                 **({"optim": {"lr_g": lr}} if lr is not None else {})}
        base = gan_cfg.to_dict()
        base["task"] = {}  # the GAN's task keys are not the encoder's
        cfg = cfgmod.build_config(base, layer)
    gan_ckpt = run_dir / "checkpoints" / cfg.task.model_dump().get("gan_checkpoint", ckpt.name)
    return run_config(cfg, resume=resuming, quiet=quiet, progress=progress, init=lambda t: _load_gan(t, gan_ckpt))


def _load_gan(trainer: Trainer, ckpt: Path) -> None:
    """The GAN's G (its EMA copy when there is one) and D, into the encoder task's frozen networks."""
    if not ckpt.is_dir():
        raise CheckpointError(f"{ckpt}, the GAN checkpoint this encoder was fitted on, is gone; move "
                              f"{ckpt.parent.parent / SUBDIR} aside to fit anew")
    weights, _ = load_checkpoint(ckpt, networks_only=True)
    g = "G_ema" if "G_ema" in weights else "G"
    load_network(trainer.task.networks["G"], weights[g], f"{ckpt} ({g})")
    load_network(trainer.task.networks["D"], weights["D"], f"{ckpt} (D)")


class Scorer:
    """A fitted encoder run, loaded for scoring: ``scorer(images)`` -> (N,) float scores."""

    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        read_run_dir(Path(run_dir))  # a missing or foreign folder: its own one-line error
        out = encoder_dir(run_dir)
        if not is_gankit_run(out):
            raise GankitError(f"{run_dir} has no anomaly model yet; run `gankit anomaly fit {run_dir}` first")
        cfg, meta = read_run_dir(out)
        try:
            ckpt = latest_checkpoint(out)
        except CheckpointError:
            raise GankitError(f"the anomaly fit in {out} has no checkpoint yet; run `gankit anomaly fit {run_dir}` "
                              f"to continue it") from None
        self.shape = tuple(meta["shape"])
        self.kappa = float(cfg.task.model_dump().get("kappa", 1.0))
        self.device = torch.device(device)
        weights, _ = load_checkpoint(ckpt, networks_only=True)
        self.nets = FAnoGANTask.build_networks(cfg, self.shape, 0)
        for name, net in self.nets.items():
            load_network(net, weights[name], f"{ckpt} ({name})")
            net.to(self.device).eval()
        self.checkpoint = ckpt

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """images: uint8 (N, C, H, W) -> (N,) float64 scores."""
        if tuple(images.shape[1:]) != self.shape:
            raise GankitError(f"images of shape {tuple(images.shape[1:])} do not fit this model "
                              f"(trained on {self.shape})")
        x = images.float().div(127.5).sub(1.0)
        n = self.nets
        return anomaly_scores(n["G"], n["D"], n["E"], x, self.kappa).double().numpy()


def auroc(scores: np.ndarray, labels: np.ndarray, normal_classes: list[int]) -> float:
    """Area under the ROC curve of the scores for telling anomalies (labels outside normal_classes) apart."""
    anomalous = ~np.isin(labels, normal_classes)
    if anomalous.all() or not anomalous.any():
        raise GankitError(f"AUROC needs both normal (classes {normal_classes}) and anomalous images in the input")
    return float(roc_auc_score(anomalous, scores))
