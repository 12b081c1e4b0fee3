"""Every named recipe: a short CPU run with finite losses, the right shapes and a checkpoint round-trip."""

import json
import math

import pytest
import torch

from gankit.cli import main
from gankit.recipes import RECIPES
from gankit.train.run import load_run, train

EXPECTED = {"mlp-gan", "dcgan", "wgan", "wgan-gp", "lsgan", "hinge", "sngan", "cgan", "projection-cgan",
            "acgan", "infogan"}


def test_every_issue_recipe_is_registered_with_a_paper():
    assert EXPECTED <= set(RECIPES.names())
    for name in RECIPES.names():
        r = RECIPES.get(name)
        assert r.description and r.paper and any(ch.isdigit() for ch in r.paper), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_smoke_run(name, tiny_config, tmp_path):
    cfg = tiny_config(recipe=name, steps=2, batch_size=8, **{"ema.enabled": name == "dcgan"})
    run = train(cfg, quiet=True, out=str(tmp_path / name))
    rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    losses = {k: v for row in rows for k, v in row.items() if k.startswith(("d_", "g_", "info"))}
    assert "d_loss" in losses and "g_loss" in losses
    assert all(math.isfinite(v) for row in rows for v in row.values() if isinstance(v, float))

    c, h, w = run.shape
    assert (c, h) == (1, 32 if name == "sngan" else 28)
    y = 3 if run.num_classes else None
    x = run.sample(6, seed=5, y=y)
    assert x.shape == (6, c, h, w) and x.abs().max() <= 1 and torch.isfinite(x).all()

    loaded = load_run(tmp_path / name)  # from the checkpoint on disk
    assert loaded.num_classes == (10 if cfg.model.conditional else 0)
    torch.testing.assert_close(loaded.sample(6, seed=5, y=y), x)
    if cfg.ema.enabled:  # sampling and the checkpoint use the EMA generator, not the raw one
        trainer_G = run.generator
        assert not any(p.requires_grad for p in trainer_G.parameters())


def test_gankit_recipes_lists_every_recipe_with_its_paper(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "Gulrajani" in out and "Odena" in out and "Miyato" in out
