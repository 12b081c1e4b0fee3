"""Seeing a run: the self-contained HTML report, the progress GIF, and comparisons of several runs.

    from gankit.report import write_report, compare_runs
    write_report("runs/dcgan-mnist-...")                # -> runs/.../report.html and progress.gif
    compare_runs(["runs/a", "runs/b"]).write("cmp.html")  # table + curves against steps and time
"""

from gankit.report.compare import Comparison, compare_runs
from gankit.report.html import build_report, write_report
from gankit.report.images import write_progress_gif

__all__ = ["Comparison", "build_report", "compare_runs", "write_progress_gif", "write_report"]
