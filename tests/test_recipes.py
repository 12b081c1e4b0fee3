"""Every named recipe: a short CPU run with finite losses, the right shapes and a checkpoint round-trip."""

import json
import math

import pytest
import torch

from gankit.app import training
from gankit.app.cli import main
from gankit.engine.rundir import load_run
from gankit.recipes import RECIPES

EXPECTED = {"mlp-gan", "dcgan", "wgan", "wgan-gp", "lsgan", "hinge", "sngan", "cgan", "projection-cgan",
            "acgan", "infogan"}


def test_every_issue_recipe_is_registered_with_a_paper():
    assert EXPECTED <= set(RECIPES.names())
    for name in RECIPES.names():
        r = RECIPES.get(name)
        assert r.description and r.paper and any(ch.isdigit() for ch in r.paper), name


@pytest.mark.parametrize("name", [n for n in RECIPES.names() if RECIPES.get(n).task == "gan"])  # every GAN recipe
# (the image-to-image recipes train in tests/tasks/test_pix2pix.py)
def test_recipe_trains_on_mnist_from_the_cli(name, mnist_root, tmp_path, monkeypatch):
    trained = []  # the run the CLI trained, as it is in memory when training ends

    def train_and_keep(*args, **kwargs):
        trained.append(real_train(*args, **kwargs))
        return trained[-1]

    real_train = training.train
    monkeypatch.setattr(training, "train", train_and_keep)
    out = tmp_path / name
    ema = ["--set", "ema.enabled=true"] if name == "dcgan" else []
    argv = ["train", "--recipe", name, "--data", "mnist", "--data-root", str(mnist_root), "--steps", "2",
            "--batch-size", "8", "--out", str(out), "--quiet", "--no-report", "--no-tensorboard",
            "--set", "data.limit=200", "--set", "model.width=8", "--set", "model.z_dim=8",
            "--set", "log.log_every=1", "--set", "log.n_samples=8", *ema]
    assert main(argv) == 0
    assert len(trained) == 1, "gankit train no longer trains through gankit.app.training.train"
    cfg = load_run(out).config
    assert cfg.recipe == name and cfg.data.name == "mnist"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    losses = {k: v for row in rows for k, v in row.items() if k.startswith(("d_", "g_", "info"))}
    assert "d_loss" in losses and "g_loss" in losses
    assert all(math.isfinite(v) for row in rows for v in row.values() if isinstance(v, float))

    run = load_run(out)  # from the checkpoint on disk
    c, h, w = run.shape
    assert (c, h) == (1, 32 if name == "sngan" else 28)
    assert run.num_classes == (10 if cfg.model.conditional else 0)
    y = 3 if run.num_classes else None
    x = run.sample(6, seed=5, y=y)
    assert x.shape == (6, c, h, w) and x.abs().max() <= 1 and torch.isfinite(x).all()
    torch.testing.assert_close(load_run(out).sample(6, seed=5, y=y), x)  # same seed, same images

    # checkpoint round-trip: the generator loaded from disk is the one trained in memory (the EMA copy when on)
    trainer = trained[0].trainer
    in_memory = trainer.ema["G"].module if cfg.ema.enabled else trainer.task.networks["G"]
    assert ("G" in trainer.ema) == cfg.ema.enabled
    loaded = run.generator.state_dict()
    assert loaded.keys() == in_memory.state_dict().keys()
    for k, v in in_memory.state_dict().items():
        assert torch.equal(loaded[k], v.to(loaded[k].device)), k
    torch.testing.assert_close(trained[0].sample(6, seed=5, y=y), x, rtol=0, atol=0)  # and it draws the same images


def test_gankit_recipes_lists_every_recipe_with_its_paper(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "Gulrajani" in out and "Odena" in out and "Miyato" in out
