"""Runs: resolve a config, train it into a run directory, and load a finished run to sample from.

A run directory holds everything needed to understand and repeat the run:
``config.yaml`` (resolved), ``run.json`` (data shape and classes), ``metrics.jsonl``,
``samples/*.png`` (fixed-latent grids), ``loss_curve.png``, ``checkpoints/step-*/``, ``summary.json``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gankit import config as cfgmod
from gankit.config import Config
from gankit.errors import CheckpointError, ConfigError, GankitError, Interrupted, TrainingDiverged, \
    first_line
from gankit.recipes import DEFAULT_RECIPE, RECIPES
from gankit.train import callbacks as cb
from gankit.train.checkpoint import check_format_version, clean_partial, latest_intact_checkpoint, list_checkpoints, \
    load_checkpoint, load_network
from gankit.train.engine import Trainer, check_run_dir_free
from gankit.utils import atomic_write_text, remove_temporaries, resolve_device

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
    if not isinstance(name, str):
        raise ConfigError(f"recipe must be a recipe name, got {name!r}; see `gankit recipes`")
    # A recipe's own stopping rule yields to any stopping rule the user gives; sections that are not
    # mappings are left for validation to report.
    recipe_layer = dict(RECIPES.get(name).overrides)
    user_train = {k: v for layer in (file_layer, override_layer) if isinstance(layer.get("train"), dict)
                  for k, v in layer["train"].items()}
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
    run_dir = default_run_dir(cfg)
    if is_interrupted_run(run_dir):  # the same command again continues an interrupted run
        saved = _saved_config(run_dir)
        changed = config_changes(saved, cfg)
        if changed:
            raise GankitError(f"{run_dir} holds an interrupted run with another config ({changed}); continue it "
                              f"with --resume {run_dir} or choose another --out")
        trainer = Trainer(cfg)
        return _run_training(trainer, run_dir, quiet=quiet, progress=progress, resume=True)
    trainer = Trainer(cfg)  # loads data and builds models before anything is written
    check_run_dir_free(run_dir)
    return _run_training(trainer, run_dir, quiet=quiet, progress=progress)


# ---------------------------------------------------------------------------------------------
# resuming: `gankit train --resume RUN_DIR`, and the same command again after a crash

# Keys that may change when a run is continued; anything else would make it a different run.
RESUMABLE_KEYS = ("train.steps", "train.epochs", "train.max_time", "train.device", "train.threads", "log.progress",
                  "out", "name")


def resume(run_dir: str | Path, *, quiet: bool = False, progress: bool | None = None, **overrides: Any) -> "Run":
    """Continue a run from its newest intact checkpoint, exactly where it stopped.

    Overrides may only extend or limit the run (``steps``, ``epochs``, ``max_time``) or move it
    (``device``, ``train.threads``); the rest of the saved config is kept.
    """
    run_dir = Path(run_dir)
    saved = _saved_config(run_dir)
    flat = _flatten_shortcuts(overrides)
    for key, value in flat.items():
        if key not in RESUMABLE_KEYS:
            raise GankitError(f"--resume continues {run_dir} with its saved config; {key} cannot change there "
                              f"(only {', '.join(k for k in RESUMABLE_KEYS if k not in ('out', 'name'))})")
    if "out" in flat and Path(str(flat["out"])).resolve() != run_dir.resolve():
        raise GankitError(f"--out {flat['out']} differs from the run being resumed ({run_dir}); leave --out out")
    cfg = cfgmod.build_config(saved.to_dict(), cfgmod.dotted_to_nested(flat), {"out": str(run_dir)})
    trainer = Trainer(cfg)
    return _run_training(trainer, run_dir, quiet=quiet, progress=progress, resume=True)


def _saved_config(run_dir: Path) -> Config:
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    cfg_file = run_dir / "config.yaml"
    if not cfg_file.is_file():
        raise CheckpointError(f"{run_dir} is not a gankit run directory (no config.yaml)")
    meta_file = run_dir / "run.json"
    if meta_file.is_file():
        _read_run_meta(meta_file, run_dir)
    return cfgmod.load(cfg_file)


def is_interrupted_run(run_dir: Path) -> bool:
    """A run directory whose training started and did not finish (killed, crashed or interrupted)."""
    if not (run_dir / "config.yaml").is_file():
        return False
    summary = run_dir / "summary.json"
    if not summary.is_file():
        return True
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("complete") is not True
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def _mark_complete(run_dir: Path) -> None:
    """Flag summary.json complete once every end-of-run file (checkpoint, grids, report) is on disk.

    The summary itself is written earlier, for the report to show; a kill between the two leaves
    the run incomplete, so the same command again resumes it and redoes the end-of-run files.
    """
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    atomic_write_text(run_dir / "summary.json", json.dumps({**summary, "complete": True}, indent=2))


def config_changes(saved: Config, new: Config) -> str:
    """'' when two configs describe the same run (up to RESUMABLE_KEYS), else the first difference."""
    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            key = f"{prefix}{k}"
            out.update(flat(v, key + ".") if isinstance(v, dict) else {key: v})
        return out

    a, b = flat(saved.to_dict()), flat(new.to_dict())
    for key in sorted(set(a) | set(b)):
        if key not in RESUMABLE_KEYS and a.get(key) != b.get(key):
            return f"{key}: {a.get(key)!r} then, {b.get(key)!r} now"
    return ""


def _load_networks(trainer: Trainer, run_dir: Path) -> tuple[Path | None, dict[str, Any]]:
    """Load the newest intact checkpoint's networks; (None, {}) when there is none (a fresh start).

    Runs before anything is written, so a checkpoint that does not fit leaves the run untouched; the
    rest of the state (optimizers, RNG, callbacks) is loaded once the callbacks exist.
    """
    remove_temporaries(run_dir)  # config, grids or summary cut by a kill mid-write
    clean_partial(run_dir)
    ckpt, skipped = latest_intact_checkpoint(run_dir)
    if ckpt is None and skipped:  # starting over would overwrite them and the run's log
        raise CheckpointError(f"none of the {len(skipped)} checkpoints in {run_dir / 'checkpoints'} is intact "
                              f"({skipped[0]}); move them aside to train this run again from the start")
    for line in skipped:
        print(f"gankit: warning: skipping {line}", file=sys.stderr)
    if ckpt is None:
        return None, {}
    weights, state = load_checkpoint(ckpt)
    for name, net in trainer.networks().items():
        if name not in weights:
            raise CheckpointError(f"{ckpt} holds no weights for {name}; was it written with another config?")
        load_network(net, weights[name], f"{ckpt} ({name})")
    return ckpt, state


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint we resume from: those steps are about to be redone."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                kept.append(line if line.endswith("\n") else line + "\n")
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            continue  # a line cut short by a crash
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))


def _run_training(trainer: Trainer, run_dir: Path, quiet: bool, progress: bool | None,
                  resume: bool = False) -> "Run":
    cfg = trainer.config
    ds = trainer.dataset
    created = time.strftime("%Y-%m-%dT%H:%M:%S")
    if resume and (run_dir / "run.json").is_file():
        old = _read_run_meta(run_dir / "run.json", run_dir)
        if list(old.get("shape", [])) != list(trainer.shape) or old.get("dataset_size") != len(ds):
            raise CheckpointError(f"the data of {run_dir} changed since the run started ({old.get('dataset_size')} "
                                  f"images of {old.get('shape')} then, {len(ds)} of {list(trainer.shape)} now)")
        created = old.get("created", created)
    ckpt, state = _load_networks(trainer, run_dir) if resume else (None, {})
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create run directory {run_dir}: {exc.strerror or exc}") from None
    cfgmod.save(cfg, run_dir / "config.yaml")
    meta = {"format_version": RUN_FORMAT_VERSION, "shape": list(trainer.shape), "num_classes": trainer.num_classes,
            "class_names": ds.class_names if trainer.num_classes else [], "dataset": ds.name,
            "dataset_size": len(ds), "created": created}
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
    if resume:
        if ckpt is not None:
            trainer.load_state_dict(state)
        _truncate_metrics(run_dir / "metrics.jsonl", trainer.step)
        for c in trainer.callbacks:
            if isinstance(c, cb.Checkpointer):
                c.last_step = trainer.step  # that state is on disk already
        if not quiet:
            print(f"gankit: resuming {run_dir} from " + (f"step {trainer.step} ({ckpt.name})" if ckpt else
                                                        "the start (no complete checkpoint yet)"))
    if not quiet:
        print(f"gankit: training {cfg.recipe} on {ds.name} ({len(ds)} images, {'x'.join(map(str, trainer.shape))}) "
              f"on {trainer.device}; run directory {run_dir}")
    try:
        trainer.fit()
        _mark_complete(run_dir)
    except KeyboardInterrupt as exc:
        raise Interrupted(getattr(exc, "signum", 2), f"interrupted at step {trainer.step}; continue with: "
                                                     f"gankit train --resume {run_dir}") from None
    except TrainingDiverged as exc:
        _mark_complete(run_dir)  # running it again would diverge again: it takes --resume or new settings
        ckpts = list_checkpoints(run_dir)
        kept = f"; last good checkpoint: {ckpts[-1]}" if ckpts else ""
        raise TrainingDiverged(f"{exc}{kept}; start a new run (another --out) with lower learning rates (--lr) "
                               f"or a more stable recipe") from None
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

    def metrics(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl: losses every log_every steps, evaluations, guard events."""
        return cb.read_metrics(self.dir / "metrics.jsonl")

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
    return cfgmod.load(cfg_file), _read_run_meta(meta_file, run_dir)


def _read_run_meta(meta_file: Path, run_dir: Path) -> dict[str, Any]:
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


def latest_checkpoint(run_dir: Path) -> Path:
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise CheckpointError(f"{run_dir} holds no complete checkpoint yet")
    return ckpts[-1]


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Run:
    return Run.load(run_dir, checkpoint, device)
