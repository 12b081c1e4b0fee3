"""Shared fixtures. Real MNIST comes from ../shared/data (or $GANKIT_TEST_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("GANKIT_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _few_threads():
    # Two cores are shared by everything on this machine; keep each test's footprint predictable.
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    if not (DATA_ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"real MNIST missing at {DATA_ROOT}/MNIST/raw (CI must have ../shared/data)")
        pytest.skip(f"real MNIST not found at {DATA_ROOT}/MNIST/raw; set GANKIT_TEST_DATA")
    return DATA_ROOT


@pytest.fixture(name="tiny_config", scope="session")
def _tiny_config_fixture():
    return tiny_config


def tiny_config(**overrides):
    """A run that takes a second or two on CPU: small models, few steps, digits at 28 px."""
    from gankit.app.training import resolve_config

    base = {"steps": 4, "batch_size": 16, "model.width": 8, "model.z_dim": 8, "log.log_every": 2,
            "log.sample_every": 2, "log.checkpoint_every": 2, "log.n_samples": 8, "log.progress": False,
            "data.limit": 200, "log.tensorboard": False, "log.report": False}  # tests/report/ turn those on
    recipe = overrides.pop("recipe", "dcgan")
    base.update(overrides)
    return resolve_config(recipe, None, base)
