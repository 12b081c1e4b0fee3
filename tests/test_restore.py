"""gankit degrade -> gankit apply -> gankit eval on the command line, and the inputs apply refuses."""

import json

import numpy as np
import pytest
import torch

from gankit.app.cli import main

TINY = ["--data", "digits", "--steps", "2", "--batch-size", "8", "--quiet", "--no-report", "--no-tensorboard",
        "--set", "data.limit=64", "--set", "model.width=4", "--set", "task.blocks=1"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # two threads on a loaded 2-core machine wait on each other


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    for recipe in ("pix2pix-superres", "pix2pix-inpaint"):
        assert main(["train", "--recipe", recipe, *TINY, "--out", str(root / recipe)]) == 0
    assert main(["train", "--recipe", "dcgan", *TINY[:-2], "--set", "model.z_dim=4", "--out", str(root / "gan")]) == 0
    return root


def _npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow  # the runs fixture trains three tiny runs (20 s on a busy 2-core machine)
def test_degrade_apply_eval_round_trip(runs, tmp_path, capsys):
    low, out, grid, scores = (tmp_path / n for n in ("low.npz", "restored.npz", "grid.png", "scores.json"))
    assert main(["degrade", "pix2pix-superres", "--input", "digits:test", "-n", "40", "--out", str(low)]) == 0
    d = _npz(low)
    assert d["images"].shape == (40, 7, 7, 1) and d["images"].dtype == np.uint8 and d["labels"].shape == (40,)
    assert main(["apply", str(runs / "pix2pix-superres"), "--input", str(low), "--out", str(out), "--grid", str(grid),
                 "--target", "digits:test", "--json", str(scores)]) == 0
    r = _npz(out)
    assert r["images"].shape == (40, 28, 28, 1) and r["images"].dtype == np.uint8
    np.testing.assert_array_equal(r["labels"], d["labels"])  # carried through, for eval's class_acc
    s = json.loads(scores.read_text())
    assert 5 < s["psnr"] < 60 and 0 < s["ssim"] <= 1
    assert f"PSNR {s['psnr']:.2f} dB" in capsys.readouterr().out
    assert grid.is_file()
    assert main(["eval", str(out), "--ref", "digits", "--metrics", "fid,class_acc", "--json", str(tmp_path / "e.json")]) == 0
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["fid"] > 0 and 0 <= e["class_acc"] <= 1


@pytest.mark.slow  # the runs fixture trains three tiny runs (20 s on a busy 2-core machine)
def test_degrade_is_seeded_and_inpainting_keeps_the_known_pixels(runs, tmp_path):
    a, b, c = (tmp_path / f"{n}.npz" for n in "abc")
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        assert main(["degrade", "pix2pix-inpaint", "--input", "digits:test", "-n", "16", "--seed", str(seed),
                     "--out", str(path), "--set", "task.holes=box,stroke"]) == 0
    da, db, dc = _npz(a), _npz(b), _npz(c)
    assert np.array_equal(da["mask"], db["mask"]) and not np.array_equal(da["mask"], dc["mask"])
    assert da["mask"].shape == (16, 28, 28) and set(np.unique(da["mask"])) == {0, 1}
    out = tmp_path / "out"
    assert main(["apply", str(runs / "pix2pix-inpaint"), "--input", str(a), "--out", str(out)]) == 0  # a folder
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 16
    from PIL import Image

    first = np.asarray(Image.open(pngs[0]))
    known = da["mask"][0] == 0
    np.testing.assert_array_equal(first[known], da["images"][0, ..., 0][known])


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("case", "message"), [
    ("rgb", "holds RGB (3-channel) images, but the x4 super-resolution run"),
    ("size", "holds 28x28 images, but the x4 super-resolution run"),
    ("mask_shape", "'mask' has shape (4, 27, 27), expected (4, 28, 28)"),
    ("no_mask", "has no 'mask' array; inpainting needs it"),
    ("gan_run", "is a run of task gan; gankit apply needs an image-to-image run"),
    ("not_a_run", "is not a gankit run directory"),
    ("exists", "already exists; choose another --out"),
])
def test_apply_refuses_bad_input_in_one_line_and_writes_nothing(case, message, runs, tmp_path, capsys):
    u8 = lambda *shape: np.zeros(shape, np.uint8)  # noqa: E731
    run, inp = runs / "pix2pix-superres", _write(tmp_path / "in.npz", images=u8(4, 7, 7, 1))
    out = tmp_path / "out.npz"
    if case == "rgb":
        inp = _write(tmp_path / "rgb.npz", images=u8(4, 7, 7, 3))
    elif case == "size":
        inp = _write(tmp_path / "big.npz", images=u8(4, 28, 28, 1))
    elif case in ("mask_shape", "no_mask"):
        run = runs / "pix2pix-inpaint"
        extra = {"mask": u8(4, 27, 27)} if case == "mask_shape" else {}
        inp = _write(tmp_path / "holes.npz", images=u8(4, 28, 28, 1), **extra)
    elif case == "gan_run":
        run = runs / "gan"
    elif case == "not_a_run":
        run = tmp_path / "mine"
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    elif case == "exists":
        out.write_bytes(b"the user's file")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["apply", str(run), "--input", str(inp), "--out", str(out), "--grid", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    if case == "exists":
        assert out.read_bytes() == b"the user's file"


@pytest.mark.parametrize(("argv", "message"), [
    (["dcgan", "--input", "digits:test"], "TASK must be an image-to-image recipe"),
    (["pix2pix-superres", "--input", "{odd}"], "task.scale=4 does not divide the image size 30x30"),
    (["pix2pix-colorize", "--input", "digits:test"], "task.degradation=colorize needs RGB images"),
    (["pix2pix-denoise", "--input", "digits:test", "--set", "task.sigma=-1"], "task.sigma"),
    (["pix2pix-denoise", "--input", "digits:test", "--set", "train.steps=3"], "degrade takes only task keys"),
])
def test_degrade_refuses_bad_input_in_one_line(argv, message, tmp_path, capsys):
    odd = _write(tmp_path / "odd.npz", images=np.zeros((2, 30, 30), np.uint8))
    out = tmp_path / "out.npz"
    argv = [a.replace("{odd}", str(odd)) for a in argv]
    assert main(["degrade", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.slow  # the runs fixture trains three tiny runs (20 s on a busy 2-core machine)
def test_sampling_an_image_to_image_run_points_to_apply(runs, tmp_path, capsys):
    assert main(["sample", str(runs / "pix2pix-superres"), "--out", str(tmp_path / "s.png")]) == 2
    assert "use gankit apply" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


@pytest.mark.slow
def test_latent_inpaint_keeps_known_pixels_and_invert_writes_latents(runs, tmp_path, capsys):
    holes, out, z = tmp_path / "holes.npz", tmp_path / "filled.npz", tmp_path / "z.npz"
    assert main(["degrade", "pix2pix-inpaint", "--input", "digits:test", "-n", "6", "--out", str(holes),
                 "--set", "task.holes=center"]) == 0
    assert main(["inpaint", str(runs / "gan"), "--input", str(holes), "--out", str(out), "--steps", "3"]) == 0
    d, r = _npz(holes), _npz(out)
    assert r["images"].shape == (6, 28, 28, 1)
    known = d["mask"] == 0
    np.testing.assert_array_equal(r["images"][..., 0][known], d["images"][..., 0][known])
    small = tmp_path / "four.npz"
    np.savez(small, images=d["images"][:4])
    assert main(["invert", str(runs / "gan"), "--input", str(small), "--out", str(z), "--steps", "2"]) == 0
    assert _npz(z)["z"].shape == (4, 4)
    # image-to-image runs have no latents; a missing mask is refused
    assert main(["inpaint", str(runs / "pix2pix-inpaint"), "--input", str(holes), "--out", str(tmp_path / "x.npz")]) == 2
    assert "latent search needs a z -> image GAN run" in capsys.readouterr().err
    assert main(["inpaint", str(runs / "gan"), "--input", str(small), "--out", str(tmp_path / "y.npz")]) == 2
    assert "has no 'mask' array" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()


def test_the_latent_search_fits_the_known_pixels_and_picks_a_class():
    from gankit.restore import _context_loss, search_latents

    class Run:  # a conditional "generator" whose class k draws the constant image (k - 1): class 2 fits x = 1
        draws_from_latents, num_classes, device = True, 3, torch.device("cpu")
        config = type("C", (), {"model": type("M", (), {"z_dim": 2})(), "task": None})()
        generator = torch.nn.Module()

    Run.generator.forward = lambda z, y: (y.float() - 1).view(-1, 1, 1, 1) + 0 * z.sum(1).view(-1, 1, 1, 1) \
        + torch.zeros(len(z), 1, 4, 4)
    images = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    z, y = search_latents(Run(), images, torch.ones(2, 4, 4), steps=1)
    assert z.shape == (2, 2) and y.tolist() == [2, 2]
    x = images.float() / 127.5 - 1
    assert _context_loss(torch.ones(2, 1, 4, 4), x, torch.ones(2, 1, 4, 4)).abs().max() < 1e-6
