"""`gankit sample --class / --grid-by-class / --sweep-code` and `gankit interpolate` on tiny trained runs."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.app.cli import main
from gankit.app.training import train
from gankit.engine.rundir import load_run
from gankit.sampling import class_grid, code_sweep, interpolation
from gankit.utils import make_grid, to_uint8


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config):
    root = tmp_path_factory.mktemp("runs")
    for name in ("cgan", "infogan", "dcgan"):
        train(tiny_config(recipe=name), quiet=True, out=str(root / name))
    return root


def _npz(path):
    return np.load(path)["images"]


def test_sample_class_k_draws_that_class(runs, tmp_path):
    out = tmp_path / "c7.npz"
    assert main(["sample", str(runs / "cgan"), "--class", "7", "-n", "12", "--seed", "3", "--out", str(out)]) == 0
    run = load_run(runs / "cgan")
    np.testing.assert_array_equal(_npz(out), to_uint8(run.sample(12, seed=3, y=7)))
    assert not np.array_equal(_npz(out), to_uint8(run.sample(12, seed=3, y=2)))  # the label matters


def test_grid_by_class_has_one_row_per_class(runs, tmp_path):
    out = tmp_path / "grid.npz"
    assert main(["sample", str(runs / "cgan"), "--grid-by-class", "--per-class", "4", "--out", str(out)]) == 0
    images = _npz(out).reshape(10, 4, 28, 28, 1)
    run = load_run(runs / "cgan")
    z = torch.randn(4, run.config.model.z_dim, generator=torch.Generator().manual_seed(0))
    run.generator.eval()
    with torch.no_grad():
        row3 = run.generator(z, torch.full((4,), 3))
    np.testing.assert_array_equal(images[3], to_uint8(row3))  # row k: the same latents, class k
    assert main(["sample", str(runs / "cgan"), "--grid-by-class", "--out", str(tmp_path / "g.png")]) == 0


def test_interpolation_moves_smoothly_between_its_ends(runs):
    for name in ("dcgan", "cgan", "infogan"):
        images, per_row = interpolation(load_run(runs / name), rows=3, steps=8, seed=1)
        assert images.shape == (24, 1, 28, 28) and per_row == 8
        rows = images.view(3, 8, -1)
        step = (rows[:, 1:] - rows[:, :-1]).abs().mean()
        ends = (rows[:, -1] - rows[:, 0]).abs().mean()
        assert step < ends  # neighbours are closer than the two ends


def test_interpolate_cli_writes_a_strip(runs, tmp_path):
    """The PNG holds the library's interpolation, 5 per row with 2 px gaps, each image doubled (28 -> 56 px),
    and the same command writes the same file."""
    def strip(name: str, *extra: str) -> np.ndarray:
        out = tmp_path / name
        assert main(["interpolate", str(runs / "cgan"), "--rows", "2", "--steps", "5", "--class", "4", *extra,
                     "--out", str(out)]) == 0
        return np.asarray(Image.open(out))

    png = strip("strip.png")
    assert png.shape == (2 * 2 * (28 + 2) + 2 * 2, 2 * 5 * (28 + 2) + 2 * 2) and png.dtype == np.uint8  # grayscale
    images, per_row = interpolation(load_run(runs / "cgan"), rows=2, steps=5, seed=0, y=4)
    expected = make_grid(to_uint8(images), nrow=per_row)[..., 0].repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(png, expected)
    np.testing.assert_array_equal(strip("again.png"), png)
    assert not np.array_equal(strip("seed1.png", "--seed", "1"), png)


def test_infogan_sweeps_each_code(runs, tmp_path):
    run = load_run(runs / "infogan")
    cat, per_row = code_sweep(run, "cat", rows=2, seed=0)
    assert per_row == 10 and cat.shape == (20, 1, 28, 28)
    cont, per_row = code_sweep(run, "1", rows=3, seed=0)
    assert per_row == 10 and cont.shape == (30, 1, 28, 28)
    assert not torch.equal(cat[0], cat[1])  # the category changes the image
    assert main(["sample", str(runs / "infogan"), "--sweep-code", "0", "--out", str(tmp_path / "s.png")]) == 0


@pytest.mark.parametrize("argv, message", [
    (["sample", "dcgan", "--class", "3"], "not class-conditional"),
    (["sample", "cgan", "--class", "11"], "class must be in 0..9"),
    (["sample", "dcgan", "--grid-by-class"], "class-conditional run"),
    (["sample", "cgan", "--sweep-code", "cat"], "InfoGAN run"),
    (["sample", "infogan", "--sweep-code", "7"], "choose from cat, 0, 1"),
    (["interpolate", "dcgan", "--steps", "1"], "2 steps"),
])
def test_bad_requests_get_one_line(runs, tmp_path, capsys, argv, message):
    cmd, run, *rest = argv
    assert main([cmd, str(runs / run), *rest, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_class_grid_rejects_unconditional_runs(runs):
    with pytest.raises(Exception, match="class-conditional"):
        class_grid(load_run(runs / "dcgan"))
