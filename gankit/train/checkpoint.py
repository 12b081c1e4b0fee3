"""Checkpoints: safetensors for every tensor, JSON for everything else, no pickle anywhere.

A checkpoint is a directory ``checkpoints/step-00001000/`` holding ``weights.safetensors`` (networks),
``state.safetensors`` (optimizer moments, RNG states, data order) and ``state.json`` (counters,
hyperparameters, format version). It is written as ``.tmp-step-...`` and renamed into place after an
fsync, so a directory that carries the final name is always complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gankit.errors import CheckpointError, GankitError

FORMAT_VERSION = 1
CKPT_RE = re.compile(r"^step-(\d{8})$")


# ---------------------------------------------------------------------------------------------
# nested state <-> (JSON skeleton, flat tensor dict)


def split_tensors(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Replace every tensor / ndarray in a nested structure by a reference into ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "tensor"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = prefix or "array"
        tensors[key] = torch.from_numpy(np.array(obj, copy=True))
        return {"__ndarray__": key}
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError(f"cannot store dict keys of types {[type(k) for k in obj]}")
        # int keys (optimizer state is keyed by parameter index) survive as tagged strings
        return {"__dict__": [[k, split_tensors(v, tensors, f"{prefix}.{k}" if prefix else str(k))]
                             for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [split_tensors(v, tensors, f"{prefix}.{i}" if prefix else str(i)) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: join_tensors(v, tensors) for k, v in obj["__dict__"]}
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# writing and reading


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:08d}"


def save_checkpoint(run_dir: Path, step: int, weights: dict[str, dict[str, torch.Tensor]],
                    state: dict[str, Any], keep: int | None = None, protect: set[Path] | None = None) -> Path:
    """Write one checkpoint atomically; keep only the ``keep`` newest plus any in ``protect``."""
    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(f".tmp-{final.name}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        flat_weights = {f"{net}.{k}": v.detach().cpu().contiguous().clone()
                        for net, sd in weights.items() for k, v in sd.items()}
        save_file(flat_weights, str(tmp / "weights.safetensors"))
        state_tensors: dict[str, torch.Tensor] = {}
        skeleton = split_tensors(state, state_tensors)
        save_file(state_tensors, str(tmp / "state.safetensors"))
        meta = {"format_version": FORMAT_VERSION, "step": step, "networks": sorted(weights), "state": skeleton}
        (tmp / "state.json").write_text(json.dumps(meta), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = "disk full" if exc.errno == 28 else (exc.strerror or str(exc))
        raise GankitError(f"cannot write checkpoint {final}: {reason}") from None
    if keep is not None:
        prune(run_dir, keep, protect or set())
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first; temporary and foreign entries are ignored."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and CKPT_RE.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def prune(run_dir: Path, keep: int, protect: set[Path]) -> None:
    ckpts = list_checkpoints(run_dir)
    for old in ckpts[:-keep] if keep else ckpts:
        if old.resolve() not in {p.resolve() for p in protect}:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in (Path(run_dir) / "checkpoints").glob(".tmp-step-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def load_checkpoint(path: Path, networks_only: bool = False
                    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read (weights per network, state). Refuses anything that is not a gankit checkpoint."""
    path = Path(path)
    meta_file, weights_file = path / "state.json", path / "weights.safetensors"
    if not meta_file.is_file() or not weights_file.is_file():
        raise CheckpointError(f"{path} is not a gankit checkpoint (needs state.json and weights.safetensors)")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} has an unreadable state.json: {exc}") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int):
        raise CheckpointError(f"checkpoint {path}: state.json carries no format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} was written by a newer gankit (format {version} > "
                              f"{FORMAT_VERSION}); upgrade gankit")
    try:
        flat = load_file(str(weights_file))
        state_tensors = {} if networks_only else load_file(str(path / "state.safetensors"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt: {str(exc).splitlines()[0]}") from None
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        net, _, name = key.partition(".")
        weights.setdefault(net, {})[name] = value
    state = {} if networks_only else join_tensors(meta.get("state", {}), state_tensors)
    return weights, state


def load_network(module: torch.nn.Module, weights: dict[str, torch.Tensor], where: str) -> None:
    """load_state_dict with a one-line error when the architecture does not match."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected else
                  f"{wrong[0]} has shape {tuple(weights[wrong[0]].shape)}, model expects "
                  f"{tuple(expected[wrong[0]].shape)}")
        raise CheckpointError(f"{where} does not fit this architecture ({detail}); was it trained with "
                              f"another model config?")
    module.load_state_dict(weights)
