"""Training runs, start to finish: resolve a config, own a run directory, train into it, resume it.

This is the top floor: it wires the engine's callbacks to the features (evaluation, TensorBoard, the
HTML report) and decides what a run directory may hold. ``run_config`` is the one entry point that
trains a resolved config; ``train`` and ``resume`` (and the CLI) resolve one and call it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gankit import config as cfgmod
from gankit.config import Config
from gankit.data import DATASETS, ImageDataset, SelectedDataset
from gankit.engine import callbacks as cb
from gankit.engine.checkpoint import (
    clean_partial,
    latest_intact_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_network,
)
from gankit.engine.rundir import RUN_FORMAT_VERSION, Run, read_run_meta
from gankit.engine.trainer import Trainer
from gankit.errors import CheckpointError, ConfigError, GankitError, Interrupted, TrainingDiverged
from gankit.metrics.evaluate import parse_metrics
from gankit.metrics.hook import EvalCallback
from gankit.recipes import DEFAULT_RECIPE, RECIPES
from gankit.report.callback import ReportWriter
from gankit.report.tensorboard import TensorBoard
from gankit.utils import atomic_write_text, remove_temporaries, resolve_threads

# Short names used by the library call and the CLI flags, mapped to config keys.
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "data": ("data.name",),
    "data_root": ("data.root",),
    "classes": ("data.classes",),
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
    return check_config(cfgmod.build_config(recipe_layer, file_layer, override_layer, {"recipe": name}))


def check_config(cfg: Config) -> Config:
    """What the typed config cannot check by itself, because it needs a floor above it: metric names."""
    try:
        cfg.eval.metrics = ",".join(parse_metrics(cfg.eval.metrics))
    except ConfigError as exc:
        raise ConfigError(f"config: eval.metrics: {exc}") from None
    return cfg


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
          quiet: bool = False, progress: bool | None = None, **overrides: Any) -> Run:
    """Train a GAN and return the finished run.

    ``config`` is a Config, a nested dict, or a YAML/JSON file; keyword overrides take the CLI's
    short names (``data="mnist"``, ``steps=500``, ``lr=1e-4``) or dotted keys via a dict.
    The same call again continues a run that was interrupted (killed, crashed) in the same directory.
    """
    if isinstance(config, Config):
        cfg = check_config(cfgmod.build_config(config.to_dict(), cfgmod.dotted_to_nested(_flatten_shortcuts(overrides))))
    else:
        cfg = resolve_config(recipe, config, overrides)
    return run_config(cfg, resume=is_interrupted_run(default_run_dir(cfg)), quiet=quiet, progress=progress)


def run_config(cfg: Config, *, resume: bool = False, callbacks: Sequence[cb.Callback] = (),
               dataset: ImageDataset | None = None, quiet: bool = False, progress: bool | None = None,
               init: Callable[[Trainer], None] | None = None) -> Run:
    """Train a resolved config into its run directory (``cfg.out``, or runs/NAME) and return the run.

    ``resume``: continue the directory's run from its newest intact checkpoint, exactly (the config
    must describe the same run, up to RESUMABLE_KEYS); otherwise the directory must be new or empty.
    ``callbacks`` run after the run's own (logs, grids, checkpoints, progress, summary); ``dataset``
    replaces loading ``cfg.data``; ``init(trainer)`` runs once the task's networks exist. Data and networks
    are built before anything is written, and the process holds the directory's lock from then until it
    returns: one writer per run directory.
    """
    run_dir = default_run_dir(cfg)
    cfg.train.threads = resolve_threads(cfg.train.threads)  # recorded in config.yaml: the run says what it used
    check_out_apart_from_data(run_dir, cfg)
    if resume:
        changed = config_changes(saved_config(run_dir), cfg)
        if changed:
            raise GankitError(f"{run_dir} holds an interrupted run with another config ({changed}); continue it "
                              f"with --resume {run_dir} or choose another --out")
    if not resume:
        check_run_dir_free(run_dir)  # before the data is loaded: a refused --out answers at once
    trainer = Trainer(cfg, dataset)
    if init is not None:  # e.g. frozen networks from another run; a resumed checkpoint's weights load after it
        init(trainer)
    with RunLock(run_dir):
        if not resume:
            check_run_dir_free(run_dir)  # again, under the lock: another process may have started it meanwhile
        return _run_training(trainer, run_dir, quiet=quiet, progress=progress, resume=resume, extra=callbacks)


LOCK_FILE = ".gankit.lock"


class RunLock:
    """An advisory lock on RUN_DIR/.gankit.lock (``fcntl.flock``), held while a process writes the run.

    The kernel releases it when the process dies, so a SIGKILL never leaves a stale lock; a second
    writer gets a one-line error naming the process that holds it. The lock file holds that PID and
    stays with the run (it is gankit's file; removing it would race with the next writer opening it),
    except after a run that wrote nothing else.
    """

    def __init__(self, run_dir: Path):
        self.run_dir, self.fd = Path(run_dir), -1
        self.made_dir = self.made_file = False

    def __enter__(self) -> RunLock:
        try:
            self.made_dir = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.made_file = not (self.run_dir / LOCK_FILE).exists()
            self.fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GankitError(f"cannot create run directory {self.run_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            os.close(self.fd)
            raise GankitError(f"run directory {self.run_dir} is being written by process {holder} (it holds "
                              f"{self.run_dir / LOCK_FILE}); wait for it or choose another --out") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return self

    def __exit__(self, *exc: object) -> None:
        # A run refused before it wrote anything (disk full, bad checkpoint) leaves no trace: the lock
        # file, and the folder when this process made it, go while the lock is still held.
        if self.made_file and [p.name for p in self.run_dir.iterdir()] == [LOCK_FILE]:
            (self.run_dir / LOCK_FILE).unlink()
            if self.made_dir:
                self.run_dir.rmdir()
        os.close(self.fd)  # closing the descriptor releases the lock


def check_run_dir_free(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise GankitError(f"--out {path} is a file, not a directory; choose another --out")
    if path.exists() and any(p.name != LOCK_FILE for p in path.iterdir()):
        raise GankitError(f"run directory {path} already exists and is not empty; choose another --out "
                          f"(or --resume it, if it is a gankit run)")


def check_out_apart_from_data(run_dir: Path, cfg: Config) -> None:
    """Refuse a run directory inside the data folder (its PNGs would become training data) or data inside it."""
    data = Path(cfg.data.name).expanduser()
    if cfg.data.name in DATASETS or not data.exists():
        return
    out, data = run_dir.resolve(), data.resolve()  # symlinks resolved: a link into the data folder counts
    if data.is_dir() and out.is_relative_to(data):
        raise GankitError(f"--out {run_dir} is inside the data folder {cfg.data.name}: the run's images would "
                          f"become training data; choose an --out outside it")
    if data.is_relative_to(out):
        raise GankitError(f"the data {cfg.data.name} lies inside the run directory {run_dir}; choose another --out")


# ---------------------------------------------------------------------------------------------
# resuming: `gankit train --resume RUN_DIR`, and the same command again after a crash

# Keys that may change when a run is continued; anything else would make it a different run.
RESUMABLE_KEYS = ("train.steps", "train.epochs", "train.max_time", "train.device", "train.threads", "log.progress",
                  "out", "name")


def resume(run_dir: str | Path, *, quiet: bool = False, progress: bool | None = None, **overrides: Any) -> Run:
    """Continue a run from its newest intact checkpoint, exactly where it stopped.

    Overrides may only extend or limit the run (``steps``, ``epochs``, ``max_time``) or move it
    (``device``, ``train.threads``); the rest of the saved config is kept.
    """
    run_dir = Path(run_dir)
    saved = saved_config(run_dir)
    flat = _flatten_shortcuts(overrides)
    for key in flat:
        if key not in RESUMABLE_KEYS:
            raise GankitError(f"--resume continues {run_dir} with its saved config; {key} cannot change there "
                              f"(only {', '.join(k for k in RESUMABLE_KEYS if k not in ('out', 'name'))})")
    if "out" in flat and Path(str(flat["out"])).resolve() != run_dir.resolve():
        raise GankitError(f"--out {flat['out']} differs from the run being resumed ({run_dir}); leave --out out")
    cfg = cfgmod.build_config(saved.to_dict(), cfgmod.dotted_to_nested(flat), {"out": str(run_dir)})
    return run_config(cfg, resume=True, quiet=quiet, progress=progress)


def saved_config(run_dir: Path) -> Config:
    """The config of a gankit run directory; anything without gankit's run.json is refused untouched."""
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    cfg_file, meta_file = run_dir / "config.yaml", run_dir / "run.json"
    if not meta_file.is_file() or not cfg_file.is_file():
        raise CheckpointError(f"{run_dir} is not a gankit run directory (needs the run.json and config.yaml "
                              f"gankit train writes); nothing there was changed")
    read_run_meta(meta_file, run_dir)
    return cfgmod.load(cfg_file)


def is_gankit_run(run_dir: Path) -> bool:
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("format_version"), int)


def is_interrupted_run(run_dir: Path) -> bool:
    """A gankit run directory (run.json with a format version) whose training started and did not finish.

    Anything else, such as a folder holding the user's own config.yaml, is never taken for a run.
    """
    if not (run_dir / "config.yaml").is_file() or not is_gankit_run(run_dir):
        return False
    if not (run_dir / "summary.json").is_file():
        return True
    summary = _read_summary(run_dir)
    return summary is not None and summary.get("complete") is not True  # a damaged summary: not ours to redo


def _mark_complete(run_dir: Path, complete: bool = True) -> None:
    """Flag summary.json complete once every end-of-run file (checkpoint, grids, report) is on disk.

    The summary itself is written earlier, for the report to show; a kill between the two leaves
    the run incomplete, so the same command again resumes it and redoes the end-of-run files.
    """
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    atomic_write_text(run_dir / "summary.json", json.dumps({**summary, "complete": complete}, indent=2))


def _is_complete(run_dir: Path) -> bool:
    summary = _read_summary(run_dir)
    return summary is not None and summary.get("complete") is True


def _read_summary(run_dir: Path) -> dict[str, Any] | None:
    """summary.json as a mapping; None when it is missing or damaged."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return summary if isinstance(summary, dict) else None


def _check_work_left(trainer: Trainer, run_dir: Path, state: dict[str, Any]) -> None:
    """Refuse, touching nothing, to 'resume' a finished run to limits it has already reached."""
    step, elapsed = int(state.get("step", 0)), float(state.get("elapsed", 0.0))
    total, max_time = trainer.total_steps, trainer.config.train.max_time
    if (total is not None and step >= total) or (max_time is not None and elapsed >= max_time):
        raise GankitError(f"{run_dir} is complete at step {step} ({elapsed:.0f} s of training); to continue it, "
                          f"give a larger --steps, --epochs or --max-time (nothing was changed)")


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
    remove_temporaries(run_dir, run_dir / "samples")  # config, grids or summary cut by a kill mid-write
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
    for name, net in trainer.networks.items():
        if name not in weights:
            raise CheckpointError(f"{ckpt} holds no weights for {name}; was it written with another config?")
        load_network(net, weights[name], f"{ckpt} ({name})")
    return ckpt, state


def _truncate_metrics(path: Path, step: int, partial_at_step: bool = False) -> None:
    """Drop log lines past the checkpoint we resume from: those steps are about to be redone (and the
    partial training line at its step, when the checkpoint's averaging window is still open)."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            row = json.loads(line)
            row_step = int(row.get("step", 0))
            if row_step < step or (row_step == step and not (partial_at_step and "images_per_s" in row)):
                kept.append(line if line.endswith("\n") else line + "\n")
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            continue  # a line cut short by a crash
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))


def _run_training(trainer: Trainer, run_dir: Path, quiet: bool, progress: bool | None, resume: bool,
                  extra: Sequence[cb.Callback]) -> Run:
    cfg = trainer.config
    ds = trainer.dataset
    created = time.strftime("%Y-%m-%dT%H:%M:%S")
    if resume and (run_dir / "run.json").is_file():
        old = read_run_meta(run_dir / "run.json", run_dir)
        if list(old.get("shape", [])) != list(trainer.shape) or old.get("dataset_size") != len(ds):
            raise CheckpointError(f"the data of {run_dir} changed since the run started ({old.get('dataset_size')} "
                                  f"images of {old.get('shape')} then, {len(ds)} of {list(trainer.shape)} now)")
        created = old.get("created", created)
    ckpt, state = _load_networks(trainer, run_dir) if resume else (None, {})
    if resume and _is_complete(run_dir):  # extending a finished run: nothing changes unless there is work
        _check_work_left(trainer, run_dir, state)
        _mark_complete(run_dir, False)  # first, so a failure below leaves a run that resumes, not a stale "complete"
    num_classes = trainer.task.num_classes
    meta = {"format_version": RUN_FORMAT_VERSION, "shape": list(trainer.shape), "num_classes": num_classes,
            "class_names": ds.class_names if num_classes else [], "dataset": ds.name,
            "dataset_size": len(ds), "created": created}
    atomic_write_text(run_dir / "run.json", json.dumps(meta, indent=2))  # gankit's mark on the folder comes first
    cfgmod.save(cfg, run_dir / "config.yaml")
    if isinstance(ds, SelectedDataset) and ds.selection is not None:  # data.classes / labels_per_class, by index
        atomic_write_text(run_dir / "selection.json", json.dumps(ds.selection.record(), indent=1))

    lc = cfg.log
    metrics = cb.MetricsLog(run_dir, lc.log_every)
    show = lc.progress if progress is None else progress
    checkpointer = cb.Checkpointer(run_dir, lc.checkpoint_every, lc.keep_checkpoints)
    trainer.callbacks = [
        metrics,
        cb.SampleGrids(run_dir, lc.sample_every),
        cb.LossCurves(run_dir),
        cb.Progress(metrics, enabled=show and not quiet),
        cb.Summary(run_dir, quiet=quiet),
        *extra,
        checkpointer,  # after every callback that keeps state, so a checkpoint holds their state after this step
    ]
    if cfg.eval.every:  # evaluation every N steps (off by default): metrics.jsonl, TensorBoard, best checkpoint
        trainer.callbacks.append(EvalCallback(run_dir, metrics, checkpointer, quiet=quiet))
    if lc.tensorboard:  # after SampleGrids: it logs the grid that callback just saved
        trainer.callbacks.append(TensorBoard(run_dir, metrics, lc.sample_every))
    if lc.report:  # last, so the page shows every number the other callbacks logged at the end
        trainer.callbacks.append(ReportWriter(run_dir, quiet=quiet))
    if resume:
        if ckpt is not None:
            trainer.load_state_dict(state)
        # an open window in the checkpoint means the line at its step is the partial one the session
        # logged on its way out: drop it, the resumed run finishes that window
        _truncate_metrics(run_dir / "metrics.jsonl", trainer.step, partial_at_step=metrics.count > 0)
        checkpointer.last_step = trainer.step  # that state is on disk already
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


