"""Evaluation during training: every ``eval.every`` steps (off by default), draw ``eval.n_samples``
from fixed latents, score them with ``gankit.metrics.evaluate`` against the reference data, log the
numbers to metrics.jsonl (and TensorBoard, through the same logger), and keep the checkpoint with
the lowest FID as the run's best (``best.json`` names it; it is protected from keep-K pruning)."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit.data import DATASETS, load_dataset
from gankit.engine.callbacks import Callback, Checkpointer, MetricsLog
from gankit.engine.checkpoint import list_checkpoints
from gankit.metrics.evaluate import evaluate, reference_features
from gankit.metrics.extractors import get_extractor
from gankit.metrics.extractors.digits import NotDigitsWarning
from gankit.utils import atomic_write_text, eval_mode

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer


class EvalCallback(Callback):
    def __init__(self, run_dir: Path, log: MetricsLog, checkpointer: Checkpointer | None = None,
                 quiet: bool = False):
        self.run_dir, self.log, self.checkpointer, self.quiet = Path(run_dir), log, checkpointer, quiet
        self.ref = None  # the reference FeatureSet, computed (or read from the cache) at the first evaluation
        self.best: dict[str, Any] | None = None
        self.last_step = -1

    # -- callback protocol ------------------------------------------------------------------
    def on_start(self, trainer: Trainer) -> None:
        best_file = self.run_dir / "best.json"
        if best_file.is_file():  # a resumed run keeps its best checkpoint
            try:
                self.best = json.loads(best_file.read_text(encoding="utf-8"))
                if self.checkpointer is not None and self.best.get("checkpoint"):
                    self.checkpointer.protect = {self.run_dir / "checkpoints" / self.best["checkpoint"]}
            except (OSError, json.JSONDecodeError):
                self.best = None

    def on_step(self, trainer: Trainer, stats: Any) -> None:
        every = trainer.config.eval.every
        if every and trainer.step % every == 0:
            self.evaluate(trainer)

    def on_end(self, trainer: Trainer) -> None:
        if trainer.config.eval.every and trainer.step != self.last_step and trainer.step > 0:
            self.evaluate(trainer)

    # -- work --------------------------------------------------------------------------------
    def reference(self, trainer: Trainer):
        if self.ref is None:
            ec, dc = trainer.config.eval, trainer.config.data
            if ec.ref:
                ref: Any = ec.ref
            elif dc.name in DATASETS:  # the held-out split, at the training resolution and channels
                ref = load_dataset(dc.model_copy(update={"split": "test", "limit": None}))
            else:  # a folder or array has no test split: compare with the training images
                ref = trainer.dataset
            self.ref = reference_features(ref, self.extractor(trainer), device=trainer.device, data_root=dc.root)
        return self.ref

    def extractor(self, trainer: Trainer):
        return get_extractor(trainer.config.eval.extractor, trainer.device, (1, *trainer.shape))

    @torch.no_grad()
    def samples(self, trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The task's evaluation images: from fixed latents, so numbers over time are comparable."""
        nets = trainer.sampling_networks()
        with eval_mode(*nets.values()):
            return trainer.task.evaluation_samples(nets, trainer.config.eval.n_samples,
                                                   trainer.config.train.seed + 10_000)

    def evaluate(self, trainer: Trainer) -> dict[str, float]:
        ec = trainer.config.eval
        t0 = time.perf_counter()
        images, labels = self.samples(trainer)
        names = [m.strip() for m in ec.metrics.split(",")]
        if labels is None:
            names = [m for m in names if m != "class_acc"]
        reference = self.reference(trainer)  # the data is checked for digit-likeness here, once
        with warnings.catch_warnings():  # an early generator's samples are not digits yet: no news
            warnings.simplefilter("ignore", NotDigitsWarning)
            results = evaluate(images, reference, names, self.extractor(trainer), fake_labels=labels,
                               device=trainer.device)
        seconds = time.perf_counter() - t0
        self.last_step = trainer.step
        self.log.log(trainer, {**{k: round(v, 6) for k, v in results.items()}, "eval_seconds": round(seconds, 2)})
        if "fid" in results and ec.keep_best and (self.best is None or results["fid"] < self.best["fid"]):
            self.keep_best(trainer, results["fid"])
        return results

    def keep_best(self, trainer: Trainer, fid: float) -> None:
        if self.checkpointer is None:
            return
        if self.checkpointer.last_step != trainer.step:
            path = self.checkpointer.save(trainer)
        else:
            path = list_checkpoints(self.run_dir)[-1]
        self.checkpointer.protect = {Path(path)}  # the previous best may now be pruned
        self.best = {"step": trainer.step, "fid": fid, "checkpoint": Path(path).name}
        atomic_write_text(self.run_dir / "best.json", json.dumps(self.best, indent=2) + "\n")
