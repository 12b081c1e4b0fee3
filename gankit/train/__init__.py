"""Training: the engine, its callbacks, checkpoints, and runs."""

from gankit.train.engine import Trainer
from gankit.train.run import Run, load_run, resolve_config, train

__all__ = ["Run", "Trainer", "load_run", "resolve_config", "train"]
