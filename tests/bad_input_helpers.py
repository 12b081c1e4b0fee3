"""Helpers the bad-input tests share (a plain module: a second conftest.py would take over the name
``conftest`` that tests import from, see tests/report/report_helpers.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def unblock_fifo_after(fifo: Path, seconds: float) -> None:
    """Write garbage into ``fifo`` after a while if someone is blocked reading it; nothing if nobody is."""
    def write() -> None:
        time.sleep(seconds)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO when no reader waits: nothing to unblock
        except OSError:
            return
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"not an array")

    threading.Thread(target=write, daemon=True).start()
