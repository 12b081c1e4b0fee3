"""Checkpoints: safetensors for every tensor, JSON for everything else, no pickle anywhere.

A checkpoint is a directory ``checkpoints/step-00001000/`` holding ``weights.safetensors`` (networks),
``state.safetensors`` (optimizer moments, RNG states, data order) and ``state.json`` (counters,
hyperparameters, format version, and the size and SHA-256 of both tensor files).

Crash safety: a checkpoint is written into ``.tmp-step-...``, every file and the folder are fsynced, and
only then is it renamed to its final name; a directory that carries a ``step-*`` name is therefore
always complete. Deleting works the other way round (rename to ``.del-...`` first, then remove), so a
crash half-way through pruning never leaves a half-deleted ``step-*`` behind. The checksums catch what
renames cannot (a file damaged later, copied partially, or edited by hand).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from gankit.errors import CheckpointError, GankitError, first_line
from gankit.utils import fsync_dir

FORMAT_VERSION = 2  # 2: state parts named by the task engine (optim.G, data, task, ...); 1 still loads
CKPT_RE = re.compile(r"^step-(\d{8})$")
TENSOR_FILES = ("weights.safetensors", "state.safetensors")
PARTIAL_PREFIXES = (".tmp-step-", ".del-step-", ".old-step-")


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
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}  # JSON has no NaN/Inf; keep state.json strict
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
        if "__float__" in obj:
            return float(obj["__float__"])
        return {k: join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# writing


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:08d}"


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(run_dir: Path, step: int, weights: dict[str, dict[str, torch.Tensor]],
                    state: dict[str, Any], keep: int | None = None, protect: set[Path] | None = None) -> Path:
    """Write one checkpoint atomically; keep only the ``keep`` newest plus any in ``protect``."""
    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(f".tmp-{final.name}")
    try:
        _remove(tmp)
        tmp.mkdir(parents=True)
        flat_weights = {f"{net}.{k}": v.detach().cpu().contiguous().clone()
                        for net, sd in weights.items() for k, v in sd.items()}
        state_tensors: dict[str, torch.Tensor] = {}
        skeleton = split_tensors(state, state_tensors)
        blobs = {"weights.safetensors": save_bytes(flat_weights), "state.safetensors": save_bytes(state_tensors)}
        manifest = {}
        for name, blob in blobs.items():
            _write_synced(tmp / name, blob)
            manifest[name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        meta = {"format_version": FORMAT_VERSION, "step": step, "networks": sorted(weights), "files": manifest,
                "state": skeleton}
        meta["sha256"] = _meta_digest(meta)
        _write_synced(tmp / "state.json", json.dumps(meta, allow_nan=False).encode("utf-8"))
        fsync_dir(tmp)
        old = None
        if final.exists():  # re-saving a step (e.g. after a resume): move the old one aside first
            old = final.with_name(f".old-{final.name}")
            _remove(old)
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        if old is not None:
            _remove(old)
    except (OSError, SafetensorError) as exc:
        _remove(tmp)
        raise GankitError(f"cannot write checkpoint {final}: {_reason(exc)}") from None
    if keep is not None:
        prune(run_dir, keep, protect or set())
    return final


def _meta_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of state.json's content (itself excluded), so a hand edit or bit flip there is caught too."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode("utf-8")).hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "disk full"
        return exc.strerror or str(exc)
    text = str(exc)
    return "disk full" if "No space left" in text else first_line(exc)


def _remove(path: Path) -> None:
    """Delete a checkpoint folder so that no crash leaves a half-deleted one under a valid name."""
    if not path.exists():
        return
    if CKPT_RE.match(path.name):
        doomed = path.with_name(f".del-{path.name}")
        shutil.rmtree(doomed, ignore_errors=True)
        os.replace(path, doomed)
        path = doomed
    shutil.rmtree(path, ignore_errors=True)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first; temporary and foreign entries are ignored."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and CKPT_RE.match(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def clean_partial(run_dir: Path) -> None:
    """Remove what a crash can leave behind in checkpoints/: temporary, half-deleted and moved-aside folders."""
    root = Path(run_dir) / "checkpoints"
    if root.is_dir():
        for p in sorted(root.iterdir()):
            final = root / p.name.removeprefix(".old-")
            if p.name.startswith(".old-step-") and not final.exists():
                os.replace(p, final)  # killed while re-saving this step: the old, complete copy goes back
            elif p.name.startswith(PARTIAL_PREFIXES):
                shutil.rmtree(p, ignore_errors=True)


def prune(run_dir: Path, keep: int, protect: set[Path]) -> None:
    """Keep the ``keep`` newest checkpoints plus the protected ones (e.g. the best by FID)."""
    protected = {Path(p).resolve() for p in protect}
    ckpts = list_checkpoints(run_dir)
    for old in ckpts[:-keep] if keep else ckpts:
        if old.resolve() not in protected:
            try:
                _remove(old)
            except OSError:
                pass  # pruning is housekeeping; a failure here must not stop training
    clean_partial(run_dir)


# ---------------------------------------------------------------------------------------------
# reading


def check_format_version(meta: Any, current: int, file: str, what: str) -> None:
    """Refuse a JSON record (checkpoint state, run.json) without a format version or from a newer gankit."""
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int):
        raise CheckpointError(f"{file} carries no format_version")
    if version > current:
        raise CheckpointError(f"{what} was written by a newer gankit (format {version} > {current}); upgrade gankit")


def _refuse_pickle(path: Path, head: bytes) -> None:
    # Pickles start with the PROTO opcode 0x80; torch.save files are zip archives of pickles. A
    # safetensors file starts with its header length (8 bytes, little-endian) and then "{".
    if head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{path} looks like a pickle or torch.save file; gankit never loads pickles "
                              f"(they can run arbitrary code), only safetensors + JSON checkpoints")


def _read_tensors(path: Path, expected: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    _refuse_pickle(path, blob[:9])
    if isinstance(expected, dict):
        if len(blob) != expected.get("bytes") or hashlib.sha256(blob).hexdigest() != expected.get("sha256"):
            raise CheckpointError(f"{path} is corrupt: size or SHA-256 differs from state.json "
                                  f"({len(blob)} bytes, expected {expected.get('bytes')})")
    try:
        return load_bytes(blob)
    except (SafetensorError, ValueError, OSError) as exc:
        raise CheckpointError(f"{path} is corrupt: {first_line(exc)}") from None


def read_meta(path: Path) -> dict[str, Any]:
    """state.json of a checkpoint folder, with its format version checked."""
    path = Path(path)
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                _refuse_pickle(path, fh.read(9))
        except OSError:
            pass
        raise CheckpointError(f"{path} is a file; a gankit checkpoint is a folder (checkpoints/step-NNNNNNNN)")
    meta_file, weights_file = path / "state.json", path / "weights.safetensors"
    if not meta_file.is_file() or not weights_file.is_file():
        raise CheckpointError(f"{path} is not a gankit checkpoint (needs state.json and weights.safetensors)")
    try:
        raw = meta_file.read_bytes()
        _refuse_pickle(meta_file, raw[:9])
        meta = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        first = first_line(exc)
        raise CheckpointError(f"checkpoint {path} has an unreadable state.json: {first}") from None
    check_format_version(meta, FORMAT_VERSION, f"checkpoint {path}: state.json", f"checkpoint {path}")
    # Every check is mandatory: deleting the checksums from state.json must not switch checking off.
    files = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    unsigned = (["state.json"] if "sha256" not in meta else []) + \
        [name for name in TENSOR_FILES if not isinstance(files.get(name), dict) or "sha256" not in files[name]]
    if unsigned:
        raise CheckpointError(f"checkpoint {path} carries no checksum for {', '.join(unsigned)}; gankit loads "
                              f"only checkpoints it can verify")
    try:
        intact = meta["sha256"] == _meta_digest(meta)
    except (TypeError, ValueError):
        intact = False
    if not intact:
        raise CheckpointError(f"checkpoint {path} is corrupt: state.json does not match its SHA-256")
    return meta


def load_checkpoint(path: Path, networks_only: bool = False
                    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read (weights per network, state). Refuses anything that is not an intact gankit checkpoint."""
    path = Path(path)
    meta = read_meta(path)  # guarantees a checksum for each tensor file
    files = meta["files"]
    flat = _read_tensors(path / "weights.safetensors", files["weights.safetensors"])
    state_tensors = {} if networks_only else _read_tensors(path / "state.safetensors", files["state.safetensors"])
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        net, _, name = key.partition(".")
        weights.setdefault(net, {})[name] = value
    try:
        state = {} if networks_only else join_tensors(meta.get("state", {}), state_tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt: state.json refers to missing tensor {exc}") from None
    return weights, state


def verify_checkpoint(path: Path) -> None:
    """Raise CheckpointError unless every file of the checkpoint is present and intact."""
    load_checkpoint(path)


def latest_intact_checkpoint(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint that verifies, and one line per newer one that did not (skipped)."""
    skipped: list[str] = []
    for ckpt in reversed(list_checkpoints(run_dir)):
        try:
            verify_checkpoint(ckpt)
            return ckpt, skipped
        except CheckpointError as exc:
            skipped.append(str(exc))
    return None, skipped


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
