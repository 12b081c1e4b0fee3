"""The task engine trains every recipe exactly as the loop before it did (issue 12).

Goldens: the first 20 steps' statistics and a hash of the final weights of every recipe (plus two
variants that switch on the stabilizers no recipe uses), recorded by ``goldens.py`` at the commit
before the task engine. On the CPU kind they were recorded on, both must match bit for bit; on
another kind (other vector units give other float roundings) the losses must agree to 1e-4 relative
for the first steps, before the chaotic GAN dynamics amplify the rounding, and the hash is not compared.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from goldens import COMMON, FIXTURES, VARIANTS, cpu_kind, record_losses, weights_digest

import gankit
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.recipes import RECIPES

GOLDENS = json.loads((FIXTURES / "goldens.json").read_text(encoding="utf-8"))
SAME_CPU = GOLDENS["cpu_kind"] == cpu_kind()


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_goldens_cover_every_recipe():
    gan_recipes = {name for name in RECIPES.names() if RECIPES.get(name).task == "gan"}  # the loop before tasks
    assert gan_recipes | set(VARIANTS) == set(GOLDENS["recipes"])


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(GOLDENS["recipes"]))
def test_losses_and_weights_match_the_loop_before_tasks(case, tmp_path):
    golden = GOLDENS["recipes"][case]
    losses = record_losses(golden["recipe"], {**COMMON, **golden["settings"]}, tmp_path / case)
    assert [sorted(r) for r in losses] == [sorted(r) for r in golden["losses"]]
    weights, _ = load_checkpoint(list_checkpoints(tmp_path / case)[-1])
    assert sorted(weights) == golden["networks"]
    if SAME_CPU:
        assert losses == golden["losses"]
        assert weights_digest(weights) == golden["weights_sha256"]
    else:
        for got, want in zip(losses[:3], golden["losses"][:3]):
            assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


@pytest.fixture()
def old_run(tmp_path):
    run_dir = tmp_path / "run-format1"
    shutil.copytree(FIXTURES / "run-format1", run_dir)
    return run_dir


def test_a_run_from_before_tasks_still_samples(old_run):
    fixture = GOLDENS["fixture"]
    images = gankit.load_run(old_run).sample(4, seed=0)
    assert images.shape == (4, 1, 28, 28)
    if SAME_CPU:
        assert float(images.double().sum()) == fixture["sample_seed0_sum"]


@pytest.mark.slow
def test_a_run_from_before_tasks_resumes_exactly(old_run):
    fixture = GOLDENS["fixture"]
    run = gankit.resume(old_run, steps=fixture["resumed_to"], quiet=True)
    ckpt = list_checkpoints(old_run)[-1]
    assert ckpt.name == f"step-{fixture['resumed_to']:08d}"
    assert json.loads(Path(ckpt, "state.json").read_text())["format_version"] == 2
    weights, _ = load_checkpoint(ckpt)
    assert sorted(weights) == ["D", "G", "G_ema"]
    if SAME_CPU:  # the same as the run trained straight to 20 steps by the loop before tasks
        assert weights_digest(weights) == fixture["weights_sha256_at_20"]
        assert float(run.sample(4, seed=0).double().sum()) == fixture["sample_at_20_seed0_sum"]
        # (the loop before tasks resumed it to other weights, *_resumed_to_20: its fused Adam got the
        # checkpoint's NCHW moments beside channels_last parameters; the engine now lays them out alike)
        assert weights_digest(weights) != fixture["weights_sha256_resumed_to_20"]
