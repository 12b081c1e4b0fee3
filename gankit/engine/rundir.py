"""Finished runs: read a run directory and sample from its generator.

A run directory holds everything needed to understand and repeat the run:
``config.yaml`` (resolved), ``run.json`` (data shape and classes), ``metrics.jsonl``,
``samples/*.png`` (fixed-latent grids), ``loss_curve.png``, ``checkpoints/step-*/``, ``summary.json``.
Training into one is the app floor's job (``gankit.app.training``); reading one is everyone's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit import config as cfgmod
from gankit.config import Config
from gankit.engine import callbacks as cb
from gankit.engine.checkpoint import check_format_version, list_checkpoints, load_checkpoint, load_network
from gankit.errors import CheckpointError, GankitError, first_line
from gankit.tasks import TASKS
from gankit.utils import check_memory, eval_mode, resolve_device

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer

RUN_FORMAT_VERSION = 1


class Run:
    """A trained run: its directory, config and generator, ready to sample from.

    ``trainer`` is the Trainer that just trained it in this process (None when loaded from disk).
    """

    def __init__(self, run_dir: str | Path, trainer: Trainer | None = None, checkpoint: str | Path | None = None,
                 device: str = "cpu"):
        self.dir = Path(run_dir)
        self.trainer = trainer
        self.checkpoint: Path | None = None  # where the generator's weights came from (None: in memory)
        if trainer is not None:
            self.config, self.generator = trainer.config, trainer.sampling_networks()["G"]
            self.shape, self.num_classes = trainer.shape, trainer.task.num_classes
            self.class_names = trainer.dataset.class_names if self.num_classes else []
            self.device = trainer.device
            self.draws_from_latents = trainer.task.draws_from_latents
            return
        self.config, meta = read_run_dir(self.dir)
        self.shape = tuple(meta["shape"])
        self.num_classes = int(meta["num_classes"])
        self.class_names = list(meta.get("class_names", []))
        self.device = resolve_device(device)
        task = TASKS.get(self.config.task.name)
        self.draws_from_latents = task.draws_from_latents  # False: G restores images (gankit apply), no z
        ckpt = self.checkpoint = resolve_checkpoint(self.dir, checkpoint)
        weights, _ = load_checkpoint(ckpt, networks_only=True)
        self.generator = task.build_networks(self.config, self.shape, self.num_classes)["G"]
        name = "G_ema" if "G_ema" in weights else "G"
        load_network(self.generator, weights[name], f"{ckpt} ({name})")
        self.generator.to(self.device)

    @classmethod
    def load(cls, run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Run:
        return cls(run_dir, checkpoint=checkpoint, device=device)

    def metrics(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl: losses every log_every steps, evaluations, guard events."""
        return cb.read_metrics(self.dir / "metrics.jsonl")

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, y: int | torch.Tensor | None = None, batch_size: int = 500
               ) -> torch.Tensor:
        """(n, C, H, W) images in [-1, 1], the same for the same seed."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        self.check_fits(n)
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.config.model.z_dim, generator=gen)
        return self.generate(z, self._labels(n, y, gen), batch_size)

    def check_fits(self, n: int) -> None:
        """Refuse, before any work, a number of images whose latents and outputs would not fit in memory."""
        per_image = 4 * (self.config.model.z_dim + 2 * math.prod(self.shape))  # z, the float image, its copy
        check_memory(n * per_image, f"{n} samples of {'x'.join(map(str, self.shape))}",
                     "ask for fewer (-n), or write them in several runs with different --seed")

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 500) -> torch.Tensor:
        """G(z, y) in eval mode, in batches, as (N, C, H, W) float32 on the CPU; refuses non-finite images
        (NaN weights would otherwise give black pictures and an exit code 0)."""
        if not self.draws_from_latents:
            raise GankitError(f"{self.dir} is a run of task {self.config.task.name}, whose generator restores "
                              f"images instead of drawing them from latents; use gankit apply")
        out = []
        with eval_mode(self.generator):
            for i in range(0, len(z), batch_size):
                yb = None if y is None else y[i : i + batch_size].to(self.device)
                out.append(self.generator(z[i : i + batch_size].to(self.device), yb).float().cpu())
        images = torch.cat(out)
        if not torch.isfinite(images).all():
            where = self.checkpoint or f"the generator of {self.dir}"
            raise GankitError(f"{where} produces non-finite images (NaN or Inf): its weights are damaged or the "
                              f"run diverged; try an earlier --checkpoint")
        return images

    def _labels(self, n: int, y: int | torch.Tensor | None, gen: torch.Generator) -> torch.Tensor | None:
        if not self.num_classes:
            if y is not None:
                raise GankitError("this run is not class-conditional; --class does not apply")
            return None
        if y is None:
            return torch.randint(0, self.num_classes, (n,), generator=gen)
        labels = torch.full((n,), int(y)) if isinstance(y, int) else y.long()
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise GankitError(f"class must be in 0..{self.num_classes - 1}, got {int(labels.max())}")
        return labels


def read_run_dir(run_dir: Path) -> tuple[Config, dict[str, Any]]:
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    cfg_file, meta_file = run_dir / "config.yaml", run_dir / "run.json"
    if not cfg_file.is_file() or not meta_file.is_file():
        raise CheckpointError(f"{run_dir} is not a gankit run directory (needs config.yaml and run.json)")
    return cfgmod.load(cfg_file), read_run_meta(meta_file, run_dir)


def read_run_meta(meta_file: Path, run_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_file} is unreadable: {first_line(exc)}") from None
    check_format_version(meta, RUN_FORMAT_VERSION, f"{meta_file} (is {run_dir} a gankit run directory?)", str(run_dir))
    shape = meta.get("shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)
            and isinstance(meta.get("num_classes", 0), int)):
        raise CheckpointError(f"{meta_file} is damaged: it needs 'shape' as [channels, height, width] and an "
                              f"integer 'num_classes'")
    return meta


def resolve_checkpoint(run_dir: Path, spec: str | Path | None = None) -> Path:
    """The checkpoint ``--checkpoint`` names: None or ``last`` (the newest), ``best`` (the lowest FID, from
    best.json), ``step-00002000`` or ``2000`` (that step of this run), or a checkpoint directory's path."""
    if spec is None or str(spec) == "last":
        return latest_checkpoint(run_dir)
    text = str(spec)
    if text == "best":
        try:
            name = json.loads((run_dir / "best.json").read_text(encoding="utf-8"))["checkpoint"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise CheckpointError(f"{run_dir} has no best checkpoint (best.json is written when the run evaluates "
                                  f"FID during training: eval.every)") from None
        text = str(name)
    if text.isdigit() or text.startswith("step-"):
        ckpt = Path(run_dir) / "checkpoints" / (f"step-{int(text):08d}" if text.isdigit() else text)
        if not ckpt.is_dir():
            kept = ", ".join(p.name for p in list_checkpoints(run_dir)) or "none"
            raise CheckpointError(f"{run_dir} has no checkpoint {ckpt.name} (kept: {kept})")
        return ckpt
    return Path(spec)


def latest_checkpoint(run_dir: Path) -> Path:
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise CheckpointError(f"{run_dir} holds no complete checkpoint yet")
    return ckpts[-1]


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Run:
    return Run.load(run_dir, checkpoint, device)
