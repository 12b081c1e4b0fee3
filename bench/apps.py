"""``python -m bench apps``: gankit's image-to-image GANs against what a user would otherwise use.

One run, the same test images for every contender of a task, degraded once exactly as ``gankit degrade``
does (seed 0):

  superres  x4 (7x7 block means -> 28x28)  Pillow bicubic, Pillow Lanczos
  inpaint   the centred 14x14 hole          skimage inpaint_biharmonic
  denoise   Gaussian noise, sigma 50/255    skimage non-local means, total-variation (Chambolle)
  colorize  BT.601 luma of photo patches    the grey input as it is

plus, for every task, the same U-Net trained with L1 only (``task.adv_weight=0``, no discriminator) and
the pix2pix GAN, each trained from scratch by its recipe for the same wall-clock budget (``--budget``).
The classical denoisers' strength (NL-means h, TV weight) is chosen on 200 *training* images, never on
the test images. Metrics: PSNR and SSIM (gankit.metrics.restoration, equal to scikit-image's), on digits
FID of the outputs against the whole MNIST test split and the built-in classifier's accuracy on them
(did the digit survive?), on photos the PSNR of the Lab chroma channels a, b and the colourfulness of
Hasler and Suesstrunk (2003). Pictures: docs/images/apps_<task>.png, one row per test image:
input | each contender | target.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench import common

TASKS: dict[str, dict[str, Any]] = {
    "superres": {"recipe": "pix2pix-superres", "what": "x4 super-resolution (7x7 block means -> 28x28)"},
    "inpaint": {"recipe": "pix2pix-inpaint", "what": "inpainting of the centred 14x14 hole", "holes": ("center",)},
    "denoise": {"recipe": "pix2pix-denoise", "what": "denoising, Gaussian noise sigma = 50 of 255"},
    "colorize": {"recipe": "pix2pix-colorize", "what": "colorization of 32x32 photo patches from BT.601 luma",
                 "data": "photos"},
}
LEARNED = {"L1-only U-Net": 0.0, "pix2pix GAN": 1.0}  # task.adv_weight
SIGMA = 50.0


# ---------------------------------------------------------------------------------------------
# classical methods: uint8 (N, C, h, w) degraded (+ mask) -> uint8 (N, C, H, W)

def _pillow_resize(method: int) -> Callable[..., torch.Tensor]:
    def upsample(low: torch.Tensor, mask: Any, size: tuple[int, int]) -> torch.Tensor:
        out = [np.asarray(Image.fromarray(im[0].numpy()).resize(size[::-1], method)) for im in low]
        return torch.from_numpy(np.stack(out)).unsqueeze(1)
    return upsample


def _per_image(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[..., torch.Tensor]:
    def apply(images: torch.Tensor, mask: Any, size: tuple[int, int]) -> torch.Tensor:
        out = [fn(im[0].numpy() / 255.0) if mask is None else fn(im[0].numpy() / 255.0, mask[i].numpy().astype(bool))
               for i, im in enumerate(images)]
        return torch.from_numpy(np.rint(np.clip(np.stack(out), 0, 1) * 255).astype(np.uint8)).unsqueeze(1)
    return apply


def biharmonic() -> Callable[..., torch.Tensor]:
    from skimage.restoration import inpaint_biharmonic

    return _per_image(lambda im, m: inpaint_biharmonic(im, m))


def nl_means(h: float) -> Callable[..., torch.Tensor]:
    from skimage.restoration import denoise_nl_means

    s = SIGMA / 255
    return _per_image(lambda im: denoise_nl_means(im, h=h * s, sigma=s, fast_mode=True, patch_size=5,
                                                  patch_distance=6))


def tv(weight: float) -> Callable[..., torch.Tensor]:
    from skimage.restoration import denoise_tv_chambolle

    return _per_image(lambda im: denoise_tv_chambolle(im, weight=weight))


def grey_input(luma: torch.Tensor, mask: Any, size: tuple[int, int]) -> torch.Tensor:
    return luma.expand(-1, 3, -1, -1).contiguous()


def tune_denoiser(make: Callable[[float], Callable[..., torch.Tensor]], values: tuple[float, ...],
                  train_clean: torch.Tensor) -> tuple[float, float]:
    """The parameter with the best mean PSNR on training images (noise of another seed): (value, psnr)."""
    from gankit.data.degrade import denoise
    from gankit.metrics.restoration import psnr

    noisy = denoise(train_clean, SIGMA, torch.Generator().manual_seed(123))
    scores = {v: float(psnr(make(v)(noisy, None, train_clean.shape[2:]), train_clean).mean()) for v in values}
    best = max(scores, key=scores.__getitem__)
    return best, scores[best]


# ---------------------------------------------------------------------------------------------
# metrics

def colourfulness(images: torch.Tensor) -> float:
    """Hasler & Suesstrunk (2003), mean over images: sigma_rgyb + 0.3 mu_rgyb, rg = R - G, yb = (R + G) / 2 - B."""
    x = images.double()
    rg, yb = x[:, 0] - x[:, 1], 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    sigma = (rg.flatten(1).std(1, unbiased=False) ** 2 + yb.flatten(1).std(1, unbiased=False) ** 2).sqrt()
    mu = (rg.flatten(1).mean(1) ** 2 + yb.flatten(1).mean(1) ** 2).sqrt()
    return float((sigma + 0.3 * mu).mean())


def psnr_ab(images: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR of the CIE Lab chroma channels a, b (range taken as 255), mean over images."""
    from skimage.color import rgb2lab

    lab = lambda t: rgb2lab(t.permute(0, 2, 3, 1).numpy() / 255.0)[..., 1:]  # noqa: E731
    mse = ((lab(images) - lab(target)) ** 2).reshape(len(images), -1).mean(1)
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-12))))


def score(task: str, out: torch.Tensor, clean: torch.Tensor, labels: torch.Tensor | None, ref: str,
          data_root: str) -> dict[str, float]:
    from gankit.metrics.evaluate import classify, evaluate
    from gankit.metrics.restoration import psnr, ssim

    row = {"psnr": float(psnr(out, clean).mean()), "ssim": float(ssim(out, clean).mean())}
    if task == "colorize":
        row.update(psnr_ab=psnr_ab(out, clean), colourfulness=colourfulness(out))
    else:
        row["fid"] = evaluate(out, ref, "fid", extractor="mnist", data_root=data_root)["fid"]
        if labels is not None:
            row["class_acc"] = float((classify(out) == labels).float().mean())
    return {k: round(v, 4) for k, v in row.items()}


# ---------------------------------------------------------------------------------------------
# the run

def train_learned(task: str, adv: float, data: str, data_root: str, budget: float, threads: int,
                  runs_dir: Path) -> Any:
    from gankit.app.training import train

    out = runs_dir / f"{task}-{'gan' if adv else 'l1'}"
    shutil.rmtree(out, ignore_errors=True)  # the bench's own run folder from an earlier invocation
    return train(recipe=TASKS[task]["recipe"], data=data, data_root=data_root, max_time=budget, out=str(out),
                 quiet=True, tensorboard=False, report=False,
                 **{"task.adv_weight": adv, "train.threads": threads, "log.checkpoint_every": 10**9,
                    "log.sample_every": 10**9})


def run(data: str, data_root: str, budget: float, n_test: int = 2000, threads: int = 1, tasks: list[str] | None = None,
        plots: Path | None = None, suffix: str = "", runs_dir: Path = Path("runs/bench-apps")) -> dict[str, Any]:
    from gankit.data.degrade import degrade
    from gankit.restore import Degraded, restore
    from gankit.tasks.pix2pix import Pix2PixTask

    torch.set_num_threads(threads)
    result: dict[str, Any] = {"machine": common.machine(), "budget_s": budget, "n_test": n_test, "data": data,
                              "tasks": {}}
    for task in tasks or list(TASKS):
        spec = TASKS[task]
        t0 = time.perf_counter()
        task_data = spec.get("data", data)
        test = common.load_images(task_data, data_root, limit=n_test, split="test")
        clean, labels = test.images, test.labels if task != "colorize" else None
        ref = f"{task_data}:test"
        cfg = common.gankit_config(spec["recipe"], {"data.name": task_data})
        settings = Pix2PixTask.read_settings(cfg)
        holes = spec.get("holes", tuple(settings.holes.split(",")))
        low, mask = degrade(clean, settings.degradation, scale=settings.scale, sigma=settings.sigma, holes=holes,
                            generator=torch.Generator().manual_seed(0))
        size = tuple(clean.shape[2:])
        classical: dict[str, Callable[..., torch.Tensor]] = {}
        tuned: dict[str, Any] = {}
        if task == "superres":
            classical = {"bicubic (Pillow)": _pillow_resize(Image.BICUBIC),
                         "Lanczos (Pillow)": _pillow_resize(Image.LANCZOS)}
        elif task == "inpaint":
            classical = {"biharmonic (skimage)": biharmonic()}
        elif task == "denoise":
            train_clean = common.load_images(task_data, data_root, limit=200, split="train").images
            h, _ = tune_denoiser(nl_means, (0.6, 0.8, 1.0, 1.2), train_clean)
            w, _ = tune_denoiser(tv, (0.05, 0.1, 0.15, 0.2, 0.3), train_clean)
            tuned = {"nl_means_h_over_sigma": h, "tv_weight": w}
            classical = {f"non-local means (skimage, h={h:g} sigma)": nl_means(h),
                         f"total variation (skimage, weight {w:g})": tv(w)}
        else:
            classical = {"grey input": grey_input}
        outputs = {name: fn(low, mask, size) for name, fn in classical.items()}
        trained: dict[str, Any] = {}
        for name, adv in LEARNED.items():
            r = train_learned(task, adv, task_data, data_root, budget, threads, runs_dir)
            trained[name] = {"steps": r.trainer.step, "train_s": round(r.trainer.elapsed, 1)}
            restored = restore(r, Degraded(low, mask, None), settings)
            outputs[name], shown = restored.images, restored.shown
        rows = {name: score(task, out, clean, labels, ref, data_root) for name, out in outputs.items()}
        if task == "colorize":
            rows["real patches"] = {"colourfulness": round(colourfulness(clean), 4)}
        result["tasks"][task] = {"what": spec["what"], "rows": rows, "trained": trained, "tuned": tuned,
                                 "n": len(clean), "wall_s": round(time.perf_counter() - t0, 1)}
        if plots is not None:
            result["tasks"][task]["picture"] = str(picture(task, shown, outputs, clean, plots / f"apps_{task}{suffix}.png",
                                                           result["machine"]))
        print(f"apps {task}: {result['tasks'][task]['wall_s']:.0f} s", flush=True)
    result["targets"] = targets(result)
    return result


def picture(task: str, shown: torch.Tensor, outputs: dict[str, torch.Tensor], clean: torch.Tensor, path: Path,
            m: dict[str, Any], n: int = 8) -> Path:
    """One row per test image (n spread evenly over the test set): input | each contender (in the table's
    order) | target, with a header row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pick = torch.linspace(0, len(clean) - 1, n).round().long()
    cols = [("input", shown[pick])] + [(k, v[pick]) for k, v in outputs.items()] + [("target", clean[pick])]
    fig, axes = plt.subplots(n, len(cols), figsize=(1.25 * len(cols), 1.25 * n + 0.6))
    for j, (name, images) in enumerate(cols):
        for i in range(n):
            ax = axes[i, j]
            im = images[i].permute(1, 2, 0).numpy()
            ax.imshow(im[..., 0] if im.shape[-1] == 1 else im, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name.replace(" (", "\n("), fontsize=6.5)
    return common.save_figure(fig, path, m)


# ---------------------------------------------------------------------------------------------
# the targets, met or missed, with the numbers

def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    t = result["tasks"]
    out = []

    def add(task: str, target: str, met: bool, numbers: str) -> None:
        out.append({"task": task, "target": target, "met": bool(met), "numbers": numbers})

    gan = "pix2pix GAN"
    if "superres" in t:
        r = t["superres"]["rows"]
        g, b, l1 = r[gan], r["bicubic (Pillow)"], r["L1-only U-Net"]
        add("superres", "PSNR at least 3 dB above bicubic", g["psnr"] >= b["psnr"] + 3,
            f"GAN {g['psnr']:.2f} dB vs bicubic {b['psnr']:.2f} dB ({g['psnr'] - b['psnr']:+.2f} dB)")
        add("superres", "FID below the L1-only U-Net's", g["fid"] < l1["fid"],
            f"GAN {g['fid']:.2f} vs L1-only {l1['fid']:.2f}")
    if "inpaint" in t:
        r = t["inpaint"]["rows"]
        g, b = r[gan], r["biharmonic (skimage)"]
        add("inpaint", "FID at least 3x lower than biharmonic's", g["fid"] * 3 <= b["fid"],
            f"GAN {g['fid']:.2f} vs biharmonic {b['fid']:.2f} ({b['fid'] / g['fid']:.1f}x lower)")
        if "class_acc" in g:
            add("inpaint", "classifier accuracy on the restored digits at least 90 %", g["class_acc"] >= 0.9,
                f"GAN {100 * g['class_acc']:.1f} % (biharmonic {100 * b['class_acc']:.1f} %)")
    if "denoise" in t:
        r = t["denoise"]["rows"]
        g = r[gan]
        nlm_name = next(k for k in r if k.startswith("non-local means"))
        add("denoise", "PSNR above non-local means", g["psnr"] > r[nlm_name]["psnr"],
            f"GAN {g['psnr']:.2f} dB vs non-local means {r[nlm_name]['psnr']:.2f} dB")
    if "colorize" in t:
        r = t["colorize"]["rows"]
        g, grey, l1, real = r[gan], r["grey input"], r["L1-only U-Net"], r["real patches"]["colourfulness"]
        add("colorize", "chroma (ab) PSNR above the grey input's", g["psnr_ab"] > grey["psnr_ab"],
            f"GAN {g['psnr_ab']:.2f} dB vs grey {grey['psnr_ab']:.2f} dB")
        dev = lambda c: abs(c - real) / real  # noqa: E731
        add("colorize", "colourfulness within 20 % of the real patches'", dev(g["colourfulness"]) <= 0.2,
            f"GAN {g['colourfulness']:.1f} vs real {real:.1f} ({100 * dev(g['colourfulness']):.0f} % off)")
        add("colorize", "the L1-only U-Net's colourfulness falls short (more than 20 % off)",
            dev(l1["colourfulness"]) > 0.2,
            f"L1-only {l1['colourfulness']:.1f} vs real {real:.1f} ({100 * dev(l1['colourfulness']):.0f} % off)")
    return out


def markdown(result: dict[str, Any]) -> str:
    cols = [("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 4), ("fid", "FID", 2), ("class_acc", "class acc.", 3),
            ("psnr_ab", "PSNR ab (dB)", 2), ("colourfulness", "colourfulness", 1)]
    parts = []
    for t in result["tasks"].values():
        present = [c for c in cols if any(c[0] in row for row in t["rows"].values())]
        lines = [f"**{t['what']}**, {t['n']} test images", "",
                 "| method | " + " | ".join(c[1] for c in present) + " |",
                 "|---|" + "---:|" * len(present)]
        for name, row in t["rows"].items():
            extra = (f" ({t['trained'][name]['steps']} steps, {t['trained'][name]['train_s']:.0f} s)"
                     if name in t["trained"] else "")
            cells = [(f"{row[k]:.{d}f}" if k in row else "") for k, _, d in present]
            lines.append(f"| {name}{extra} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    rows = ["| task | target | met | numbers |", "|---|---|---|---|"]
    rows += [f"| {x['task']} | {x['target']} | {'met' if x['met'] else '**missed**'} | {x['numbers']} |"
             for x in result.get("targets", [])]
    return "\n\n".join(parts) + "\n\n" + "\n".join(rows)
