"""CI smoke of the bench: every bench runs in seconds on the embedded digits, so it never rots.

Asserts structure and sanity (equal work, finite positive numbers, files written), never speed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # bench/ is a top-level package next to gankit/, not installed

from bench import time_to_quality as ttq  # noqa: E402
from bench.tutorial_loops import TutorialGAN  # noqa: E402
from gankit.metrics.extractors.digits import WEIGHTS  # noqa: E402


def _bench(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "bench", *args, "--out", str(tmp_path), "--plots", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("arch", ["mlp-gan", "dcgan"])
def test_tutorial_loop_does_the_same_work_as_gankit(arch, tiny_config):
    """Same parameter count and the same counted FLOPs per step: images/s compare equal work."""
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.engine.trainer import Trainer

    cfg = tiny_config(recipe=arch, batch_size=16, **{"model.width": 64, "model.z_dim": 100, "guard.enabled": False})
    t = Trainer(cfg)
    tut = TutorialGAN(arch, t.dataset.images, batch_size=16)
    for mine, theirs in ((tut.netG, t.task.G), (tut.netD, t.task.D)):
        assert sum(p.numel() for p in mine.parameters()) == sum(p.numel() for p in theirs.parameters())
    flops = []
    for step in (tut.step, t.train_step):
        with FlopCounterMode(display=False) as counter:
            step()
        flops.append(counter.get_total_flops())
    assert flops[0] == flops[1] > 0
    assert len(tut.G_losses) == 1 and math.isfinite(tut.G_losses[0])  # .item() every step, as tutorials do


def test_time_to_reach_interpolates_and_says_never():
    curve = [{"train_s": 10, "fid": 100.0}, {"train_s": 20, "fid": 25.0}, {"train_s": 40, "fid": 10.0}]
    assert ttq.time_to_reach(curve, 50.0) == pytest.approx(15.0)  # halfway in log FID between 100 and 25
    assert ttq.time_to_reach(curve, 200.0) == 10
    assert ttq.time_to_reach(curve, 5.0) is None


@pytest.mark.slow
def test_quick_bench_writes_results_tables_and_plots(tmp_path):
    proc = _bench(tmp_path, "--quick", "throughput", "micro", "hardware", "scaling")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tp = json.loads((tmp_path / "throughput-quick.json").read_text())
    assert tp["machine"]["cpu"] and tp["machine"]["torch"] == torch.__version__
    assert [r["arch"] for r in tp["results"]] == ["mlp-gan", "dcgan"]
    for r in tp["results"]:
        names = [row["contender"] for row in r["rows"]]
        assert names[0] == "tutorial" and "gankit defaults" in names
        for row in r["rows"]:
            assert row["images_per_s"] > 0 and 0 < row["ratio_vs_tutorial"]["median"] < math.inf
    micro = json.loads((tmp_path / "micro-quick.json").read_text())
    assert [r["what"] for r in micro["rows"]] == ["guard check", "guard snapshot", "batch"]
    assert all(r["a_ms"] > 0 and r["b_ms"] > 0 for r in micro["rows"])
    hw = json.loads((tmp_path / "hardware-quick.json").read_text())
    assert hw["peaks"]["fp32"]["best_gflops"] > 0
    assert all(r["gflop_per_step"] > 0 and r["fraction_of_fp32_peak_best"] > 0 for r in hw["rows"])
    sc = json.loads((tmp_path / "scaling-quick.json").read_text())
    assert {r["batch_size"] for r in sc["batch"]} == {16, 32} and {r["resolution"] for r in sc["resolution"]} == {28, 32}
    assert (tmp_path / "bench_scaling-quick.png").read_bytes()[:4] == b"\x89PNG"
    readme = (tmp_path / "README-quick.md").read_text()
    assert "Throughput at equal work" in readme and "| dcgan | gankit defaults |" in readme


@pytest.mark.slow
@pytest.mark.skipif(not WEIGHTS.is_file(), reason="built-in MNIST classifier weights not built yet")
def test_quick_time_to_quality_and_bf16_check_score_every_contender(tmp_path):
    proc = _bench(tmp_path, "--quick", "ttq", "bf16", "--contenders", "tutorial-dcgan,dcgan,cgan", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((tmp_path / "ttq-quick.json").read_text())
    assert [r["contender"] for r in res["runs"]] == ["tutorial-dcgan", "dcgan", "cgan"] and res["jobs"] == 2
    for r in res["runs"]:
        assert len(r["curve"]) == 2 and all(p["fid"] > 0 and math.isfinite(p["fid"]) for p in r["curve"])
        # a step that overshoots both points under load scores the same state twice: not decreasing
        assert r["curve"][0]["train_s"] <= r["curve"][1]["train_s"] and r["curve"][1]["steps"] > 0
        assert r["curve"][0]["steps"] <= r["curve"][1]["steps"]
        end = r["curve"][-1]
        assert math.isfinite(end["kid"]) and "kid" not in r["curve"][0]  # KID at the budget's end only
        assert ("class_acc" in end) == (r["contender"] == "cgan")
    assert 0.0 <= res["runs"][2]["curve"][-1]["class_acc_min"] <= res["runs"][2]["curve"][-1]["class_acc"] <= 1.0
    assert (tmp_path / "bench_time_to_quality-quick.png").is_file()
    bf = json.loads((tmp_path / "bf16-quick.json").read_text())
    if not bf.get("skipped"):
        assert [r["autocast"] for r in bf["rows"]] == ["off", "bf16"]
        assert all(r["steps"] == 3 and math.isfinite(r["fid"]) for r in bf["rows"])


@pytest.mark.parametrize("args,message", [(["--budget", "soon"], "--budget"),
                                          (["ttq", "--contenders", "dcgann"], "dcgan")])
def test_bad_arguments_are_one_line_errors(tmp_path, args, message):
    proc = _bench(tmp_path, *args)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert message in last and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.json"))  # nothing half-written


@pytest.mark.slow
@pytest.mark.skipif(not WEIGHTS.is_file(), reason="built-in MNIST classifier weights not built yet")
def test_recipe_bench_keeps_one_run_per_seed_and_tables_every_seed(tmp_path, mnist_root):
    from bench.bench_recipes import seeds_table

    for seed in (0, 1):
        proc = subprocess.run([sys.executable, "bench/bench_recipes.py", "--steps", "3", "--recipes", "cgan",
                               "--samples", "200", "--per-class", "5", "--seed", str(seed), "--no-doc",
                               "--data-root", str(mnist_root), "--out", str(tmp_path / "out"),
                               "--workdir", str(tmp_path / "runs")], cwd=REPO, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["cgan-steps3-seed0", "cgan-steps3-seed1"]
    rows = [json.loads((tmp_path / "out" / name).read_text())["rows"][0]
            for name in ("recipes-steps-3.json", "recipes-steps-3-seed1.json")]
    assert [r["seed"] for r in rows] == [0, 1] and all(0 <= r["class_acc"] <= 1 and r["steps"] == 3 for r in rows)
    table = seeds_table(tmp_path / "out", 3)
    assert "Seed 0." in table and "Seed 1." in table
    mean = 100 * (rows[0]["class_acc"] + rows[1]["class_acc"]) / 2
    assert f"| cgan | 2 | {mean:.1f} % |" in table
