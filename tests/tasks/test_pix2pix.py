"""The pix2pix task: every image-to-image recipe trains from the CLI, resumes exactly, and refuses bad input."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.app.cli import main
from gankit.app.training import resolve_config
from gankit.data import load_dataset
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.engine.rundir import load_run
from gankit.errors import GankitError
from gankit.recipes import RECIPES
from gankit.tasks import build_task

PIX2PIX = [n for n in RECIPES.names() if RECIPES.get(n).task == "pix2pix"]
TINY = ["--steps", "2", "--batch-size", "8", "--quiet", "--no-report", "--no-tensorboard", "--set", "data.limit=64",
        "--set", "model.width=4", "--set", "task.blocks=1", "--set", "log.log_every=1", "--set", "log.sample_every=2",
        "--set", "log.checkpoint_every=2"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two threads on a loaded 2-core machine wait on each other


def test_the_image_to_image_recipes_are_registered():
    assert set(PIX2PIX) == {"pix2pix-superres", "pix2pix-inpaint", "pix2pix-denoise", "pix2pix-colorize"}


@pytest.mark.slow  # reads MNIST (10 s the first time)
@pytest.mark.parametrize("name", ["pix2pix-superres", "pix2pix-inpaint", "pix2pix-denoise"])
def test_grey_recipes_train_on_mnist_from_the_cli(name, mnist_root, tmp_path):
    out = tmp_path / name
    assert main(["train", "--recipe", name, "--data", "mnist", "--data-root", str(mnist_root), "--out", str(out),
                 *TINY]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert {"d_loss", "g_adv", "l1", "g_loss"} <= set(rows[-1])
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    grid = np.asarray(Image.open(out / "samples" / "final.png"))
    assert grid.shape[0] == grid.shape[1]  # 6 rows of two input | output | target triplets
    run = load_run(out)
    assert not run.draws_from_latents and run.shape == (1, 28, 28)
    weights, _ = load_checkpoint(list_checkpoints(out)[-1], networks_only=True)
    assert sorted(weights) == ["D", "G"]
    for k, v in run.generator.state_dict().items():
        assert torch.equal(v, weights["G"][k]), k
    with pytest.raises(GankitError, match="restores images instead of drawing them from latents; use gankit apply"):
        run.sample(4)


def test_colorize_trains_on_an_rgb_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    assert main(["train", "--recipe", "pix2pix-colorize", "--data", str(folder), "--out", str(out), *TINY]) == 0
    assert load_run(out).shape == (3, 32, 32)
    assert (out / "samples" / "final.png").is_file()


def test_the_l1_only_unet_has_no_discriminator(tmp_path):
    out = tmp_path / "l1"
    assert main(["train", "--recipe", "pix2pix-denoise", "--data", "digits", "--out", str(out), *TINY,
                 "--set", "task.adv_weight=0"]) == 0
    weights, state = load_checkpoint(list_checkpoints(out)[-1])
    assert sorted(weights) == ["G"] and "optim.D" not in state["parts"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "d_loss" not in rows[-1] and rows[-1]["g_loss"] == pytest.approx(100 * rows[-1]["l1"], rel=1e-4)


def test_resume_is_exact(tmp_path):
    args = ["--recipe", "pix2pix-inpaint", "--data", "digits", *TINY, "--set", "log.checkpoint_every=1"]
    assert main(["train", *args, "--steps", "4", "--out", str(tmp_path / "whole")]) == 0
    assert main(["train", *args, "--steps", "2", "--out", str(tmp_path / "part")]) == 0
    assert main(["train", "--resume", str(tmp_path / "part"), "--steps", "4", "--quiet"]) == 0
    whole, _ = load_checkpoint(list_checkpoints(tmp_path / "whole")[-1])
    part, _ = load_checkpoint(list_checkpoints(tmp_path / "part")[-1])
    for net in ("G", "D"):
        for k in whole[net]:
            assert torch.equal(whole[net][k], part[net][k]), (net, k)


def test_inpainting_keeps_the_known_pixels():
    cfg = resolve_config("pix2pix-inpaint", None, {"data": "digits", "data.limit": 32, "model.width": 4})
    task = build_task(cfg, load_dataset(cfg.data), torch.device("cpu"))
    y = task.dataset.float_images(slice(0, 8))
    x, _ = task.degrade(y, torch.Generator().manual_seed(0))
    known = x[:, -1:] == 0
    out = task.restore(task.G, x)
    assert known.any() and (~known).any()
    assert torch.equal(out.masked_select(known), y.masked_select(known))


@pytest.mark.parametrize(("argv", "message"), [
    (["--recipe", "pix2pix-colorize", "--data", "digits"], "task.degradation=colorize needs RGB images"),
    (["--recipe", "pix2pix-superres", "--data", "digits", "--resolution", "30"],
     "task.scale=4 does not divide the image size 30x30"),
    (["--recipe", "pix2pix-superres", "--data", "digits", "--set", "task.scale=3"], "task.scale"),
    (["--recipe", "pix2pix-denoise", "--data", "digits", "--set", "task.sigmaa=20"], "did you mean 'task.sigma'"),
    (["--recipe", "pix2pix-inpaint", "--data", "digits", "--set", "task.holes=circle"], "unknown hole kind 'circle'"),
])
def test_bad_settings_are_one_line_errors_and_write_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()
