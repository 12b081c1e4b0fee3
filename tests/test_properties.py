"""Property-based tests (hypothesis): config parsing and the array / image / IDX / checkpoint loaders
either succeed with a well-formed result or fail with a one-line GankitError, whatever they are fed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gankit import config as cfgmod
from gankit.app.training import resolve_config
from gankit.data.dataset import to_uint8_tensor
from gankit.data.files import load_array, load_folder
from gankit.data.idx import read_idx
from gankit.engine import checkpoint as ck
from gankit.errors import CheckpointError, ConfigError, DataError, GankitError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text, repr(text)


# ---------------------------------------------------------------------------------------------
# config parsing


def _all_keys() -> list[str]:
    keys = []
    for section, field in cfgmod.Config.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, cfgmod.Section):
            keys += [f"{section}.{k}" for k in ann.model_fields]
        else:
            keys.append(section)
    return keys


KEYS = _all_keys()
values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(-5, 2000), max_size=4),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(alphabet="abcdefghijklmnopqrstuvwxyz._", min_size=1, max_size=20))


@FAST
@given(st.dictionaries(keys, values, max_size=5))
def test_any_overrides_validate_or_fail_in_one_line(overrides):
    overrides = {k: v for k, v in overrides.items() if k.strip(".") and ".." not in k and not k.endswith(".")}
    try:
        cfg = resolve_config("dcgan", None, overrides)
    except ConfigError as exc:
        _one_line(exc)
        return
    # whatever validated survives a save / load round trip unchanged
    with tempfile.TemporaryDirectory() as d:
        cfgmod.save(cfg, Path(d) / "config.yaml")
        assert cfgmod.load(Path(d) / "config.yaml") == cfg


@FAST
@given(st.text(max_size=40))
def test_any_override_text_parses_or_fails_in_one_line(text):
    try:
        key, _ = cfgmod.parse_override(text)
    except ConfigError as exc:
        _one_line(exc)
        return
    assert "=" in text and key == text.split("=", 1)[0].strip()


@FAST
@given(st.text(max_size=16))
def test_any_duration_text_is_seconds_or_a_value_error(text):
    try:
        seconds = cfgmod.parse_duration(text)
    except ValueError as exc:
        _one_line(exc)
        return
    assert seconds >= 0


@FAST
@given(st.integers(0, 50), st.integers(0, 59), st.integers(0, 59))
def test_durations_add_up(h, m, s):
    text = "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0"
    assert cfgmod.parse_duration(text) == h * 3600 + m * 60 + s


# ---------------------------------------------------------------------------------------------
# arrays


dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_])
arrays = dtypes.flatmap(lambda dt: hnp.arrays(
    dt, hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=6),
    elements=None if dt in (np.float16, np.float32, np.float64) else None))


@FAST
@given(arrays)
@example(np.zeros((1, 0, 0), np.int8))  # found by hypothesis: zero-pixel images crashed the range check
def test_any_array_becomes_uint8_images_or_a_data_error(array):
    try:
        images = to_uint8_tensor(array, "x.npy")
    except DataError as exc:
        _one_line(exc)
        return
    assert images.dtype == torch.uint8 and images.ndim == 4
    assert images.shape[0] == array.shape[0] > 0 and images.shape[1] in (1, 3, 4)
    assert images.numel() == array.size


@FAST
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=8)))
def test_uint8_images_are_kept_exactly(array):
    images = to_uint8_tensor(array, "x")
    assert np.array_equal(images[:, 0].numpy(), array)


@FAST
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
                  elements=st.floats(0, 1, width=32)))
def test_unit_floats_map_to_the_nearest_byte(array):
    images = to_uint8_tensor(array, "x")[:, 0].numpy().astype(np.float64)
    assert np.abs(images - array.astype(np.float64) * 255).max() <= 0.5 + 1e-3


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays, st.one_of(st.none(), hnp.arrays(np.int64, st.integers(0, 8), elements=st.integers(-3, 12))))
def test_any_npz_loads_or_fails_in_one_line(images, labels):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.npz"
        np.savez(path, **({"images": images} if labels is None else {"images": images, "labels": labels}))
        try:
            ds = load_array(path, None, None)
        except DataError as exc:
            _one_line(exc)
            return
    assert ds.images.dtype == torch.uint8 and len(ds) == images.shape[0]
    if labels is not None:
        assert torch.equal(ds.labels, torch.from_numpy(labels)) and ds.num_classes == int(labels.max()) + 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
@example(b"PK\x03\x04")  # found by hypothesis: zip magic in a .npy escaped as BadZipFile
def test_any_bytes_as_npy_load_or_fail_in_one_line(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.npy"
        path.write_bytes(b"\x93NUMPY" + data if data[:1] == b"\x01" else data)
        try:
            load_array(path, None, None)
        except DataError as exc:
            _one_line(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.sampled_from(["flip", "truncate"]))
@example(430, "flip")  # found by hypothesis: a damaged member raised an EOFError without a message
def test_any_damage_to_an_npz_loads_or_fails_in_one_line(where, how):
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8), labels=np.arange(4))
    data = bytearray(buf.getvalue())
    i = where % len(data)
    if how == "flip":
        data[i] ^= 0xFF
    else:
        del data[i:]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.npz"
        path.write_bytes(bytes(data))
        try:
            load_array(path, None, None)
        except DataError as exc:
            _one_line(exc)


def _damaged(data: bytes):
    """Every single-byte flip and every truncation of ``data``."""
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        yield bytes(flipped)
        yield data[:i]


def _small_files() -> dict[str, bytes]:
    import gzip
    import io

    from PIL import Image

    npy, npz, png = io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.save(npy, np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8) / 200)
    np.savez_compressed(npz, images=np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8), labels=np.arange(4))
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(png, format="PNG")
    idx = gzip.compress(bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (4).to_bytes(4, "big") * 2 + bytes(32))
    return {"x.npy": npy.getvalue(), "x.npz": npz.getvalue(), "b.png": png.getvalue(), "x.gz": idx}


@pytest.mark.parametrize("name", ["x.npy", "x.npz", "b.png", "x.gz"])
def test_every_single_byte_damage_loads_or_fails_in_one_line(name, tmp_path):
    """Exhaustive, not sampled: this found numpy's TokenError and zlib errors escaping the loaders."""
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8), 7).save(folder / "ok.png")
    path = folder / name if name.endswith(".png") else tmp_path / name
    load = {"x.npy": lambda: load_array(path, None, None), "x.npz": lambda: load_array(path, None, None),
            "b.png": lambda: load_folder(folder, 8, 1), "x.gz": lambda: read_idx(path)}[name]
    for data in _damaged(_small_files()[name]):
        path.write_bytes(data)
        try:
            load()
        except DataError as exc:
            _one_line(exc)


# ---------------------------------------------------------------------------------------------
# image folders and IDX files


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "LA"]), st.integers(1, 12), st.integers(1, 12),
                          st.booleans()), min_size=1, max_size=4),
       st.sampled_from([None, 8]), st.sampled_from([None, 1, 3]))
@example([("RGB", 1, 1, False)], None, None)  # found by hypothesis: a 1x1 RGB image came out as 1x3 gray
def test_any_image_folder_loads_or_fails_in_one_line(files, resolution, channels):
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for i, (mode, w, h, corrupt) in enumerate(files):
            path = root / f"{i}.png"
            Image.new(mode, (w, h)).save(path)
            if corrupt:
                path.write_bytes(path.read_bytes()[: max(8, len(path.read_bytes()) // 3)])
        try:
            ds = load_folder(root, resolution, channels)
        except DataError as exc:
            _one_line(exc)
            return
    assert len(ds) == len(files) and ds.images.dtype == torch.uint8
    c, h, w = ds.shape
    assert h == w and (resolution is None or h == resolution) and (channels is None or c == channels)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_as_idx_parse_or_fail_in_one_line(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x-idx3-ubyte"
        path.write_bytes(data)
        try:
            array = read_idx(path)
        except DataError as exc:
            _one_line(exc)
            return
    ndim = data[3]
    assert list(array.shape) == [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]


@FAST
@given(st.lists(st.integers(0, 5), min_size=1, max_size=3), st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
       st.integers(-3, 3))
def test_idx_header_and_length_are_checked(dims, dtype, extra):
    itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}[dtype]
    body = bytes(int(np.prod(dims)) * itemsize + extra) if int(np.prod(dims)) * itemsize + extra >= 0 else b""
    assume(int(np.prod(dims)) * itemsize + extra >= 0)
    raw = bytes([0, 0, dtype, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x"
        path.write_bytes(raw)
        if extra == 0:
            assert list(read_idx(path).shape) == dims
        else:
            with pytest.raises(DataError, match="truncated or padded"):
                read_idx(path)


# ---------------------------------------------------------------------------------------------
# checkpoints


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["weights.safetensors", "state.safetensors", "state.json"]), st.binary(max_size=300))
def test_any_bytes_in_a_checkpoint_file_are_refused_in_one_line(target, data):
    with tempfile.TemporaryDirectory() as d:
        path = ck.save_checkpoint(Path(d), 1, {"G": {"w": torch.ones(2)}}, {"step": 1, "t": torch.zeros(3)})
        (path / target).write_bytes(data)
        try:
            ck.load_checkpoint(path)
        except CheckpointError as exc:
            _one_line(exc)
            return
    # only a state.json that still parses to a usable dict can get through
    assert target == "state.json"


def test_gankit_errors_share_one_base():
    assert all(issubclass(e, GankitError) for e in (ConfigError, DataError, CheckpointError))
