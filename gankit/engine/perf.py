"""Speed settings applied to a built trainer (``perf`` section of the config), around the engine's core.

``apply(trainer)`` is called once, after the task and its EMA copies are built:

  perf.channels_last    conv weights in NHWC, oneDNN's native layout on CPU (outputs follow the weights)
  perf.autocast=bf16    the task networks' forwards run under ``torch.autocast`` in bfloat16; their outputs are
                        cast back to float32, so losses, penalties and the optimizer stay in fp32
                        (``auto``: only where the CPU/GPU has native bf16, else fp32)
  perf.compile          ``nn.Module.compile()`` of the task's networks in place (state_dict keys unchanged)

``perf.fused_optimizer`` and ``perf.reuse_fake`` act where the gan task builds its optimizers and phases.
bench/ measures each against the tutorial-style loops (docs/performance.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gankit.errors import ConfigError

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer


def apply(trainer: Trainer) -> None:
    cfg = trainer.config.perf
    nets = list(trainer.task.networks.values())  # the trained ones; EMA copies keep plain fp32 forwards
    if cfg.channels_last:
        for net in trainer.networks.values():
            net.to(memory_format=torch.channels_last)
    if cfg.autocast == "bf16" or (cfg.autocast == "auto" and native_bf16(trainer.device.type)):
        check_autocast(cfg.autocast, trainer.device.type)
        for net in nets:
            autocast_forward(net, trainer.device.type, torch.bfloat16)
    if cfg.compile:
        for net in nets:
            net.compile()


def native_bf16(device_type: str) -> bool:
    """Whether bf16 matmuls have hardware behind them here (emulated bf16 is slower than fp32)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: stay in fp32
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def check_autocast(kind: str, device_type: str) -> None:
    """Refuse bf16 autocast where torch cannot run it, instead of failing mid-step."""
    try:
        with torch.autocast(device_type, dtype=torch.bfloat16):
            ok = torch.mm(torch.ones(2, 2, device=device_type), torch.ones(2, 2, device=device_type)).dtype \
                == torch.bfloat16
    except (RuntimeError, AssertionError):
        ok = False
    if not ok:
        raise ConfigError(f"perf.autocast={kind}: torch {torch.__version__} cannot autocast to bfloat16 on "
                          f"{device_type}; set perf.autocast=off")


def _to_float(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, tuple):
        return tuple(_to_float(o) for o in out)
    return out


def _autocast(fn: Callable[..., Any], device_type: str, dtype: torch.dtype) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype):
            out = fn(*args, **kwargs)
        return _to_float(out)

    return run


def autocast_forward(net: nn.Module, device_type: str, dtype: torch.dtype) -> None:
    """Run ``net``'s forward (and ``forward_aux`` of discriminators with auxiliary heads) under autocast."""
    net.forward = _autocast(net.forward, device_type, dtype)
    if hasattr(net, "forward_aux"):
        net.forward_aux = _autocast(net.forward_aux, device_type, dtype)
