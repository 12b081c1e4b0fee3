"""Structured samples from a trained run: one row per class, latent interpolations, InfoGAN code sweeps.

Library functions return (N, C, H, W) images in [-1, 1] plus the number of images per row; the CLI
(``gankit sample --class K / --grid-by-class / --sweep-code``, ``gankit interpolate``) writes them
with ``gankit.utils.write_images``.
Every function is deterministic for a given seed.
"""

from __future__ import annotations

import math

import torch

from gankit.engine.rundir import Run
from gankit.errors import GankitError
from gankit.models.layers import sample_codes


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b (D,) at fractions t (T,) -> (T, D).

    Gaussian latents concentrate near a sphere, so slerp stays where the generator was trained while
    straight lines pass through the low-norm middle (White 2016, Sampling Generative Networks).
    """
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1.0, 1.0))
    t = t[:, None]
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def _infogan(run: Run) -> bool:
    m = run.config.model
    return bool(m.info_categories or m.info_continuous)


def class_grid(run: Run, per_class: int = 8, seed: int = 0) -> tuple[torch.Tensor, int]:
    """Row k holds ``per_class`` samples of class k; the same latents in every row."""
    if not run.num_classes:
        raise GankitError("--grid-by-class needs a class-conditional run (recipes cgan, projection-cgan, acgan)")
    if per_class <= 0:
        raise GankitError(f"samples per class must be positive, got {per_class}")
    run.check_fits(per_class * run.num_classes)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(per_class, run.config.model.z_dim, generator=gen).repeat(run.num_classes, 1)
    y = torch.arange(run.num_classes).repeat_interleave(per_class)
    return run.generate(z, y), per_class


def interpolation(run: Run, rows: int = 6, steps: int = 10, seed: int = 0, y: int | None = None
                  ) -> tuple[torch.Tensor, int]:
    """Each row walks (slerp) from one latent to another; the class (row % K, or ``y``) and any InfoGAN
    codes stay fixed along a row, so only z changes."""
    if rows <= 0 or steps < 2:
        raise GankitError(f"need at least 1 row and 2 steps, got {rows} rows and {steps} steps")
    run.check_fits(rows * steps)
    gen = torch.Generator().manual_seed(seed)
    m = run.config.model
    ends = torch.randn(rows, 2, m.z_dim, generator=gen)
    t = torch.linspace(0, 1, steps)
    z = torch.cat([slerp(ends[r, 0], ends[r, 1], t) for r in range(rows)])  # (rows * steps, z_dim)
    labels = None
    if run.num_classes:
        row_class = torch.full((rows,), int(y)) if y is not None else torch.arange(rows) % run.num_classes
        labels = run._labels(rows, row_class, gen).repeat_interleave(steps)
    elif y is not None:
        raise GankitError("this run is not class-conditional; --class does not apply")
    elif _infogan(run):
        labels = sample_codes(rows, m, "cpu", gen).repeat_interleave(steps, dim=0)
    return run.generate(z, labels), steps


def code_sweep(run: Run, code: str, rows: int = 6, steps: int = 10, seed: int = 0, limit: float = 1.0
               ) -> tuple[torch.Tensor, int]:
    """InfoGAN: vary one code along each row, everything else fixed per row.

    ``code`` is ``cat`` (the categorical code: one column per category) or the index of a continuous
    code (columns from -limit to +limit; the paper also shows -2..2, beyond the U(-1, 1) prior).
    """
    m = run.config.model
    if not _infogan(run):
        raise GankitError("--sweep-code needs an InfoGAN run (recipe infogan)")
    k, n_cont = m.info_categories, m.info_continuous
    if code == "cat":
        if not k:
            raise GankitError("this InfoGAN run has no categorical code; sweep a continuous one (0, 1, ...)")
        steps = k
    elif not code.isdigit() or int(code) >= n_cont:
        choices = (["cat"] if k else []) + [str(i) for i in range(n_cont)]
        raise GankitError(f"unknown code {code!r} for --sweep-code; choose from {', '.join(choices)}")
    if rows <= 0 or steps < 2:
        raise GankitError(f"need at least 1 row and 2 steps, got {rows} rows and {steps} steps")
    run.check_fits(rows * steps)
    if not math.isfinite(limit):
        raise GankitError(f"--sweep-limit must be a finite number, got {limit}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, m.z_dim, generator=gen).repeat_interleave(steps, dim=0)
    codes = sample_codes(rows, m, "cpu", gen).repeat_interleave(steps, dim=0)  # (rows * steps, k + n_cont)
    col = torch.arange(steps).repeat(rows)
    if code == "cat":
        codes[:, :k] = torch.nn.functional.one_hot(col, k).float()
    else:
        if k:  # one category per row, so each row shows the continuous code acting on a different class
            codes[:, :k] = torch.nn.functional.one_hot(torch.arange(rows).repeat_interleave(steps) % k, k).float()
        codes[:, k:] = 0.0
        codes[:, k + int(code)] = torch.linspace(-limit, limit, steps).repeat(rows)
    return run.generate(z, codes), steps
