"""Checkpoints: round trip, atomic writes, keep-last-K-plus-protected, corruption detection, no pickle."""

import errno
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.app.cli import main
from gankit.engine import checkpoint as ck
from gankit.errors import CheckpointError, GankitError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    # The cores are shared: one thread avoids OpenMP oversubscription, which made these tiny runs 10-20x
    # slower under load (tests/conftest.py restores the thread count afterwards).
    torch.set_num_threads(1)


def _weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"G": {"w": torch.randn(4, 3, generator=g), "b": torch.randn(3, generator=g)},
            "D": {"w": torch.randn(2, 2, generator=g)}}


def _state():
    return {"step": 7, "lr": 1e-4, "nan": float("nan"), "inf": float("-inf"), "none": None,
            "opt": {0: {"exp_avg": torch.ones(2, 2)}, 1: {"exp_avg": torch.zeros(3)}},
            "betas": (0.5, 0.999), "rng": np.arange(5, dtype=np.uint32), "names": ["a", "b"]}


def test_round_trip_keeps_types_and_values(tmp_path):
    path = ck.save_checkpoint(tmp_path, 7, _weights(), _state())
    assert path.name == "step-00000007"
    weights, state = ck.load_checkpoint(path)
    for net, sd in _weights().items():
        assert all(torch.equal(weights[net][k], v) for k, v in sd.items())
    assert state["step"] == 7 and state["betas"] == (0.5, 0.999) and state["names"] == ["a", "b"]
    assert set(state["opt"]) == {0, 1} and torch.equal(state["opt"][0]["exp_avg"], torch.ones(2, 2))
    assert np.isnan(state["nan"]) and state["inf"] == float("-inf") and state["none"] is None
    assert isinstance(state["rng"], np.ndarray) and state["rng"].dtype == np.uint32
    # state.json is strict JSON (no NaN tokens) and carries the checksums of both tensor files
    meta = json.loads((path / "state.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert set(meta["files"]) == {"weights.safetensors", "state.safetensors"}


def test_keep_last_k_plus_protected(tmp_path):
    first = ck.save_checkpoint(tmp_path, 1, _weights(), {})
    for step in range(2, 7):
        ck.save_checkpoint(tmp_path, step, _weights(step), {}, keep=2, protect={first})
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["step-00000001", "step-00000005", "step-00000006"]


def test_crash_while_writing_leaves_no_checkpoint_and_keeps_the_old_one(tmp_path, monkeypatch):
    good = ck.save_checkpoint(tmp_path, 1, _weights(), _state())
    calls = []

    def failing_write(path, data):
        calls.append(path)
        if len(calls) == 2:  # the second of three files
            raise OSError(errno.EIO, "Input/output error")
        return real_write(path, data)

    real_write = ck._write_synced
    monkeypatch.setattr(ck, "_write_synced", failing_write)
    with pytest.raises(GankitError, match="cannot write checkpoint .*step-00000002"):
        ck.save_checkpoint(tmp_path, 2, _weights(), _state())
    assert ck.list_checkpoints(tmp_path) == [good]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000001"]
    ck.verify_checkpoint(good)


def test_disk_full_is_one_line_and_leaves_nothing_partial(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck.os, "fsync", full)
    with pytest.raises(GankitError) as info:
        ck.save_checkpoint(tmp_path, 3, _weights(), _state())
    assert "disk full" in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_resaving_a_step_replaces_it_whole(tmp_path):
    ck.save_checkpoint(tmp_path, 4, _weights(0), {"v": 0})
    ck.save_checkpoint(tmp_path, 4, _weights(1), {"v": 1})
    weights, state = ck.load_checkpoint(ck.checkpoint_dir(tmp_path, 4))
    assert state["v"] == 1 and torch.equal(weights["G"]["w"], _weights(1)["G"]["w"])
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000004"]


def test_leftovers_of_a_crash_are_ignored_then_cleaned(tmp_path):
    ck.save_checkpoint(tmp_path, 1, _weights(), {})
    root = tmp_path / "checkpoints"
    for name in (".tmp-step-00000002", ".del-step-00000000", ".old-step-00000001"):
        (root / name).mkdir()
        (root / name / "state.json").write_text("{")
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["step-00000001"]
    ck.clean_partial(tmp_path)
    assert [p.name for p in root.iterdir()] == ["step-00000001"]


def test_a_kill_while_resaving_a_step_puts_the_old_copy_back(tmp_path, monkeypatch):
    ck.save_checkpoint(tmp_path, 4, _weights(0), {"v": 0})
    real_replace = ck.os.replace

    def killed_before_the_second_rename(src, dst):
        real_replace(src, dst)
        if Path(dst).name.startswith(".old-"):
            raise KeyboardInterrupt  # as if SIGKILL landed between the two renames

    monkeypatch.setattr(ck.os, "replace", killed_before_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(tmp_path, 4, _weights(1), {"v": 1})
    monkeypatch.undo()
    assert ck.list_checkpoints(tmp_path) == []  # only .old- and .tmp- folders are left
    ck.clean_partial(tmp_path)
    weights, state = ck.load_checkpoint(ck.checkpoint_dir(tmp_path, 4))
    assert state["v"] == 0 and torch.equal(weights["G"]["w"], _weights(0)["G"]["w"])
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000004"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "drop"])
def test_damaged_checkpoint_is_refused_and_skipped(tmp_path, damage):
    old = ck.save_checkpoint(tmp_path, 1, _weights(), _state())
    new = ck.save_checkpoint(tmp_path, 2, _weights(), _state())
    f = new / "weights.safetensors"
    data = bytearray(f.read_bytes())
    if damage == "flip":
        data[-1] ^= 0xFF  # a flipped bit in a weight: only the checksum can tell
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        f.write_bytes(bytes(data[: len(data) // 2]))
    else:
        f.unlink()
    with pytest.raises(CheckpointError) as info:
        ck.load_checkpoint(new)
    assert "\n" not in str(info.value)
    found, skipped = ck.latest_intact_checkpoint(tmp_path)
    assert found == old and len(skipped) == 1


def test_newer_checkpoint_format_is_refused(tmp_path):
    path = ck.save_checkpoint(tmp_path, 1, _weights(), {})
    meta = json.loads((path / "state.json").read_text())
    meta["format_version"] = ck.FORMAT_VERSION + 1
    (path / "state.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="newer gankit"):
        ck.load_checkpoint(path)


# ---------------------------------------------------------------------------------------------
# safety: a pickle where a checkpoint should be is refused without running it


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _malicious(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker), protocol=4)


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(_malicious(marker)).close()
    assert marker.exists()


@pytest.mark.parametrize("target", ["weights.safetensors", "state.safetensors", "state.json", "checkpoint-file"])
def test_malicious_pickle_in_a_checkpoint_is_refused_without_running(tmp_path, target):
    marker = tmp_path / "pwned"
    path = ck.save_checkpoint(tmp_path / "run", 1, _weights(), _state())
    if target == "checkpoint-file":
        path = tmp_path / "model.pt"
        path.write_bytes(_malicious(marker))
    else:
        (path / target).write_bytes(_malicious(marker))
    with pytest.raises(CheckpointError) as info:
        ck.load_checkpoint(path)
    assert "pickle" in str(info.value) or "not a gankit checkpoint" in str(info.value) or "corrupt" in str(info.value)
    assert not marker.exists()


def test_pickle_in_a_run_is_refused_by_the_cli(tmp_path, capsys, tiny_config):
    from gankit.app.training import train

    run = train(tiny_config(steps=2, out=str(tmp_path / "run")), quiet=True)
    ckpt = ck.list_checkpoints(run.dir)[-1]
    marker = tmp_path / "pwned"
    (ckpt / "weights.safetensors").write_bytes(_malicious(marker))
    code = main(["sample", str(run.dir), "-n", "4", "--out", str(tmp_path / "s.png")])
    err = capsys.readouterr().err
    assert code == 2 and "pickle" in err and err.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "s.png").exists()


def test_no_pickle_loading_anywhere_in_gankit():
    """Every loader gankit ships uses safetensors, JSON, YAML safe_load, numpy without pickle, or
    torch.load(weights_only=True), whose restricted unpickler refuses code (checked below)."""
    pattern = re.compile(r"torch\.load\(|pickle\.loads?\(|allow_pickle\s*=\s*True|yaml\.load\(|yaml\.unsafe_load"
                         r"|weights_only\s*=\s*False|dill|cloudpickle|joblib\.load")
    offenders = []
    for f in (REPO / "gankit").rglob("*.py"):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and "weights_only=True" not in line:
                offenders.append(f"{f.relative_to(REPO)}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_torch_load_weights_only_refuses_the_payload(tmp_path):
    marker, f = tmp_path / "pwned", tmp_path / "model.pth"
    torch.save({"w": torch.ones(1), "evil": _Payload(marker)}, f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(f, weights_only=True)
    assert not marker.exists()


def test_safetensors_whose_header_starts_like_a_pickle_still_loads(tmp_path):
    from safetensors.torch import save

    n = next(n for n in range(1, 600) if save({"x" * n: torch.zeros(1)})[0] == 0x80)
    f = tmp_path / "w.safetensors"
    f.write_bytes(save({"x" * n: torch.zeros(1)}))
    assert torch.equal(ck._read_tensors(f, None)["x" * n], torch.zeros(1))


def test_every_single_byte_damage_to_a_checkpoint_is_refused(tmp_path):
    """Exhaustive: each byte flipped, and each truncation, of each of the three files."""
    path = ck.save_checkpoint(tmp_path, 1, {"G": {"w": torch.ones(2)}}, {"step": 1, "o": {0: {"a": torch.ones(1)}}})
    for name in ("state.json", "weights.safetensors", "state.safetensors"):
        data = (path / name).read_bytes()
        for i in range(len(data)):
            flipped = bytearray(data)
            flipped[i] ^= 0xFF
            for damaged in (bytes(flipped), data[:i]):
                (path / name).write_bytes(damaged)
                with pytest.raises(CheckpointError):
                    ck.load_checkpoint(path)
        (path / name).write_bytes(data)
    ck.verify_checkpoint(path)


def test_a_plausible_edit_of_state_json_is_caught(tmp_path):
    path = ck.save_checkpoint(tmp_path, 7, _weights(), _state())
    text = (path / "state.json").read_text()
    (path / "state.json").write_text(text.replace('"step": 7', '"step": 8', 1))
    with pytest.raises(CheckpointError, match="SHA-256"):
        ck.load_checkpoint(path)


@pytest.mark.parametrize("strip", ["both", "state.json's own", "the tensor files' (digest recomputed)",
                                   "one tensor file's (digest recomputed)"])
def test_a_checkpoint_without_its_checksums_is_refused(tmp_path, strip):
    """Deleting the checksums must not switch verification off: such a checkpoint is refused, then skipped."""
    old = ck.save_checkpoint(tmp_path, 1, _weights(), _state())
    path = ck.save_checkpoint(tmp_path, 2, _weights(), _state())
    meta = json.loads((path / "state.json").read_text())
    if strip in ("both", "the tensor files' (digest recomputed)"):
        del meta["files"]
    if strip == "one tensor file's (digest recomputed)":
        del meta["files"]["state.safetensors"]["sha256"]
    if strip != "both":
        meta["sha256"] = ck._meta_digest(meta)
    if strip in ("both", "state.json's own"):
        del meta["sha256"]
    (path / "state.json").write_text(json.dumps(meta))
    for networks_only in (False, True):
        with pytest.raises(CheckpointError, match=r"step-00000002 carries no checksum for .*; gankit loads only"):
            ck.load_checkpoint(path, networks_only=networks_only)
    assert ck.latest_intact_checkpoint(tmp_path)[0] == old
