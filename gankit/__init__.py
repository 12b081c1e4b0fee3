"""gankit: train, evaluate and apply generative adversarial networks from one engine.

    import gankit
    run = gankit.train(recipe="dcgan", data="mnist", data_root="data", max_time="10m")
    images = run.sample(64)            # (64, 1, 28, 28) in [-1, 1]
    run = gankit.load_run("runs/...")  # later, from its directory

The names below are imported on first use, so ``gankit --help`` starts without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "Config": "gankit.config",
    "GankitError": "gankit.errors",
    "Run": "gankit.engine.rundir",
    "load_run": "gankit.engine.rundir",
    "Trainer": "gankit.engine.trainer",
    "Task": "gankit.tasks",
    "resolve_config": "gankit.app.training",
    "run_config": "gankit.app.training",
    "resume": "gankit.app.training",
    "train": "gankit.app.training",
}
__all__ = [*sorted(_PUBLIC), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
