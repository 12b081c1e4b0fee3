"""The ssgan task: the K+1 loss by its definition, labels only from the labelled stream, exact resume."""

import pytest
import torch
import torch.nn.functional as F

from gankit.app.training import run_config
from gankit.engine.checkpoint import load_checkpoint
from gankit.engine.rundir import latest_checkpoint
from gankit.engine.trainer import Trainer
from gankit.tasks.base import StepInfo

pytestmark = pytest.mark.slow  # tiny runs, about 30 s each on a busy 2-core machine

TINY = {"data": "digits", "batch_size": 16, "model.width": 8, "model.z_dim": 8, "data.labels_per_class": 3,
        "log.progress": False, "log.tensorboard": False, "log.report": False, "log.checkpoint_every": 2,
        "log.n_samples": 8}


def config(tiny_config, **kw):
    return tiny_config(recipe="ssgan", **{**TINY, **kw})


def test_d_loss_is_cross_entropy_plus_the_logit_sum_real_fake_loss(tiny_config):
    trainer = Trainer(config(tiny_config))
    task = trainer.task
    real, labels = trainer.sampler.next()
    assert labels is None  # the engine's stream carries no labels: they were dropped
    torch.manual_seed(0)
    state = task.labelled.state_dict()
    loss, stats = task.d_loss((real, None), StepInfo(0, 0, True, 0.0))
    torch.manual_seed(0)
    task.labelled.load_state_dict(state)
    x_lab, y_lab = task.labelled.next()
    with torch.no_grad():
        D = task.D
        sup = F.cross_entropy(D(x_lab), y_lab)
        fake = task.fake(len(real))
        p_real = lambda x: torch.exp(torch.logsumexp(D(x), 1)) / (torch.exp(torch.logsumexp(D(x), 1)) + 1)  # Z/(Z+1)
        unsup = -torch.log(p_real(real)).mean() - torch.log(1 - p_real(fake)).mean()
    assert torch.allclose(loss.detach(), sup + unsup, atol=1e-5)
    assert set(y_lab.tolist()) <= set(range(10)) and len(task.labelled.dataset) == 30


def test_supervised_only_trains_no_generator(tiny_config, tmp_path):
    cfg = config(tiny_config, steps=2, out=str(tmp_path / "base"), **{"task.supervised_only": True})
    run_config(cfg, quiet=True)
    trainer_phases = [p.name for p in Trainer(cfg).task.phases]
    assert trainer_phases == ["D"]


def test_resume_is_exact(tiny_config, tmp_path):
    run_config(config(tiny_config, steps=4, out=str(tmp_path / "a")), quiet=True)
    run_config(config(tiny_config, steps=2, out=str(tmp_path / "b")), quiet=True)
    from gankit.app.training import resume

    resume(tmp_path / "b", steps=4, quiet=True)
    a = load_checkpoint(latest_checkpoint(tmp_path / "a"))[0]
    b = load_checkpoint(latest_checkpoint(tmp_path / "b"))[0]
    for net in ("D", "G"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
