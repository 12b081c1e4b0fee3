"""Run docs/tutorial.md's shell commands exactly as written, then copy the pictures they produce into
docs/images/ (and record how long each took in docs/images/runs.json).

    .venv/bin/python docs/build_tutorial_images.py        # from the repository root; ~30 min on 2 CPU cores

The commands run one at a time with OMP_NUM_THREADS=1 (a shared 2-core machine); the machine, the torch
version and the wall times go into runs.json so the tutorial can quote them.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "tutorial.md"
IMAGES = REPO / "docs" / "images"
BIN = Path(sys.executable).parent
RUNS = ("mlp-gan", "dcgan", "wgan", "wgan-gp", "cgan")


def shell_commands(markdown: str) -> list[str]:
    """The `gankit ...` lines of the ```bash blocks, in order (comments stripped)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():  # join continued lines
            line = " ".join(line.split(" #", 1)[0].split())
            if line.startswith("gankit "):
                out.append(line)
    return out


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    import torch

    os.chdir(REPO)
    shutil.rmtree("runs/tutorial", ignore_errors=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    log = {"machine": f"{cpu_model()}, {os.cpu_count()} cores (shared), torch {torch.__version__}, "
                      f"OMP_NUM_THREADS=1", "commands": []}
    for cmd in shell_commands(DOC.read_text(encoding="utf-8")):
        print(f"$ {cmd}", flush=True)
        argv = shlex.split(cmd)
        started = time.perf_counter()
        subprocess.run([str(BIN / argv[0]), *argv[1:]],
                       check=True, env=env)
        log["commands"].append({"command": cmd, "wall_seconds": round(time.perf_counter() - started, 1)})
    runs = Path("runs/tutorial")
    for name in RUNS:
        d = runs / name
        if name != "cgan":  # the conditional run is shown by its per-class grid instead
            shutil.copyfile(d / "samples" / "final.png", IMAGES / f"{name}-final.png")
        log[name] = summarize(d)
    shutil.copyfile(runs / "dcgan" / "progress.gif", IMAGES / "dcgan-progress.gif")
    per_class_grid(runs / "cgan", IMAGES / "cgan-classes.png")
    from gankit.report import compare_runs

    compare_runs([runs / n for n in RUNS], keys=["fid"]).write(IMAGES / "compare.png")
    screenshot(runs / "dcgan" / "report.html", IMAGES / "report.png")
    (IMAGES / "runs.json").write_text(json.dumps(log, indent=2) + "\n")
    print(json.dumps(log, indent=2))


def summarize(run_dir: Path) -> dict:
    """What the tutorial quotes about a run: length, the evaluations, the first and last losses."""
    import gankit

    rows = gankit.load_run(run_dir).metrics()
    summary = json.loads((run_dir / "summary.json").read_text())
    evals = [r for r in rows if "fid" in r]
    losses = [r for r in rows if "d_loss" in r]
    pick = lambda r, keys: {k: r[k] for k in keys if k in r}  # noqa: E731
    return {"steps": summary["steps"], "epochs": summary["epochs"], "train_seconds": summary["train_seconds"],
            "evaluations": len(evals), "eval_seconds": round(sum(r["eval_seconds"] for r in evals), 1),
            "fid_min": min(r["fid"] for r in evals), "fid_max": max(r["fid"] for r in evals),
            "first_eval": pick(evals[0], ("step", "fid", "precision", "recall")),
            "last_eval": pick(evals[-1], ("step", "fid", "precision", "recall")),
            "first_losses": pick(losses[0], ("step", "d_loss", "g_loss")),
            "last_losses": pick(losses[-1], ("step", "d_loss", "g_loss")),
            "d_loss_range": [min(r["d_loss"] for r in losses), max(r["d_loss"] for r in losses)]}


def per_class_grid(run_dir: Path, out: Path) -> None:
    """The report's per-class grid as a file: one row per digit, 10 latents each."""
    import torch

    import gankit
    from gankit.report.images import grid_image, label_rows

    run = gankit.load_run(run_dir)
    labels = torch.arange(run.num_classes).repeat_interleave(10)
    grid = grid_image(run.sample(len(labels), seed=0, y=labels), nrow=10)
    label_rows(grid, run.class_names, rows=run.num_classes).save(out)


def screenshot(page: Path, out: Path) -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        print("chromium not installed (make browser); no report screenshot")
        return
    profile = Path("/tmp") / f"gankit-shot-{os.getpid()}"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                    "--hide-scrollbars", "--window-size=1200,1500", f"--screenshot={out}", page.resolve().as_uri()],
                   check=True, capture_output=True)
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
