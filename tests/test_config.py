import pytest
import yaml

from gankit import config as cfgmod
from gankit.app.training import resolve_config
from gankit.errors import ConfigError


def test_defaults_validate_and_round_trip(tmp_path):
    cfg = resolve_config("dcgan", None, {"steps": 10})
    path = tmp_path / "config.yaml"
    cfgmod.save(cfg, path)
    assert cfgmod.load(path) == cfg


def test_layering_recipe_then_file_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({"recipe": "mlp-gan", "train": {"batch_size": 32}, "optim": {"lr_d": 1e-3}}))
    cfg = resolve_config(None, f, {"batch_size": 64})
    assert cfg.recipe == "mlp-gan"
    assert cfg.model.generator == "mlp"  # from the recipe
    assert cfg.optim.lr_d == 1e-3  # file beats recipe
    assert cfg.train.batch_size == 64  # flag beats file


def test_user_stopping_rule_replaces_recipe_steps():
    cfg = resolve_config("dcgan", None, {"max_time": "10m"})
    assert cfg.train.max_time == 600 and cfg.train.steps is None
    assert resolve_config("dcgan").train.steps is not None


def test_lr_shortcut_sets_both_networks():
    cfg = resolve_config("dcgan", None, {"lr": 1e-3})
    assert cfg.optim.lr_g == cfg.optim.lr_d == 1e-3


@pytest.mark.parametrize("key,value,needle", [
    ("train.bach_size", 3, "did you mean 'train.batch_size'"),
    ("trian.steps", 3, "unknown key 'trian'"),
    ("train.batch_size", 0, "train.batch_size"),
    ("optim.lr_g", 5.0, "optim.lr_g"),
    ("train.device", "gpu", "train.device"),
    ("data.channels", 2, "data.channels"),
    ("model.g_hidden", [256, -1], "model.g_hidden"),
])
def test_invalid_values_give_one_line_naming_the_key(key, value, needle):
    with pytest.raises(ConfigError) as info:
        resolve_config("dcgan", None, {key: value})
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_newer_config_version_refused(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("version: 99\n")
    with pytest.raises(ConfigError, match="newer gankit"):
        resolve_config(None, f)


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert cfgmod.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "m", "-5m", "1h30"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        cfgmod.parse_duration(text)


def test_config_file_problems_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve_config(None, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        resolve_config(None, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_config(None, listy)


def test_override_parsing():
    assert cfgmod.parse_override("optim.lr_d=4e-4") == ("optim.lr_d", 4e-4)
    assert cfgmod.parse_override("model.g_hidden=[8, 16]") == ("model.g_hidden", [8, 16])
    with pytest.raises(ConfigError):
        cfgmod.parse_override("no-equals-sign")
