"""python -m bench apps: its colour metrics, its targets, and a seconds-long run of one task."""

import numpy as np
import pytest
import torch

from bench import apps


def test_colourfulness_is_hasler_and_suesstrunk():
    grey = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    assert apps.colourfulness(grey) == 0
    red = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    red[:, 0] = 200  # rg = 200, yb = 100 everywhere: sigma 0, mu = sqrt(200^2 + 100^2)
    assert apps.colourfulness(red) == pytest.approx(0.3 * np.hypot(200, 100))


def test_chroma_psnr_ignores_lightness():
    x = torch.randint(0, 256, (3, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert apps.psnr_ab(x, x) > 100
    grey = x.float().mean(1, keepdim=True).round().to(torch.uint8).expand(-1, 3, -1, -1)
    assert apps.psnr_ab(grey, x) < apps.psnr_ab(x, x)


def test_targets_say_met_or_missed_with_the_numbers():
    rows = {"bicubic (Pillow)": {"psnr": 15.0, "fid": 30.0}, "L1-only U-Net": {"psnr": 19.0, "fid": 20.0},
            "pix2pix GAN": {"psnr": 17.5, "fid": 10.0}}
    out = apps.targets({"tasks": {"superres": {"rows": rows}}})
    assert [(t["met"], t["numbers"]) for t in out] == [
        (False, "GAN 17.50 dB vs bicubic 15.00 dB (+2.50 dB)"), (True, "GAN 10.00 vs L1-only 20.00")]


@pytest.mark.slow
def test_one_task_runs_end_to_end_on_digits(tmp_path):
    torch.set_num_threads(1)
    result = apps.run("digits", "data", budget=1.0, n_test=24, tasks=["denoise"], plots=tmp_path,
                      runs_dir=tmp_path / "runs")
    rows = result["tasks"]["denoise"]["rows"]
    assert set(rows) == {*(k for k in rows if k.startswith(("non-local", "total"))), "L1-only U-Net", "pix2pix GAN"}
    assert all(0 < r["psnr"] < 60 and 0 < r["ssim"] <= 1 and r["fid"] > 0 for r in rows.values())
    assert (tmp_path / "apps_denoise.png").is_file()
    assert result["targets"][0]["target"] == "PSNR above non-local means"
    assert "| pix2pix GAN (" in apps.markdown(result)
