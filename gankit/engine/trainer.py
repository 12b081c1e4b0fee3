"""The one training engine every task runs on.

``Trainer.train_step`` is the whole optimisation core: for each phase of the task whose turn it is,
draw a batch (or hand on the previous phase's), ask the phase for its loss, and step its optimizer.
The engine never names a network or a loss. Around the core: EMA copies of the networks the task
names, speed settings (``perf``), the divergence guard, and callbacks for the housekeeping (logs,
samples, checkpoints, progress) between steps.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from gankit.config import Config, ConfigError
from gankit.data import BatchSampler, ImageDataset, load_dataset
from gankit.engine import perf
from gankit.engine.callbacks import Callback
from gankit.engine.ema import EMA
from gankit.engine.guard import DivergenceGuard, deferred_interrupts
from gankit.errors import CheckpointError, Interrupted, TrainingDiverged
from gankit.losses import Stats
from gankit.tasks import StepInfo, Task, build_task
from gankit.utils import eval_mode, resolve_device, resolve_threads, seed_everything


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Trainer:
    """A task, its data, and the counters that say where the run is."""

    def __init__(self, config: Config, dataset: ImageDataset | None = None):
        self.config = config
        tc = config.train
        torch.set_num_threads(resolve_threads(tc.threads))
        self.device = resolve_device(tc.device)
        seed_everything(tc.seed)
        self.dataset = dataset if dataset is not None else load_dataset(config.data)
        self.shape = self.dataset.shape
        self.task: Task = build_task(config, self.dataset, self.device)
        self.sampler = BatchSampler(self.dataset, tc.batch_size, tc.seed, self.device)
        self.ema: dict[str, EMA] = {}  # network name -> its average, stored as NAME_ema
        if config.ema.enabled:
            e = config.ema
            self.ema = {name: EMA(self.task.networks[name], e.half_life, e.decay, tc.batch_size, e.start, e.rampup)
                        for name in self.task.ema}
        perf.apply(self)  # channels_last, bf16 autocast, torch.compile, from the config
        self.guard = DivergenceGuard(config.guard, config.log.sample_every) if config.guard.enabled else None
        self.callbacks: list[Callback] = []

        self.step = 0  # steps done
        self.elapsed = 0.0  # training seconds, summed over resumed sessions
        self.stop_reason = ""
        self.interrupted_mid_step = False  # a second Ctrl-C: the state may be half a step on
        self.total_steps = self._total_steps()

    def _total_steps(self) -> int | None:
        tc, per_epoch = self.config.train, self.sampler.batches_per_epoch
        limits = []
        if tc.steps:
            limits.append(tc.steps)
        if tc.epochs:
            limits.append(max(1, math.ceil(tc.epochs * per_epoch / self.task.batches_per_step)))
        if not limits and not tc.max_time:
            raise ConfigError("config: set train.steps, train.epochs or train.max_time so training can end")
        return min(limits) if limits else None

    # ------------------------------------------------------------------------------------------
    # networks: the task's, and their averages

    @property
    def networks(self) -> dict[str, nn.Module]:
        """Every network a checkpoint stores, by name: the task's, then the EMA copies (NAME_ema)."""
        return {**self.task.networks, **{f"{name}_ema": ema.module for name, ema in self.ema.items()}}

    def sampling_networks(self) -> dict[str, nn.Module]:
        """The task's networks as samples should come from them: the EMA copy where there is one."""
        return {name: self.ema[name].module if name in self.ema else net for name, net in self.task.networks.items()}

    @torch.no_grad()
    def preview(self) -> torch.Tensor:
        """The task's fixed-input samples (grids, collapse watch), in eval mode: no BatchNorm update, no RNG."""
        nets = self.sampling_networks()
        with eval_mode(*nets.values()):
            return self.task.preview(nets)

    # ------------------------------------------------------------------------------------------
    # the optimisation core

    def train_step(self) -> Stats:
        stats: Stats = {}
        batch = None
        progress = self.progress
        for phase in self.task.phases:
            if self.step % phase.every:
                continue
            optimizer = self.task.optimizers[phase.optimizer]
            for i in range(phase.repeat):
                if phase.new_batch or batch is None:
                    batch = self.sampler.next()
                loss, phase_stats = phase.loss(batch, StepInfo(self.step, i, i == phase.repeat - 1, progress))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for hook in phase.after:
                    hook()
            stats.update(phase_stats)  # the last repetition's numbers
        for ema in self.ema.values():
            ema.update(self.step)
        self.step += 1
        return stats

    # ------------------------------------------------------------------------------------------
    # the loop, with housekeeping around the core

    def fit(self) -> Trainer:
        for cb in self.callbacks:
            cb.on_start(self)
        max_time = self.config.train.max_time
        started, base = time.perf_counter(), self.elapsed
        if self.guard is not None:
            self.guard.before_fit(self)
        # Ctrl-C / SIGTERM stop between steps, so the checkpoint written on the way out resumes exactly.
        signum = 0
        with deferred_interrupts() as interrupt_requested:
            try:
                while True:
                    if self.total_steps is not None and self.step >= self.total_steps:
                        self.stop_reason = f"reached {self.total_steps} steps"
                        break
                    if max_time is not None and self.elapsed >= max_time:
                        self.stop_reason = f"reached the time limit ({max_time:g} s)"
                        break
                    signum = interrupt_requested()
                    if signum:
                        self.stop_reason = "interrupted"
                        break
                    for net in self.task.networks.values():
                        net.train()
                    stats = self.train_step()
                    self.elapsed = base + time.perf_counter() - started
                    if self.guard is not None and not self.guard.after_step(self, stats):
                        if self.guard.stopped:  # rolled back to the last good state; callbacks save it
                            self.stop_reason = self.guard.message
                            break
                        continue  # a rolled-back step never reaches logs or checkpoints
                    for cb in self.callbacks:
                        cb.on_step(self, stats)
            except KeyboardInterrupt as exc:  # a second Ctrl-C: possibly mid-step, so no final checkpoint
                signum = getattr(exc, "signum", 2)
                self.stop_reason = "interrupted"
                self.interrupted_mid_step = True
            finally:
                self.elapsed = base + time.perf_counter() - started
        for cb in self.callbacks:
            cb.on_end(self)
        if self.stop_reason == "interrupted":
            raise Interrupted(signum)
        if self.guard is not None and self.guard.stopped:
            raise TrainingDiverged(self.guard.message)
        return self

    @property
    def epoch(self) -> float:
        return (self.sampler.epoch * len(self.dataset) + self.sampler.position) / len(self.dataset)

    @property
    def progress(self) -> float:
        """Fraction of the run done, by whichever limit comes first."""
        parts = []
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if self.config.train.max_time:
            parts.append(self.elapsed / self.config.train.max_time)
        return min(1.0, max(parts)) if parts else 0.0

    # ------------------------------------------------------------------------------------------
    # state for checkpoints (exact resume)

    def state_parts(self) -> dict[str, Stateful]:
        """Everything besides the networks' weights that exact resume restores, by a stable name:
        the task's optimizers (``optim.NAME``) and own state, the data order, the guard, and the
        callbacks that keep running sums (``callback.KEY``). The networks go to weights.safetensors."""
        parts: dict[str, Stateful] = {f"optim.{name}": opt for name, opt in self.task.optimizers.items()}
        parts["task"] = self.task
        parts["data"] = self.sampler
        if self.guard is not None:
            parts["guard"] = self.guard
        for cb in self.callbacks:
            if cb.state_key is not None:
                parts[f"callback.{cb.state_key}"] = cb  # type: ignore[assignment]
        return parts

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step,
            "elapsed": self.elapsed,
            "parts": {name: obj.state_dict() for name, obj in self.state_parts().items()},
            "rng": {"torch": torch.get_rng_state(), "numpy": list(np.random.get_state()),
                    "python": _python_rng_to_json(random.getstate())},
        }
        if torch.cuda.is_available():
            state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = upgrade_format1_state(state)
        parts, saved = self.state_parts(), state.get("parts", {})
        missing, unexpected = sorted(set(parts) - set(saved)), sorted(set(saved) - set(parts))
        if missing or unexpected:
            detail = f"lacks {missing[0]}" if missing else f"has an unknown {unexpected[0]}"
            raise CheckpointError(f"checkpoint state does not fit this run ({detail}); was it written with "
                                  f"another config?")
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        for name, obj in parts.items():
            obj.load_state_dict(saved[name])
        for optimizer in self.task.optimizers.values():
            _match_param_layout(optimizer)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].to(torch.uint8))
        np.random.set_state(tuple(rng["numpy"]))
        random.setstate(_python_rng_from_json(rng["python"]))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([t.to(torch.uint8) for t in rng["cuda"]])


def _match_param_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state (Adam's moments) its parameter's memory layout.

    Checkpoints store contiguous (NCHW) tensors; with ``perf.channels_last`` the parameters are NHWC,
    and the fused optimizer kernels walk state and parameter memory in step, so a moment in the other
    layout would be applied to the wrong elements: the resumed run would drift from the uninterrupted one.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


# Checkpoint format 1 (before tasks) named its parts after the trainer's attributes; the GAN is the
# only task it knew.
_FORMAT1_NAMES = {"opt_g": "optim.G", "opt_d": "optim.D", "sampler": "data", "guard": "guard"}


def upgrade_format1_state(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint's state, renamed to the parts this engine lists (no-op for format 2)."""
    if "fixed_z" not in state:
        return state
    parts: dict[str, Any] = {"task": {"fixed_z": state["fixed_z"]}}
    for name, value in state.get("parts", {}).items():
        if name.startswith("callbacks.") and name.endswith(".MetricsLog"):
            parts["callback.metrics"] = value
        else:
            parts[_FORMAT1_NAMES.get(name, name)] = value
    return {**{k: v for k, v in state.items() if k != "fixed_z"}, "parts": parts}


def _python_rng_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_rng_from_json(state: list) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
