"""Image-to-image runs applied to files: ``gankit degrade`` and ``gankit apply``.

``degrade`` writes exactly the degradation a recipe trains on (``gankit.data.degrade``) as an .npz:
``images`` uint8 N x h x w x C (low resolution for super-resolution, one channel for colorization),
``mask`` uint8 N x H x W for inpainting (1 = missing; those pixels of ``images`` are ignored), and
``labels`` when the clean source has them. ``apply`` restores such a file (or a folder of images) with a
trained pix2pix run and writes ``images`` uint8 N x H x W x C at full resolution, the format of
``gankit sample``, so ``gankit eval`` scores it directly. Everything is checked before anything is
computed or written, and neither command overwrites an existing file.

``inpaint`` and ``invert`` use a z -> image GAN run the user already has, with no new training: they search
the latent (and the class) whose sample matches the known pixels (Yeh et al. 2017; GAN inversion).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from gankit.config import Config
from gankit.data.dataset import to_uint8_tensor
from gankit.data.degrade import degrade
from gankit.engine.rundir import Run, load_run
from gankit.errors import DataError, GankitError, first_line
from gankit.metrics.evaluate import load_images
from gankit.metrics.restoration import psnr, ssim
from gankit.tasks import TASKS
from gankit.tasks.pix2pix import Pix2PixSettings, Pix2PixTask, check_input, display_input, finish, generator_input
from gankit.utils import atomic_path, atomic_write_bytes, save_image_grid


@dataclass
class Degraded:
    images: torch.Tensor  # (N, C', h, w) uint8, as the file holds them
    mask: torch.Tensor | None  # (N, H, W) uint8, 1 = missing
    labels: np.ndarray | None


def image_to_image_settings(config: Config, what: str) -> Pix2PixSettings:
    task = TASKS.get(config.task.name)
    if not issubclass(task, Pix2PixTask):
        raise GankitError(f"{what} is a run of task {config.task.name}; gankit apply needs an image-to-image run "
                          f"(the pix2pix recipes)")
    return task.read_settings(config)  # type: ignore[return-value]


def check_new_output(path: Path, flag: str = "--out") -> None:
    """Refuse to write over anything: a file, or a folder that is not empty."""
    if path.is_dir():
        if any(path.iterdir()):
            raise GankitError(f"{flag} {path} is a folder that is not empty; choose another {flag}")
    elif os.path.lexists(path):
        raise GankitError(f"{flag} {path} already exists; choose another {flag} (gankit does not overwrite it)")


# ---------------------------------------------------------------------------------------------
# gankit degrade

def degrade_source(config: Config, source: str, *, data_root: str | None = None, n: int | None = None,
                   seed: int = 0) -> Degraded:
    """The degradation of ``config`` (an image-to-image recipe) applied to the clean images of ``source``."""
    settings = image_to_image_settings(config, f"recipe {config.recipe}")
    images, labels, _ = load_images(source, data_root)
    if n is not None:
        if n <= 0:
            raise GankitError(f"-n must be positive, got {n}")
        images, labels = images[:n], None if labels is None else labels[:n]
    check_input(settings, tuple(images.shape[1:]))
    low, mask = degrade(images, settings.degradation, scale=settings.scale, sigma=settings.sigma,
                        holes=tuple(settings.holes.split(",")), generator=torch.Generator().manual_seed(seed))
    return Degraded(low, mask, labels)


def write_npz(path: Path, **arrays: np.ndarray | None) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v for k, v in arrays.items() if v is not None})
    atomic_write_bytes(path, buf.getvalue())


def write_degraded(d: Degraded, out: Path) -> None:
    if out.suffix.lower() != ".npz":
        raise GankitError(f"--out must end in .npz, got {out}")
    check_new_output(out)
    write_npz(out, images=d.images.permute(0, 2, 3, 1).numpy(), mask=None if d.mask is None else d.mask.numpy(),
              labels=d.labels)


# ---------------------------------------------------------------------------------------------
# gankit apply

def read_degraded(source: Path) -> Degraded:
    """An .npz written by gankit degrade (or any with 'images' and, for inpainting, 'mask'), or a folder."""
    if source.suffix.lower() != ".npz":
        images, labels, _ = load_images(str(source))
        return Degraded(images, None, labels)
    if not source.is_file():
        raise DataError(f"--input {source} not found")
    try:
        with np.load(source, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {source}: {first_line(exc)}") from None
    if "images" not in arrays:
        raise DataError(f"{source} has no 'images' array (it has {', '.join(arrays) or 'none'})")
    images = to_uint8_tensor(arrays["images"], str(source))
    mask = arrays.get("mask")
    labels = arrays.get("labels")
    if labels is not None and (labels.ndim != 1 or len(labels) != len(images)):
        raise DataError(f"{source}: 'labels' of shape {labels.shape} do not match {len(images)} images")
    return Degraded(images, None if mask is None else torch.from_numpy(np.asarray(mask)), labels)


def check_degraded(d: Degraded, settings: Pix2PixSettings, shape: tuple[int, int, int], source: Path,
                   run_dir: Path) -> None:
    """The input must be what the run was trained on: its size, its channels, its mask."""
    c, h, w = shape
    kind, (n, ci, hi, wi) = settings.degradation, d.images.shape
    want_c = 1 if kind == "colorize" else c
    want_hw = (h // settings.scale, w // settings.scale) if kind == "superres" else (h, w)
    what = {"superres": f"x{settings.scale} super-resolution", "inpaint": "inpainting", "denoise": "denoising",
            "colorize": "colorization"}[kind]
    if ci != want_c:
        kinds = {1: "grey (1-channel)", 3: "RGB (3-channel)"}
        raise DataError(f"{source} holds {kinds.get(ci, f'{ci}-channel')} images, but the {what} run {run_dir} takes "
                        f"{kinds.get(want_c, f'{want_c}-channel')} inputs")
    if (hi, wi) != want_hw:
        raise DataError(f"{source} holds {hi}x{wi} images, but the {what} run {run_dir} takes "
                        f"{want_hw[0]}x{want_hw[1]} inputs (it restores {h}x{w} images)")
    if kind == "inpaint":
        if d.mask is None:
            raise DataError(f"{source} has no 'mask' array; inpainting needs it (uint8 N x H x W, 1 = missing)")
        if tuple(d.mask.shape) != (n, h, w):
            raise DataError(f"{source}: 'mask' has shape {tuple(d.mask.shape)}, expected {(n, h, w)} "
                            f"(one {h}x{w} mask per image)")
        if not ((d.mask == 0) | (d.mask == 1)).all():
            raise DataError(f"{source}: 'mask' must hold 0 (known) and 1 (missing) only")


@dataclass
class Restored:
    images: torch.Tensor  # (N, C, H, W) uint8
    shown: torch.Tensor  # (N, C, H, W) uint8: the input as a person sees it (upsampled, grey holes, ...)
    labels: np.ndarray | None


@torch.no_grad()
def restore(run: Run, d: Degraded, settings: Pix2PixSettings, batch_size: int = 256) -> Restored:
    """Run G over degraded images in eval mode: uint8 in, uint8 out."""
    c, h, w = run.shape
    out, shown = [], []
    G = run.generator
    G.eval()
    for i in range(0, len(d.images), batch_size):
        low = d.images[i: i + batch_size].float().div_(127.5).sub_(1).to(run.device)
        mask = None if d.mask is None else d.mask[i: i + batch_size].to(run.device)
        x = generator_input(settings, low, mask, (h, w))
        y = finish(settings, G(x).float(), x)
        if not torch.isfinite(y).all():
            raise GankitError(f"the generator of {run.dir} produces non-finite images: its weights are damaged")
        out.append(_uint8(y))
        shown.append(_uint8(display_input(settings, x, low, c)))
    return Restored(torch.cat(out), torch.cat(shown), d.labels)


def _uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()


def apply_run(run_dir: str | Path, source: str | Path, out: str | Path, *, grid: str | Path | None = None,
              target: str | None = None, data_root: str | None = None, checkpoint: str | None = None,
              device: str = "cpu", batch_size: int = 256) -> dict[str, float]:
    """Restore ``source`` with the run and write ``out`` (.npz or a folder of PNGs); with ``target`` (the
    clean images, any source gankit reads) also return their mean PSNR and SSIM and put them in the grid."""
    run_dir, source, out = Path(run_dir), Path(source), Path(out)
    if out.suffix.lower() not in (".npz", ""):
        raise GankitError(f"--out must be an .npz file or a folder, got {out}")
    if grid is not None and Path(grid).suffix.lower() != ".png":
        raise GankitError(f"--grid must end in .png, got {grid}")
    check_new_output(out)
    if grid is not None:
        check_new_output(Path(grid), "--grid")
    run = load_run(run_dir, checkpoint, device)
    settings = image_to_image_settings(run.config, str(run_dir))
    d = read_degraded(source)
    check_degraded(d, settings, run.shape, source, run_dir)
    clean = None
    if target is not None:
        clean, _, _ = load_images(target, data_root)
        clean = clean[: len(d.images)]
        if clean.shape != (len(d.images), *run.shape):
            raise DataError(f"--target {target}: {tuple(clean.shape)} images do not match the "
                            f"{len(d.images)} restored images of {tuple(run.shape)}")
    r = restore(run, d, settings, batch_size)
    scores: dict[str, float] = {}
    if clean is not None:
        scores = {"psnr": float(psnr(r.images, clean).mean()), "ssim": float(ssim(r.images, clean).mean())}
    write_restored(r, out)
    if grid is not None:
        write_triptych(r, clean, Path(grid))
    return scores


def write_restored(r: Restored, out: Path) -> None:
    nhwc = r.images.permute(0, 2, 3, 1).numpy()
    if out.suffix.lower() == ".npz":
        write_npz(out, images=nhwc, labels=r.labels)
        return
    width = max(6, len(str(len(nhwc) - 1)))
    for i, im in enumerate(nhwc):
        with atomic_path(out / f"{i:0{width}d}.png") as tmp:
            Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(tmp, format="PNG")


def write_triptych(r: Restored, clean: torch.Tensor | None, path: Path, n: int = 16) -> None:
    """Rows of input | output (| target), two examples a row, for the first ``n`` images."""
    parts = [r.shown[:n], r.images[:n]] + ([clean[:n]] if clean is not None else [])
    tiles = torch.stack(parts, 1).flatten(0, 1).permute(0, 2, 3, 1).numpy()  # (n * panels, H, W, C)
    save_image_grid(tiles, path, nrow=2 * len(parts))



# ---------------------------------------------------------------------------------------------
# gankit inpaint / gankit invert: any trained z -> image GAN, no new training (Yeh et al. 2017)

def search_latents(run: Run, images: torch.Tensor, known: torch.Tensor, *, steps: int = 300, lr: float = 0.05,
                   prior: float = 1e-3, seed: int = 0, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The latent (and class, for conditional runs) whose sample best matches the known pixels.

    images: uint8 (N, C, H, W); known: (N, H, W), 1 where the pixel is known. Per image, Adam on z minimises
      sum_known (G(z, y) - x)^2 / n_known + prior * ||z||^2 / z_dim
    (the context loss of Yeh et al. 2017 with a Gaussian prior on z in place of their discriminator term);
    conditional runs try every class in parallel and keep the class with the lowest loss. Returns
    (z (N, z_dim), y (N,) or None).
    """
    if not run.draws_from_latents:
        raise GankitError(f"{run.dir} is a run of task {run.config.task.name}; latent search needs a z -> image "
                          f"GAN run (for an image-to-image run use gankit apply)")
    G, zd, k = run.generator, run.config.model.z_dim, max(run.num_classes, 1)
    gen = torch.Generator().manual_seed(seed)
    zs, ys = [], []
    G.eval()
    for p in G.parameters():
        p.requires_grad_(False)
    try:
        for i in range(0, len(images), batch_size):
            x = images[i: i + batch_size].float().div(127.5).sub(1).to(run.device)
            m = known[i: i + batch_size].to(run.device).float().unsqueeze(1)
            n = len(x)
            # every image tried with every class: (K * n) searches, class-major
            z = torch.randn(k * n, zd, generator=gen).to(run.device).requires_grad_(True)
            y = torch.arange(k).repeat_interleave(n).to(run.device) if run.num_classes else None
            xk, mk = x.repeat(k, 1, 1, 1), m.repeat(k, 1, 1, 1)
            opt = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                loss = _context_loss(G(z, y), xk, mk) + prior * z.pow(2).mean(1)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
            with torch.no_grad():
                final = _context_loss(G(z, y), xk, mk).view(k, n)
                best = final.argmin(0)  # (n,) the class with the best fit
                pick = best * n + torch.arange(n, device=best.device)
            zs.append(z.detach()[pick].cpu())
            ys.append(best.cpu() if run.num_classes else None)
    finally:
        for p in G.parameters():
            p.requires_grad_(True)
    return torch.cat(zs), (torch.cat(ys) if run.num_classes else None)  # type: ignore[arg-type]


def _context_loss(fake: torch.Tensor, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(B,) mean squared difference over the known pixels of each image."""
    return ((fake.float() - x) ** 2 * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * x.shape[1]).clamp(min=1)


def latent_inpaint(run: Run, d: Degraded, **search: Any) -> Restored:
    """Fill the holes of ``d`` (its mask: 1 = missing) from the GAN's best-matching sample; known pixels kept."""
    if d.mask is None:
        raise DataError("latent inpainting needs the 'mask' array (uint8 N x H x W, 1 = missing)")
    z, y = search_latents(run, d.images, 1 - d.mask, **search)
    fake = _uint8(run.generate(z, y))
    m = d.mask.bool().unsqueeze(1)
    shown = torch.where(m, torch.full_like(d.images, 128), d.images)
    return Restored(torch.where(m, fake, d.images), shown, d.labels)


def inpaint_run(run_dir: str | Path, source: str | Path, out: str | Path, *, steps: int = 300, seed: int = 0,
                checkpoint: str | None = None, device: str = "cpu") -> int:
    """``gankit inpaint``: the holes of an .npz from ``gankit degrade pix2pix-inpaint`` filled by a GAN run."""
    run_dir, source, out = Path(run_dir), Path(source), Path(out)
    if out.suffix.lower() not in (".npz", ""):
        raise GankitError(f"--out must be an .npz file or a folder, got {out}")
    check_new_output(out)
    run = load_run(run_dir, checkpoint, device)
    d = read_degraded(source)
    c, h, w = run.shape
    if d.mask is None:
        raise DataError(f"{source} has no 'mask' array; inpainting needs it (uint8 N x H x W, 1 = missing)")
    if tuple(d.images.shape[1:]) != (c, h, w) or tuple(d.mask.shape) != (len(d.images), h, w):
        raise DataError(f"{source} holds images {tuple(d.images.shape[1:])} with masks {tuple(d.mask.shape[1:])}, "
                        f"but the run {run_dir} draws {c}x{h}x{w} images")
    r = latent_inpaint(run, d, steps=steps, seed=seed)
    write_restored(r, out)
    return len(r.images)


def invert_run(run_dir: str | Path, source: str, out: str | Path, *, steps: int = 300, seed: int = 0,
               data_root: str | None = None, checkpoint: str | None = None, device: str = "cpu") -> int:
    """``gankit invert``: the latents (key 'z', and 'labels' for conditional runs) whose samples match the images."""
    out = Path(out)
    if out.suffix.lower() != ".npz":
        raise GankitError(f"--out must end in .npz, got {out}")
    check_new_output(out)
    run = load_run(run_dir, checkpoint, device)
    images, _, _ = load_images(source, data_root)
    if tuple(images.shape[1:]) != tuple(run.shape):
        raise DataError(f"{source} holds {tuple(images.shape[1:])} images, but the run {run_dir} draws "
                        f"{tuple(run.shape)} images")
    z, y = search_latents(run, images, torch.ones(len(images), *images.shape[2:]), steps=steps, seed=seed)
    write_npz(out, z=z.numpy(), labels=None if y is None else y.numpy())
    return len(z)
