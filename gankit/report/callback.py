"""Write the HTML report and the progress GIF when training ends, so every run leaves a page to open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gankit.engine.callbacks import Callback
from gankit.engine.rundir import Run
from gankit.report.html import write_report

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer


class ReportWriter(Callback):
    """Runs last (after checkpoints, summary and any evaluation) and samples from the trainer's generator."""

    def __init__(self, run_dir: Path, quiet: bool = False):
        self.run_dir, self.quiet = Path(run_dir), quiet
        self.path: Path | None = None

    def on_end(self, trainer: Trainer) -> None:
        self.path = write_report(self.run_dir, run=Run(self.run_dir, trainer=trainer))
        if not self.quiet:
            print(f"report: {self.path} (open it in a browser; progress.gif beside it)")
