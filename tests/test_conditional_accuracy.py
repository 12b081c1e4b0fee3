"""A conditional recipe after a short real-MNIST run draws the class it is asked for.

The issue's bar (at least 90 % of the samples drawn with ``--class k`` classified as k by gankit's
built-in MNIST classifier) needs thousands of steps, beyond a CI test on 2 CPU cores: it is checked by
``bench/bench_recipes.py --steps 4000 --recipes cgan,projection-cgan,acgan --check`` and reported in
docs/recipes.md. This test keeps the mechanism honest in CI: projection-cgan after 500 steps (about
1-2 minutes) must already draw the requested digit far above chance (10 %).
"""

import pytest
import torch

from gankit.app.cli import main
from gankit.app.training import resolve_config, train
from gankit.engine.rundir import load_run
from gankit.metrics.evaluate import classify


@pytest.mark.slow
def test_projection_cgan_draws_the_requested_digit(mnist_root, tmp_path):
    # one thread: on a shared 2-core machine two oversubscribed threads made this run 5-10x slower
    torch.set_num_threads(1)  # (the autouse fixture in conftest.py restores the count afterwards)
    cfg = resolve_config("projection-cgan", None, {
        "data.name": "mnist", "data.root": str(mnist_root), "data.download": False, "steps": 500, "train.threads": 1,
        "log.progress": False, "log.tensorboard": False, "log.report": False,
        "log.sample_every": 10**6, "log.checkpoint_every": 10**6})
    train(cfg, quiet=True, out=str(tmp_path / "run"))
    run = load_run(tmp_path / "run")
    accuracy = []
    for k in range(10):
        out = tmp_path / f"class{k}.npz"
        assert main(["sample", str(tmp_path / "run"), "--class", str(k), "-n", "50", "--seed", str(k),
                     "--out", str(out)]) == 0
        accuracy.append((classify(out) == k).float().mean().item())
    assert sum(accuracy) / 10 >= 0.4, accuracy  # chance is 10 %
    # the label decides it: the same latents drawn for class 3 instead are mostly classified as 3
    shifted = classify(run.sample(100, seed=0, y=torch.full((100,), 3)))
    assert (shifted == 3).float().mean() >= 0.4
