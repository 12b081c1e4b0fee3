"""Typed run configuration: one place for every hyperparameter, its default and its bounds.

A run's config is resolved in layers — defaults < recipe < config file < command-line overrides — then
validated once and saved into the run directory, so every run can be repeated from its folder.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gankit.errors import ConfigError, first_line

CONFIG_VERSION = 1
MAX_SEED = 2**63 - 1  # the largest seed torch.Generator.manual_seed accepts
DEVICE_PATTERN, DEVICE_CHOICES = r"auto|cpu|cuda(:\d+)?|mps", "auto, cpu, cuda, cuda:N or mps"  # --device, train.device


class Section(BaseModel):
    # extra="forbid" turns a typo in a key into an error instead of a silently ignored setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(Section):
    name: str = Field("digits", min_length=1, description="dataset name (digits, mnist, fashion-mnist) or a path")
    root: str = Field("data", description="folder holding named datasets (ROOT/MNIST/raw/...)")
    split: Literal["train", "test"] = Field("train", description="which split of a named dataset")
    resolution: int | None = Field(None, ge=4, le=1024, description="resize images to this size")
    channels: Literal[1, 3] | None = Field(None, description="convert images to 1 or 3 channels")
    limit: int | None = Field(None, gt=0, description="use only the first N images")
    download: bool = Field(True, description="download a missing named dataset when online")
    classes: list[int] | None = Field(None, min_length=1, description="train on these classes only, e.g. [0] "
                                      "(labels as in the dataset: 7 stays 7); default all")
    labels_per_class: int | None = Field(None, gt=0, description="keep the labels of only N images per class of "
                                         "the training split, chosen by data.label_seed (semi-supervised)")
    label_seed: int = Field(0, ge=0, description="seed of the labels_per_class selection (recorded in "
                            "RUN_DIR/selection.json)")


class ModelConfig(Section):
    generator: str = Field("dcgan", description="generator architecture (registry name)")
    discriminator: str = Field("dcgan", description="discriminator architecture (registry name)")
    z_dim: int = Field(100, gt=0, le=4096, description="latent dimension")
    width: int = Field(64, gt=0, le=2048, description="base channel count of conv models")
    g_hidden: list[int] = Field([256, 512, 1024], description="hidden sizes of the MLP generator")
    d_hidden: list[int] = Field([1024, 512, 256], description="hidden sizes of the MLP discriminator")
    d_dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout in the MLP discriminator")
    d_norm: Literal["batch", "layer", "none"] = Field(
        "batch", description="normalisation in conv discriminators (WGAN-GP asks for layer or none)")
    spectral_norm: bool = Field(False, description="spectral normalisation of every D layer (Miyato et al. 2018)")
    minibatch_std: bool = Field(False, description="D sees the batch's mean feature standard deviation as one more "
                                "feature: a collapsed batch looks fake (Karras et al. 2018; Salimans et al. 2016)")
    conditional: bool = Field(False, description="condition G and D on the dataset's class labels")
    conditioning: Literal["onehot", "embed", "projection", "acgan"] = Field(
        "onehot", description="how labels enter: onehot/embed concatenated to G's z and D's input (Mirza & "
        "Osindero 2014), projection D (Miyato & Koyama 2018), acgan auxiliary classifier D (Odena et al. 2017)")
    info_categories: int = Field(0, ge=0, le=1000, description="InfoGAN: values of the categorical code (0: none)")
    info_continuous: int = Field(0, ge=0, le=64, description="InfoGAN: number of continuous U(-1, 1) codes")

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _positive_sizes(cls, sizes: list[int]) -> list[int]:
        if not sizes or any(s <= 0 for s in sizes):
            raise ValueError("hidden sizes must be a non-empty list of positive integers")
        return sizes


class LossConfig(Section):
    name: str = Field("bce", description="adversarial loss (registry name)")
    g_form: Literal["non-saturating", "minimax"] = Field(
        "non-saturating", description="generator objective of the BCE loss (Goodfellow et al. 2014)"
    )
    adversarial: str = Field("bce", description="adversarial loss under the acgan/infogan auxiliary losses")
    aux_weight: float = Field(1.0, ge=0.0, description="weight of the ACGAN class / InfoGAN code loss")
    info_continuous_weight: float = Field(
        0.1, ge=0.0, description="InfoGAN: weight of the continuous-code (Gaussian) term relative to the categorical")


class OptimConfig(Section):
    name: Literal["adam", "rmsprop", "sgd"] = "adam"
    lr_g: float = Field(2e-4, gt=0.0, le=1.0, description="generator learning rate")
    lr_d: float = Field(2e-4, gt=0.0, le=1.0, description="discriminator learning rate")
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    n_critic: int = Field(1, ge=1, le=100, description="discriminator steps per generator step")


class TrainConfig(Section):
    batch_size: int = Field(128, gt=0, le=65536)
    epochs: float | None = Field(None, gt=0, description="stop after this many passes over the data")
    steps: int | None = Field(None, gt=0, description="stop after this many generator steps")
    max_time: float | None = Field(None, gt=0, description="stop after this many seconds")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seeds weights, latents and data order")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    threads: int | Literal["auto"] | None = Field(
        None, description="CPU threads: None = torch's default (OMP_NUM_THREADS or the cores), 'auto' = the "
                          "cores idle at the start (faster on a busy machine, but results then depend on the load)")

    @field_validator("threads")
    @classmethod
    def _threads(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1, 'auto' or null")
        return value

    @field_validator("max_time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(DEVICE_PATTERN, value):
            raise ValueError(f"must be {DEVICE_CHOICES}")
        return value


class RegConfig(Section):
    gp_weight: float = Field(0.0, ge=0.0, description="WGAN-GP gradient penalty lambda (Gulrajani et al. 2017; 0: off)")
    r1_gamma: float = Field(0.0, ge=0.0, description="R1 penalty gamma on real images (Mescheder et al. 2018; 0: off)")
    r1_every: int = Field(1, ge=1, description="lazy R1: apply every k steps, scaled by k (Karras et al. 2020)")
    weight_clip: float | None = Field(None, gt=0.0, description="clip D weights to [-c, c] (WGAN, c=0.01)")


class EMAConfig(Section):
    enabled: bool = Field(False, description="keep an EMA of G's weights and sample/evaluate with it")
    half_life: float = Field(10000.0, gt=0.0, description="EMA half-life in images (StyleGAN2: 10k)")
    decay: float | None = Field(None, gt=0.0, lt=1.0, description="fixed per-step decay instead of half_life")
    start: int = Field(0, ge=0, description="copy G into the EMA for this many steps before averaging")
    rampup: float | None = Field(0.05, gt=0.0, description="cap the half-life at this fraction of the images seen "
                                 "so far (StyleGAN2-ADA's ema_rampup), so a young EMA is not the random start; "
                                 "null: off")


class AugmentConfig(Section):
    policy: str = Field("", description="DiffAugment ops on real and fake (Zhao et al. 2020): color,translation,cutout")
    instance_noise: float = Field(0.0, ge=0.0, description="std of Gaussian noise on D inputs, annealed to 0")

    @field_validator("policy")
    @classmethod
    def _known_ops(cls, value: str) -> str:
        ops = [op.strip() for op in value.split(",") if op.strip()]
        bad = [op for op in ops if op not in ("color", "translation", "cutout")]
        if bad:
            raise ValueError(f"unknown DiffAugment op {bad[0]!r}; choose from color, translation, cutout")
        return ",".join(ops)


class StabilizeConfig(Section):
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="one-sided: real target 1-s (Salimans et al. 2016)")
    label_flip: float = Field(0.0, ge=0.0, lt=0.5, description="probability of swapping D's real/fake targets")
    grad_clip_d: float | None = Field(None, gt=0.0, description="clip D's gradient norm to this value")
    grad_clip_g: float | None = Field(None, gt=0.0, description="clip G's gradient norm to this value")
    historical_averaging: float = Field(0.0, ge=0.0, description="weight w of w * ||theta - mean of past theta||^2 "
                                        "on D's and G's parameters (Salimans et al. 2016); 0: off")
    feature_matching: bool = Field(False, description="G matches the mean of D's features on the real batch instead "
                                   "of fooling D: ||E f(x) - E f(G(z))||^2 (Salimans et al. 2016)")


class GuardConfig(Section):
    enabled: bool = Field(True, description="check losses, gradients and weights for NaN/Inf after every step")
    action: Literal["lower_lr", "skip"] = Field(
        "lower_lr", description="after a non-finite step roll back, then lower both learning rates or just skip the batch")
    lr_factor: float = Field(0.5, gt=0.0, lt=1.0, description="learning-rate multiplier per rollback (action lower_lr)")
    max_failures: int = Field(5, ge=1, le=10000, description="stop after this many non-finite steps in one run")
    snapshot_every: int = Field(
        10, ge=1, description="steps between in-memory good states to roll back to (1: exact, costs a copy per step)")
    collapse_every: int | None = Field(None, ge=1, description="steps between mode-collapse checks (default: log.sample_every)")
    collapse_ratio: float = Field(
        0.1, ge=0.0, lt=1.0, description="warn when fixed-latent sample diversity falls below this fraction of its peak (0: off)")


class LogConfig(Section):
    log_every: int = Field(50, gt=0, description="steps between metrics.jsonl lines")
    sample_every: int = Field(500, gt=0, description="steps between sample grids")
    checkpoint_every: int = Field(1000, gt=0, description="steps between checkpoints")
    keep_checkpoints: int = Field(3, ge=1, description="how many recent checkpoints to keep")
    n_samples: int = Field(64, gt=0, le=1024, description="images in the fixed-latent sample grid")
    progress: bool = Field(True, description="show a live progress bar")
    tensorboard: bool = Field(True, description="also log scalars and sample grids to RUN_DIR/tensorboard")
    report: bool = Field(True, description="write RUN_DIR/report.html and progress.gif when training ends")


class EvalConfig(Section):
    every: int | None = Field(None, gt=0, description="steps between evaluations (FID, KID, ...; default off)")
    metrics: str = Field("fid,kid,precision,recall", description="metrics to compute, as gankit eval --metrics "
                         "(names checked when a run is resolved, by gankit.app.training.check_config)")
    n_samples: int = Field(5000, ge=10, le=100_000, description="generated images per evaluation (fixed latents)")
    ref: str | None = Field(None, description="reference data (default: the dataset's test split)")
    extractor: str = Field("auto", description="feature extractor: auto, mnist, inception (gankit eval --extractor)")
    keep_best: bool = Field(True, description="keep the lowest-FID checkpoint, named in best.json, safe from pruning")


class PerfConfig(Section):
    """Speed settings; docs/performance.md measures each one's speed-up and its effect on FID."""
    reuse_fake: bool = Field(
        True, description="the G step reuses the last D step's fake batch (one G forward per step, as the DCGAN "
        "reference code) instead of drawing new latents")
    fused_optimizer: bool = Field(True, description="fused Adam/SGD kernels (torch fused=True): same update, one pass")
    channels_last: bool = Field(False, description="NHWC memory format for conv models (oneDNN's native layout)")
    autocast: Literal["off", "bf16", "auto"] = Field(
        "off", description="bf16 autocast of G and D forwards; auto: bf16 where the hardware has it natively "
        "(AMX/AVX512-BF16 CPUs, bf16 GPUs), else off")
    compile: bool = Field(False, description="torch.compile G and D (first steps compile, tens of seconds)")


class TaskConfig(Section):
    """The task's name and its own keys; the task validates those keys against its ``Settings``."""
    model_config = ConfigDict(extra="allow", validate_assignment=True, allow_inf_nan=False)
    name: str = Field("gan", min_length=1, description="what is trained: gan (z -> image), or a registered "
                      "task / an import path module:Class")


class Config(Section):
    version: int = CONFIG_VERSION
    recipe: str | None = Field(None, description="named recipe the config started from")
    name: str | None = Field(None, description="run name (default: recipe-data-time)")
    out: str | None = Field(None, description="run directory (default: runs/NAME)")
    task: TaskConfig = TaskConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    log: LogConfig = LogConfig()
    guard: GuardConfig = GuardConfig()
    reg: RegConfig = RegConfig()
    ema: EMAConfig = EMAConfig()
    augment: AugmentConfig = AugmentConfig()
    stabilize: StabilizeConfig = StabilizeConfig()
    eval: EvalConfig = EvalConfig()
    perf: PerfConfig = PerfConfig()

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > CONFIG_VERSION:
            raise ValueError(f"written by a newer gankit (format {value} > {CONFIG_VERSION}); upgrade gankit")
        return value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------------------------
# building, merging and validating


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h', '1h30m' -> seconds."""
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise ValueError(f"cannot read duration {text!r}; use seconds or e.g. 90s, 10m, 1h30m")
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * scale[u] for n, u in parts)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def dotted_to_nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{'train.batch_size': 64} -> {'train': {'batch_size': 64}}."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config key {key!r}: {p!r} is not a section")
        node[leaf] = value
    return nested


def parse_override(text: str) -> tuple[str, Any]:
    """'optim.lr_d=4e-4' -> ('optim.lr_d', 0.0004); values are read as YAML scalars/lists."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML 1.1 reads '4e-4' as text; numbers should be numbers
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def build_config(*layers: dict[str, Any]) -> Config:
    """Merge nested dicts left to right over the defaults and validate the result."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    return validate(merged)


def validate(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {one_line_error(exc)}") from None


def one_line_error(exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = "") -> str:
    """Every validation error of ``model`` (default: Config) in one line, keys dotted from ``prefix``."""
    messages = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        if err["type"] == "extra_forbidden":
            messages.append(f"unknown key {loc!r}{_suggest(err['loc'], model or Config, prefix)}")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            messages.append(f"{loc}: {err['msg']}{shown}")
    return "; ".join(messages)


def _suggest(loc: tuple[Any, ...], model: type[BaseModel], prefix: str = "") -> str:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return ""
        model = field.annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    prefix = ".".join(str(p) for p in (prefix, *loc[:-1]) if p != "")
    return f" (did you mean {(prefix + '.' if prefix else '') + close[0]!r}?)" if close else ""


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file as a nested dict (validated later, with the other layers)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        first = first_line(exc)
        raise ConfigError(f"cannot read config file {p}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of sections, not {type(data).__name__}")
    return data


def save(config: Config, path: str | Path) -> None:
    from gankit.utils import atomic_write_text  # lazy: utils loads torch, and the CLI reads configs without it

    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))


def load(path: str | Path) -> Config:
    return validate(load_file(path), source=str(path))
