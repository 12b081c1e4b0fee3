"""gankit: train, evaluate and apply generative adversarial networks from one engine.

    import gankit
    run = gankit.train(recipe="dcgan", data="mnist", data_root="data", max_time="10m")
    images = run.sample(64)            # (64, 1, 28, 28) in [-1, 1]
    run = gankit.load_run("runs/...")  # later, from its directory
"""

__version__ = "0.1.0"

from gankit.config import Config  # noqa: E402
from gankit.errors import GankitError  # noqa: E402
from gankit.train import Run, Trainer, load_run, resolve_config, train  # noqa: E402

__all__ = ["Config", "GankitError", "Run", "Trainer", "__version__", "load_run", "resolve_config", "train"]
