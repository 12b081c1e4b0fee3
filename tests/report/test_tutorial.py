"""docs/tutorial.md runs as written: every `gankit ...` line and every Python block, in document order,
with tiny budgets appended (2 steps on 64 MNIST images) so the whole page runs in about a minute."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import gankit
from gankit.app.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
TINY_FLAGS = ["--steps", "2", "--batch-size", "8", "--set", "data.limit=64", "--set", "log.n_samples=4",
              "--set", "eval.n_samples=16", "--quiet"]
TINY_KWARGS = {"steps": 2, "batch_size": 8, "data.limit": 64, "log.n_samples": 4, "eval.n_samples": 16}


def blocks(markdown: str) -> list[tuple[str, str]]:
    """Fenced ```bash and ```python blocks, in order."""
    return re.findall(r"```(bash|python)\n(.*?)```", markdown, flags=re.S)


def gankit_lines(script: str) -> list[str]:
    script = script.replace("\\\n", " ")  # join continued lines
    return [" ".join(line.split(" #", 1)[0].split()) for line in script.splitlines()
            if line.strip().startswith("gankit ")]


def test_tutorial_lists_the_classic_programs():
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    trained = [shlex.split(c)[shlex.split(c).index("--recipe") + 1]
               for kind, body in blocks(text) if kind == "bash" for c in gankit_lines(body) if " train " in f" {c} "]
    assert trained == ["mlp-gan", "dcgan", "wgan", "wgan-gp", "cgan"]
    for image in re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", text):
        assert (DOCS / image).is_file(), f"tutorial shows {image}, which docs/build_tutorial_images.py did not make"
    zh = (DOCS / "tutorial.zh-CN.md").read_text(encoding="utf-8")
    assert [c for k, b in blocks(zh) if k == "bash" for c in gankit_lines(b)] == \
           [c for k, b in blocks(text) if k == "bash" for c in gankit_lines(b)], "the translation's commands drifted"


@pytest.mark.slow
def test_tutorial_commands_run_as_written(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    real_train = gankit.train
    monkeypatch.setattr(gankit, "train", lambda *a, **kw: real_train(*a, **{**kw, **TINY_KWARGS}))
    data_root = str(mnist_root)
    ran = []
    for kind, body in blocks((DOCS / "tutorial.md").read_text(encoding="utf-8")):
        if kind == "python":
            exec(compile(body.replace("../shared/data", data_root), "tutorial.md", "exec"), {})
            ran.append("python")
            continue
        for line in gankit_lines(body):
            argv = [data_root if a == "../shared/data" else a for a in shlex.split(line)[1:]]
            if argv[0] == "train":
                argv += TINY_FLAGS
            assert main(argv) == 0, line
            ran.append(argv[0])
    assert ran.count("train") == 5 and ran.count("python") == 5 and "compare" in ran and "report" in ran
    runs = tmp_path / "runs" / "tutorial"
    for name in ("mlp-gan", "mlp-gan-py", "dcgan", "dcgan-py", "wgan", "wgan-gp", "cgan"):
        assert (runs / name / "report.html").is_file() and (runs / name / "progress.gif").is_file(), name
    assert 'id="classes"' in (runs / "cgan" / "report.html").read_text(encoding="utf-8")
    assert (runs / "compare.html").is_file() and (runs / "dcgan-samples.png").is_file()
    assert "torch.Size([64, 1, 28, 28])" in capsys.readouterr().out  # printed by the Python block
