"""Housekeeping that runs between training steps: logs, sample grids, checkpoints, progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gankit.engine.checkpoint import save_checkpoint
from gankit.errors import GankitError
from gankit.losses import Stats
from gankit.utils import atomic_path, atomic_write_text, human_duration, save_image_grid

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer


class Callback:
    # A callback with running state (sums over a logging window) names it here; the trainer then saves
    # its state_dict in every checkpoint as callback.KEY, for exact resume.
    state_key: str | None = None

    def on_start(self, trainer: Trainer) -> None:
        pass

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        pass

    def on_end(self, trainer: Trainer) -> None:
        pass


class MetricsLog(Callback):
    """Appends the mean of each statistic over the last ``every`` steps to metrics.jsonl.

    When a session ends mid-window (a time limit, Ctrl-C) the partial window is logged too, but it
    stays the open window in the final checkpoint: a resume drops that line and finishes the window,
    so a resumed run logs the same lines as an uninterrupted one. Throughput is measured on the
    run's training clock (``trainer.elapsed``), which continues across sessions.
    """
    state_key = "metrics"

    def __init__(self, run_dir: Path, every: int):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.every = every
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.window_start: float | None = None  # trainer.elapsed when the open window began
        self.latest: dict[str, float] = {}
        self.extra_writers: list = []  # objects with .write(step, record): TensorBoard and friends

    def on_start(self, trainer: Trainer) -> None:
        if self.window_start is None:
            self.window_start = trainer.elapsed

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0) + v.detach().float()
        self.count += 1
        if trainer.step % self.every == 0:
            self.flush(trainer)

    def on_end(self, trainer: Trainer) -> None:
        if self.count:
            self.flush(trainer, close=False)  # the window stays open in the final checkpoint

    def flush(self, trainer: Trainer, close: bool = True) -> None:
        start = trainer.elapsed if self.window_start is None else self.window_start
        record = {k: round(float(v) / self.count, 6) for k, v in self.sums.items()}
        images = self.count * trainer.task.images_per_step
        record.update(images_per_s=round(images / max(trainer.elapsed - start, 1e-9), 1))
        self.log(trainer, record)
        if close:
            self.sums, self.count, self.window_start = {}, 0, trainer.elapsed

    def log(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Write one line (also used by other callbacks, e.g. evaluation metrics)."""
        line = {"step": trainer.step, "epoch": round(trainer.epoch, 4), "time": round(trainer.elapsed, 3), **record}
        self.latest.update(record)
        self._append(line)
        for writer in self.extra_writers:
            writer.write(trainer.step, record)

    def state_dict(self) -> dict:
        """The half-filled averaging window, so a resumed run logs the same lines as an uninterrupted one."""
        return {"count": self.count, "sums": dict(self.sums), "start": self.window_start}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.sums = {k: v.clone() for k, v in state["sums"].items()}
        self.window_start = state.get("start")  # None in checkpoints before this field: the resume's start

    def event(self, trainer: Trainer, record: dict) -> None:
        """Write one non-numeric line (``{"event": ...}``: guard rollbacks, warnings) to metrics.jsonl only."""
        line = {"step": trainer.step, "epoch": round(trainer.epoch, 4), "time": round(trainer.elapsed, 3), **record}
        self._append(line)

    def _append(self, line: dict) -> None:
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
        except OSError as exc:  # e.g. a full disk: the checkpoints written so far stay intact
            raise GankitError(f"cannot write {self.path}: {exc.strerror or exc}") from None


class SampleGrids(Callback):
    """Saves a grid from the fixed latent batch every ``every`` steps and at the end."""

    def __init__(self, run_dir: Path, every: int):
        self.dir = Path(run_dir) / "samples"
        self.every = every

    def grid(self, trainer: Trainer, name: str) -> Path:
        path = self.dir / f"{name}.png"
        save_image_grid(trainer.preview(), path)
        return path

    def on_start(self, trainer: Trainer) -> None:
        if trainer.step == 0:
            self.grid(trainer, "step-00000000")

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        if trainer.step % self.every == 0:
            self.grid(trainer, f"step-{trainer.step:08d}")

    def on_end(self, trainer: Trainer) -> None:
        self.grid(trainer, "final")


class Checkpointer(Callback):
    def __init__(self, run_dir: Path, every: int, keep: int):
        self.run_dir, self.every, self.keep = Path(run_dir), every, keep
        self.protect: set[Path] = set()  # e.g. the best checkpoint by FID
        self.last_step = -1

    def save(self, trainer: Trainer) -> Path:
        weights = {name: net.state_dict() for name, net in trainer.networks.items()}
        path = save_checkpoint(self.run_dir, trainer.step, weights, trainer.state_dict(), self.keep, self.protect)
        self.last_step = trainer.step
        return path

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        if trainer.step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer: Trainer) -> None:
        # after a hard interrupt the state may be half a step on; the last periodic checkpoint is exact
        if trainer.step != self.last_step and not trainer.interrupted_mid_step:
            self.save(trainer)


class Progress(Callback):
    """A live bar with step, epoch, ETA and the latest losses (rich) on a terminal; elsewhere (CI logs,
    ``| tee``, nohup) a plain full-width line on stderr every ``every_s`` seconds and at the end, since a
    live bar shows nothing until it stops there and is cut to a guessed width."""

    def __init__(self, metrics: MetricsLog, enabled: bool = True, terminal: bool | None = None,
                 every_s: float = 10.0):
        self.metrics = metrics
        self.enabled = enabled
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self.every_s = every_s
        self.progress = None
        self.stat_keys: set[str] = set()  # keys of the training statistics; other logged keys are metrics
        self.last_refresh = 0.0

    def on_start(self, trainer: Trainer) -> None:
        self.last_refresh = time.perf_counter()
        if not self.enabled or not self.terminal:
            return
        from rich.console import Console  # rich's progress machinery only when a bar is shown
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        # Bar, percentage and times keep their width; only the info text is cut at a narrow terminal
        # (80 columns leave it about 44 characters: step, epoch, the latest metric, the losses).
        console = Console(stderr=False)
        fixed = dict(table_column=Column(no_wrap=True))
        columns = [TextColumn("[bold]train", **fixed), BarColumn(bar_width=12), TaskProgressColumn(**fixed)]
        if console.width >= 100:
            columns.append(TimeElapsedColumn(**fixed))
        columns += [TextColumn("ETA", **fixed), TimeRemainingColumn(**fixed),
                    TextColumn("{task.fields[info]}", markup=False,
                               table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"))]
        self.progress = Progress(*columns, console=console, transient=False, expand=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=1000, info="")

    def info(self, trainer: Trainer) -> str:
        """'step 120/1500  epoch 1.28  fid 45.1  d_loss 1.21  g_loss 0.83': the newest evaluation metric
        before the losses, so a narrow terminal still shows it."""
        total = f"/{trainer.total_steps}" if trainer.total_steps else ""
        latest = self.metrics.latest
        losses = [k for k in latest if k in self.stat_keys and "loss" in k]
        metrics = [k for k in latest if k not in self.stat_keys and k != "images_per_s"
                   and not k.endswith(("_seconds", "_std"))]  # fid, kid, ... (not eval_seconds, kid_std)
        shown = metrics[:1] + losses[:3] + metrics[1:3]
        return f"step {trainer.step}{total}  epoch {trainer.epoch:.2f}" + "".join(f"  {k} {latest[k]:.3g}"
                                                                              for k in shown)

    def line(self, trainer: Trainer) -> str:
        """The plain progress line: the info, throughput and time left, never cut."""
        speed = self.metrics.latest.get("images_per_s")
        done = trainer.progress
        eta = human_duration(trainer.elapsed * (1 - done) / done) if done > 0 else "?"
        return (f"gankit: {self.info(trainer)}" + (f"  {speed:.0f} img/s" if speed else "")
                + f"  {100 * done:.0f}%  ETA {eta}")

    def on_step(self, trainer: Trainer, stats: Stats) -> None:
        self.stat_keys.update(stats)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last_refresh < (0.25 if self.terminal else self.every_s):
            return
        self.last_refresh = now
        if self.progress is not None:
            self.progress.update(self.task, completed=1000 * trainer.progress, info=self.info(trainer))
        elif not self.terminal:
            print(self.line(trainer), file=sys.stderr, flush=True)

    def on_end(self, trainer: Trainer) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=1000 * trainer.progress, info=self.info(trainer))
            self.progress.stop()
        elif self.enabled and not self.terminal:
            print(self.line(trainer), file=sys.stderr, flush=True)


class LossCurves(Callback):
    """Plots every logged loss against steps into loss_curve.png when training ends."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_end(self, trainer: Trainer) -> None:
        plot_losses(self.run_dir / "metrics.jsonl", self.run_dir / "loss_curve.png")


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if Path(path).is_file():
        # errors="replace": a line damaged by a crash or an editor is skipped below, not fatal to the whole log
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash; the rest of the log is still good
    return rows


def plot_losses(metrics_file: Path, out: Path) -> None:
    import matplotlib  # matplotlib (half a second to import) only when a curve is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_file)
    keys = [k for k in ("d_loss", "g_loss") if any(k in r for r in rows)]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key)
    ax.set_xlabel("generator step")
    ax.set_ylabel("loss")
    ax.set_title("training losses")
    if keys:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


class Summary(Callback):
    """Writes summary.json (steps, wall time, why it stopped) and prints where the results are."""

    def __init__(self, run_dir: Path, quiet: bool = False):
        self.run_dir, self.quiet = Path(run_dir), quiet

    def on_end(self, trainer: Trainer) -> None:
        summary = {"steps": trainer.step, "epochs": round(trainer.epoch, 3), "train_seconds": round(trainer.elapsed, 2),
                   "stopped": trainer.stop_reason, "device": str(trainer.device)}
        atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        if not self.quiet:
            print(f"{trainer.stop_reason}: {trainer.step} steps, {trainer.epoch:.1f} epochs in "
                  f"{human_duration(trainer.elapsed)}; final samples: {self.run_dir / 'samples' / 'final.png'}")
