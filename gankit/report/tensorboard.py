"""TensorBoard logging (on by default; ``--no-tensorboard`` or ``log.tensorboard: false`` turns it off).

Scalars come from MetricsLog (every line it writes to metrics.jsonl is fanned out here through
``extra_writers``), so TensorBoard and metrics.jsonl always hold the same numbers. Image grids are the
fixed-latent PNGs SampleGrids saved, so TensorBoard's image slider shows exactly the files on disk.

    tensorboard --logdir runs/          # then open http://localhost:6006
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml
from PIL import Image

from gankit.engine.callbacks import Callback, MetricsLog
from gankit.errors import GankitError
from gankit.report.series import is_metric_key, is_speed_key

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer
    from gankit.losses import Stats

LOG_SUBDIR = "tensorboard"


def tag_for(key: str) -> str:
    """Group scalars into TensorBoard sections: loss/, metrics/, speed/, train/."""
    if is_speed_key(key):
        return f"speed/{key}"
    if is_metric_key(key):
        return f"metrics/{key}"
    return f"loss/{key}" if "loss" in key else f"train/{key}"


class TensorBoard(Callback):
    def __init__(self, run_dir: Path, metrics: MetricsLog, sample_every: int):
        self.run_dir = Path(run_dir)
        self.log_dir = self.run_dir / LOG_SUBDIR
        self.metrics, self.sample_every = metrics, sample_every
        self.writer = None
        self.logged_grids: list[int] = []

    def on_start(self, trainer: Trainer) -> None:
        try:  # tensorboard is optional at run time: --no-tensorboard runs without it
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError("TensorBoard logging needs the tensorboard package (pip install tensorboard), "
                              "or pass --no-tensorboard") from None
        # purge_step: on resume, TensorBoard hides events a previous session logged after the checkpoint.
        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=trainer.step or None)
        if trainer.step == 0:
            text = yaml.safe_dump(trainer.config.to_dict(), sort_keys=False)
            self.writer.add_text("config", "```\n" + text + "```", 0)
        self.metrics.extra_writers.append(self)
        self._grid(trainer.step)

    def write(self, step: int, record: dict[str, float]) -> None:
        """Called by MetricsLog for every line it logs."""
        if self.writer is None:
            return
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(tag_for(key), value, step)

    def _grid(self, step: int, name: str | None = None) -> None:
        path = self.run_dir / "samples" / f"{name or f'step-{step:08d}'}.png"
        if self.writer is None or not path.is_file() or step in self.logged_grids:
            return
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB"))
        self.writer.add_image("samples/fixed_latents", arr, step, dataformats="HWC")
        self.logged_grids.append(step)

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        if trainer.step % self.sample_every == 0:
            self._grid(trainer.step)

    def on_end(self, trainer: Trainer) -> None:
        if self.writer is None:
            return
        self._grid(trainer.step, "final")
        self.writer.flush()
        self.writer.close()
        if self in self.metrics.extra_writers:
            self.metrics.extra_writers.remove(self)
        self.writer = None
