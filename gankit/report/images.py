"""Pictures for the report: PNG grids in memory, row labels, the progress GIF."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from gankit.errors import GankitError
from gankit.utils import atomic_path, make_grid, to_uint8

STEP_PNG = re.compile(r"^step-(\d+)\.png$")


def grid_image(images: torch.Tensor, nrow: int | None = None, scale: int | None = None) -> Image.Image:
    """(N, C, H, W) in [-1, 1] -> a PIL mosaic, small images enlarged (nearest) so they can be seen."""
    grid = make_grid(to_uint8(images), nrow=nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    scale = scale or max(1, round(64 / images.shape[-1]))
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def data_uri(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def label_rows(img: Image.Image, labels: list[str], rows: int, pad: int = 2) -> Image.Image:
    """Add a left margin with one label per grid row (the class name of a per-class grid)."""
    font = _font(12)
    width = 8 + max(int(ImageDraw.Draw(img).textlength(s, font=font)) for s in labels)
    out = Image.new("RGB", (img.width + width, img.height), "white")
    out.paste(img.convert("RGB"), (width, 0))
    draw = ImageDraw.Draw(out)
    row_h = img.height / rows
    for i, text in enumerate(labels):
        draw.text((4, int((i + 0.5) * row_h)), text, fill="black", font=font, anchor="lm")
    return out


def sample_frames(run_dir: Path) -> list[tuple[int, Path]]:
    """The fixed-latent grids saved during training, as (step, path) sorted by step; final.png counts as
    the last step's grid when training stopped between two saved grids."""
    frames = {}
    for p in (Path(run_dir) / "samples").glob("step-*.png"):
        m = STEP_PNG.match(p.name)
        if m:
            frames[int(m.group(1))] = p
    final = Path(run_dir) / "samples" / "final.png"
    try:
        steps = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8")).get("steps")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        steps = None
    if final.is_file() and isinstance(steps, int) and steps not in frames:
        frames[steps] = final
    return sorted(frames.items())


def thin(items: list, limit: int) -> list:
    """At most ``limit`` items, evenly spaced, always keeping the first and the last."""
    if len(items) <= limit or limit < 2:
        return items[:max(limit, 0)] if limit < 2 else items
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, limit)).astype(int))
    return [items[i] for i in idx]


def write_progress_gif(run_dir: str | Path, out: str | Path | None = None, max_frames: int = 60,
                       frame_ms: int = 250, hold_ms: int = 1500) -> Path | None:
    """Animate the fixed-latent sample grids over training into RUN_DIR/progress.gif (None: no grids yet)."""
    run_dir = Path(run_dir)
    frames = thin(sample_frames(run_dir), max_frames)
    if not frames:
        return None
    out = Path(out) if out else run_dir / "progress.gif"
    font = _font(14)
    images: list[Image.Image] = []
    size = (0, 0)
    for step, path in frames:
        try:
            with Image.open(path) as im:
                grid = im.convert("RGB")
        except OSError as exc:
            raise GankitError(f"cannot read sample grid {path}: {exc}") from None
        size = size if images else grid.size  # every frame of a GIF has the first frame's size
        if grid.size != size:
            grid = grid.resize(size, Image.NEAREST)
        frame = Image.new("RGB", (grid.width, grid.height + 22), "white")
        frame.paste(grid, (0, 0))
        ImageDraw.Draw(frame).text((4, grid.height + 11), f"step {step}", fill="black", font=font, anchor="lm")
        images.append(frame)
    durations = [frame_ms] * (len(images) - 1) + [hold_ms]
    with atomic_path(out) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return out
