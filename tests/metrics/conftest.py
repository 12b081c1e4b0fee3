"""Fixtures for the metrics tests: the reference packages, one torch thread per test."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest
import torch

# ``mnist_root`` (real MNIST from ../shared/data or $GANKIT_TEST_DATA) comes from tests/conftest.py.


def _stub_module(name: str) -> types.ModuleType:
    """A stand-in module whose lower-case attributes are sub-modules and capitalised ones nn.Module classes."""
    mod = types.ModuleType(name)
    mod.__path__ = []
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def getattr_(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr[0].islower():
            return sys.modules.setdefault(f"{name}.{attr}", _stub_module(f"{name}.{attr}"))
        return type(attr, (torch.nn.Module,), {})

    mod.__getattr__ = getattr_
    return mod


@pytest.fixture(scope="session")
def refpkgs() -> types.SimpleNamespace:
    """The reference implementations' pure numeric functions.

    torch-fidelity, pytorch-fid and torchmetrics.image import torchvision at module level (for
    datasets, transforms and other feature extractors that these tests never call), and torchvision
    cannot be installed beside gankit's CPU torch. When torchvision is missing, a dummy
    ``torchvision`` is put in ``sys.modules`` only while these imports run, then removed again; the
    functions used below (statistics, sqrtm, MMD, IS, k-NN) never touch it.
    """
    stubbed = []
    try:
        import torchvision  # noqa: F401
    except ImportError:
        for name in ("torchvision", "torchvision.datasets", "torchvision.transforms",
                     "torchvision.transforms.functional", "torchvision.models", "torchvision.models.utils"):
            sys.modules[name] = _stub_module(name)
            stubbed.append(name)
    try:  # imported only to check that they are installed
        import prdc  # noqa: F401
        from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: F401
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: F401
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric  # noqa: F401
        from torch_fidelity.metric_isc import isc_features_to_metric  # noqa: F401
        from torch_fidelity.metric_kid import kid_features_to_metric  # noqa: F401
        from torch_fidelity.metric_prc import prc_features_to_metric  # noqa: F401
        from torchmetrics.image.fid import _compute_fid  # noqa: F401
        from torchmetrics.image.inception import InceptionScore  # noqa: F401
        from torchmetrics.image.kid import poly_mmd  # noqa: F401
    except ImportError as exc:  # a failure, not a skip: these comparisons are the point of the tests
        pytest.fail(f"reference packages missing; install requirements-test.txt and, with --no-deps, "
                    f"requirements-test-nodeps.txt ({exc})")
    finally:
        if stubbed:  # drop the stand-ins (and sub-modules they created) so no other test sees them
            for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
                del sys.modules[name]
    return types.SimpleNamespace(**locals())


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test: the machine's two cores are shared, and with other jobs running a
    single thread is faster than two threads that wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
