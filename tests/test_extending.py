"""docs/extending.md holds: plugins by import path train, sample, evaluate, report and resume from the CLI."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from gankit.app.cli import main
from gankit.engine.checkpoint import list_checkpoints, load_checkpoint
from gankit.errors import ConfigError
from gankit.registry import import_plugin

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
QUICK = ["--data", "digits", "--steps", "6", "--batch-size", "16", "--set", "data.limit=128", "--set", "log.checkpoint_every=3",
         "--quiet", "--no-tensorboard"]


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    for example in EXAMPLES.glob("*.py"):
        shutil.copy(example, tmp_path)
    monkeypatch.chdir(tmp_path)  # the plugins are found beside the user, as `python -m` finds modules
    return tmp_path


def test_the_docs_show_the_example_files_verbatim():
    text = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    for example in EXAMPLES.glob("*.py"):
        assert example.read_text(encoding="utf-8") in blocks, f"docs/extending.md does not show {example.name} as it is"


def test_a_generator_by_import_path_trains_samples_evaluates_and_resumes(workdir, capsys):
    assert main(["train", *QUICK, "--set", "model.generator=tiny_nets:TinyGenerator", "--out", "runs/tiny"]) == 0
    assert "tiny_nets:TinyGenerator" in (workdir / "runs/tiny/config.yaml").read_text()
    weights, _ = load_checkpoint(list_checkpoints(workdir / "runs/tiny")[-1])
    assert any(key.startswith("net.") for key in weights["G"])  # the plugin's own layers were trained and saved

    assert main(["sample", "runs/tiny", "-n", "8", "--out", "tiny.npz"]) == 0
    images = np.load(workdir / "tiny.npz")["images"]
    assert images.shape == (8, 28, 28, 1) and images.std() > 0

    assert main(["eval", "runs/tiny", "-n", "64", "--metrics", "fid", "--json", "scores.json"]) == 0
    assert np.isfinite(json.loads((workdir / "scores.json").read_text())["fid"])

    assert main(["report", "runs/tiny", "--no-gif"]) == 0
    assert main(["train", "--resume", "runs/tiny", "--steps", "9", "--quiet"]) == 0
    assert list_checkpoints(workdir / "runs/tiny")[-1].name == "step-00000009"


def test_a_task_by_import_path_trains_and_samples(workdir):
    assert main(["train", *QUICK, "--recipe", "dcgan", "--set", "model.width=8",
                 "--set", "task.name=feature_matching:FeatureMatchingGAN", "--out", "runs/fm"]) == 0
    weights, _ = load_checkpoint(list_checkpoints(workdir / "runs/fm")[-1])
    assert sorted(weights) == ["D", "G"]
    rows = [json.loads(line) for line in (workdir / "runs/fm/metrics.jsonl").read_text().splitlines()]
    assert {"d_loss", "g_loss"} <= set(rows[-1])
    assert main(["sample", "runs/fm", "-n", "4", "--out", "fm.png"]) == 0


def test_a_missing_plugin_is_one_line_and_writes_nothing(workdir, capsys):
    assert main(["train", *QUICK, "--set", "model.generator=nowhere:Gen", "--out", "runs/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: cannot import generator 'nowhere:Gen'") and "\n" not in err
    assert not (workdir / "runs/x").exists()


@pytest.mark.parametrize("spec, problem", [("os:system", "must be a class or a Python function"),
                                           ("collections:OrderedDict", "not a Module"),
                                           ("tiny_nets:nothing", "has no attribute 'nothing'")])
def test_plugins_that_are_not_what_they_claim_are_refused_before_anything_runs(workdir, spec, problem):
    with pytest.raises(ConfigError, match=problem):
        import_plugin(spec, "generator", nn.Module)


def test_a_plugin_that_builds_the_wrong_thing_is_named(workdir, capsys):
    (workdir / "bad_nets.py").write_text("def gen(cfg, shape, num_classes):\n    return 42\n")
    assert main(["train", *QUICK, "--set", "model.generator=bad_nets:gen", "--out", "runs/bad"]) == 2
    assert "generator 'bad_nets:gen' built a int, not a torch nn.Module" in capsys.readouterr().err
    assert not (workdir / "runs/bad").exists()
