"""Runs: resolve a config, train it into a run directory, and load a finished run to sample from.

A run directory holds everything needed to understand and repeat the run:
``config.yaml`` (resolved), ``run.json`` (data shape and classes), ``metrics.jsonl``,
``samples/*.png`` (fixed-latent grids), ``loss_curve.png``, ``checkpoints/step-*/``, ``summary.json``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import torch

from gankit import config as cfgmod
from gankit.config import Config
from gankit.errors import CheckpointError, GankitError
from gankit.recipes import DEFAULT_RECIPE, RECIPES
from gankit.train import callbacks as cb
from gankit.train.checkpoint import list_checkpoints, load_checkpoint, load_network
from gankit.train.engine import Trainer, check_run_dir_free
from gankit.utils import atomic_write_text, resolve_device

RUN_FORMAT_VERSION = 1

# Short names used by the library call and the CLI flags, mapped to config keys.
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "data": ("data.name",),
    "data_root": ("data.root",),
    "resolution": ("data.resolution",),
    "epochs": ("train.epochs",),
    "steps": ("train.steps",),
    "max_time": ("train.max_time",),
    "batch_size": ("train.batch_size",),
    "lr": ("optim.lr_g", "optim.lr_d"),
    "seed": ("train.seed",),
    "device": ("train.device",),
    "out": ("out",),
    "name": ("name",),
    "tensorboard": ("log.tensorboard",),
    "report": ("log.report",),
}


def resolve_config(recipe: str | None = None, config: str | Path | dict[str, Any] | None = None,
                   overrides: dict[str, Any] | None = None) -> Config:
    """defaults < recipe < config (file or nested dict) < overrides (dotted keys or SHORTCUTS names)."""
    file_layer = config if isinstance(config, dict) else cfgmod.load_file(config) if config else {}
    override_layer = cfgmod.dotted_to_nested(_flatten_shortcuts(overrides or {}))
    name = recipe or override_layer.get("recipe") or file_layer.get("recipe") or DEFAULT_RECIPE
    # A recipe's own stopping rule yields to any stopping rule the user gives.
    recipe_layer = dict(RECIPES.get(name).overrides)
    user_train = {**(file_layer.get("train") or {}), **override_layer.get("train", {})}
    if any(user_train.get(k) is not None for k in ("steps", "epochs", "max_time")):
        recipe_layer["train"] = {k: v for k, v in recipe_layer.get("train", {}).items() if k != "steps"}
    return cfgmod.build_config(recipe_layer, file_layer, override_layer, {"recipe": name})


def _flatten_shortcuts(overrides: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is not None:
            for target in SHORTCUTS.get(key, (key,)):
                flat[target] = value
    return flat


def default_run_dir(config: Config) -> Path:
    if config.out:
        return Path(config.out)
    data = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(config.data.name).stem or config.data.name).strip("-")
    name = config.name or f"{config.recipe or 'custom'}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path("runs") / name


def train(config: Config | dict[str, Any] | str | Path | None = None, *, recipe: str | None = None,
          quiet: bool = False, progress: bool | None = None, **overrides: Any) -> "Run":
    """Train a GAN and return the finished run.

    ``config`` is a Config, a nested dict, or a YAML/JSON file; keyword overrides take the CLI's
    short names (``data="mnist"``, ``steps=500``, ``lr=1e-4``) or dotted keys via a dict.
    """
    if isinstance(config, Config):
        cfg = cfgmod.build_config(config.to_dict(), cfgmod.dotted_to_nested(_flatten_shortcuts(overrides)))
    else:
        cfg = resolve_config(recipe, config, overrides)
    trainer = Trainer(cfg)  # loads data and builds models before anything is written
    run_dir = default_run_dir(cfg)
    check_run_dir_free(run_dir)
    return _run_training(trainer, run_dir, quiet=quiet, progress=progress)


def _run_training(trainer: Trainer, run_dir: Path, quiet: bool, progress: bool | None) -> "Run":
    cfg = trainer.config
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create run directory {run_dir}: {exc.strerror or exc}") from None
    cfgmod.save(cfg, run_dir / "config.yaml")
    ds = trainer.dataset
    meta = {"format_version": RUN_FORMAT_VERSION, "shape": list(trainer.shape), "num_classes": trainer.num_classes,
            "class_names": ds.class_names if trainer.num_classes else [], "dataset": ds.name,
            "dataset_size": len(ds), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_text(run_dir / "run.json", json.dumps(meta, indent=2))

    lc = cfg.log
    metrics = cb.MetricsLog(run_dir, lc.log_every)
    show = lc.progress if progress is None else progress
    trainer.callbacks = [
        metrics,
        cb.SampleGrids(run_dir, lc.sample_every),
        cb.Checkpointer(run_dir, lc.checkpoint_every, lc.keep_checkpoints),
        cb.LossCurves(run_dir),
        cb.Progress(metrics, enabled=show and not quiet),
        cb.Summary(run_dir, quiet=quiet),
        *trainer.callbacks,
    ]
    if cfg.eval.every:  # evaluation every N steps (off by default): metrics.jsonl, TensorBoard, best checkpoint
        from gankit.metrics.hook import EvalCallback

        ckpt = next(c for c in trainer.callbacks if isinstance(c, cb.Checkpointer))
        trainer.callbacks.append(EvalCallback(run_dir, metrics, ckpt, quiet=quiet))
    if lc.tensorboard:  # after SampleGrids: it logs the grid that callback just saved
        from gankit.train.tensorboard import TensorBoard

        trainer.callbacks.append(TensorBoard(run_dir, metrics, lc.sample_every))
    if lc.report:  # last, so the page shows every number the other callbacks logged at the end
        from gankit.report.callback import ReportWriter

        trainer.callbacks.append(ReportWriter(run_dir, quiet=quiet))
    if not quiet:
        print(f"gankit: training {cfg.recipe} on {ds.name} ({len(ds)} images, {'x'.join(map(str, trainer.shape))}) "
              f"on {trainer.device}; run directory {run_dir}")
    trainer.fit()
    return Run(run_dir, trainer=trainer)


class Run:
    """A trained run: its directory, config and generator, ready to sample from."""

    def __init__(self, run_dir: str | Path, trainer: Trainer | None = None, checkpoint: str | Path | None = None,
                 device: str = "cpu"):
        self.dir = Path(run_dir)
        if trainer is not None:
            self.config, self.generator = trainer.config, trainer.sampling_generator
            self.shape, self.num_classes = trainer.shape, trainer.num_classes
            self.class_names = trainer.dataset.class_names if self.num_classes else []
            self.device = trainer.device
            return
        self.config, meta = read_run_dir(self.dir)
        self.shape = tuple(meta["shape"])
        self.num_classes = int(meta["num_classes"])
        self.class_names = list(meta.get("class_names", []))
        self.device = resolve_device(device)
        ckpt = Path(checkpoint) if checkpoint else latest_checkpoint(self.dir)
        weights, _ = load_checkpoint(ckpt, networks_only=True)
        from gankit.models import build_generator

        self.generator = build_generator(self.config.model, self.shape, self.num_classes)
        name = "G_ema" if "G_ema" in weights else "G"
        load_network(self.generator, weights[name], f"{ckpt} ({name})")
        self.generator.to(self.device)

    @classmethod
    def load(cls, run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> "Run":
        return cls(run_dir, checkpoint=checkpoint, device=device)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, y: int | torch.Tensor | None = None, batch_size: int = 500
               ) -> torch.Tensor:
        """(n, C, H, W) images in [-1, 1], the same for the same seed."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.config.model.z_dim, generator=gen)
        labels = self._labels(n, y, gen)
        G = self.generator
        was_training = G.training
        G.eval()
        out = []
        for i in range(0, n, batch_size):
            zb = z[i : i + batch_size].to(self.device)
            yb = None if labels is None else labels[i : i + batch_size].to(self.device)
            out.append(G(zb, yb).float().cpu())
        G.train(was_training)
        return torch.cat(out)

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
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_file} is unreadable: {exc}") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int) or version > RUN_FORMAT_VERSION:
        raise CheckpointError(f"{run_dir} was written by a newer gankit (run format {version} > "
                              f"{RUN_FORMAT_VERSION}); upgrade gankit")
    return cfgmod.load(cfg_file), meta


def latest_checkpoint(run_dir: Path) -> Path:
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise CheckpointError(f"{run_dir} holds no complete checkpoint yet")
    return ckpts[-1]


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Run:
    return Run.load(run_dir, checkpoint, device)
