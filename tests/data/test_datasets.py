import gzip
import io
import os
import urllib.error

import numpy as np
import pytest
import torch
from bad_input_helpers import unblock_fifo_after
from PIL import Image

from gankit.config import DataConfig
from gankit.data import BatchSampler, load_dataset
from gankit.data import idx as idxmod
from gankit.errors import DataError


def test_digits_is_embedded_and_scaled():
    ds = load_dataset(DataConfig(name="digits"))
    assert ds.shape == (1, 28, 28) and ds.num_classes == 10
    assert ds.images.dtype == torch.uint8 and ds.images.max() > 200
    x = ds.float_images(slice(0, 10))
    assert x.min() >= -1 and x.max() <= 1
    test = load_dataset(DataConfig(name="digits", split="test"))
    assert len(ds) + len(test) == 1797
    assert load_dataset(DataConfig(name="digits", resolution=32)).shape == (1, 32, 32)


def test_real_mnist_train_and_test(mnist_root):
    train = load_dataset(DataConfig(name="mnist", root=str(mnist_root)))
    test = load_dataset(DataConfig(name="mnist", root=str(mnist_root), split="test"))
    assert (len(train), len(test)) == (60000, 10000)
    assert train.shape == (1, 28, 28)
    counts = torch.bincount(test.labels, minlength=10)
    assert counts.min() > 850 and counts.sum() == 10000  # every digit present
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first labels


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(root, n=20, gz=True, images=None, labels=None):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28)) if images is None else images
    labels = np.arange(n) % 10 if labels is None else labels
    for name, arr in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        data = _idx_bytes(np.asarray(arr))
        (raw / (name + ".gz")).write_bytes(gzip.compress(data)) if gz else (raw / name).write_bytes(data)
    return raw


def test_idx_round_trip_gz_and_plain(tmp_path):
    for gz in (True, False):
        root = tmp_path / str(gz)
        _write_mnist(root, gz=gz)
        ds = load_dataset(DataConfig(name="mnist", root=str(root), download=False))
        assert len(ds) == 20 and ds.labels.tolist() == [i % 10 for i in range(20)]


def test_idx_bad_magic_and_truncation(tmp_path):
    raw = _write_mnist(tmp_path)
    f = raw / "train-images-idx3-ubyte.gz"
    good = gzip.decompress(f.read_bytes())
    f.write_bytes(gzip.compress(b"\x12\x34" + good[2:]))
    with pytest.raises(DataError, match="not an IDX file"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=False))
    f.write_bytes(gzip.compress(good[:-100]))
    with pytest.raises(DataError, match="truncated"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=False))
    f.write_bytes(good[:1000] + b"garbage")  # not gzip, not a valid IDX length either
    with pytest.raises(DataError):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=False))


def test_idx_label_count_mismatch(tmp_path):
    _write_mnist(tmp_path, labels=np.arange(7))
    with pytest.raises(DataError, match="labels do not match"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=False))


def test_missing_mnist_offline_says_where_to_put_files(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"MNIST/raw") as info:
        load_dataset(DataConfig(name="mnist", root=str(tmp_path), download=False))
    assert "\n" not in str(info.value)

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(idxmod.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="download failed.*put the IDX files"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    assert not any((tmp_path / "MNIST" / "raw").glob("*.gz"))  # nothing half-written


def test_download_verifies_checksums_against_local_files(tmp_path, monkeypatch, mnist_root):
    """The real download path, fed from the local MNIST copy instead of the network."""
    import hashlib

    src = mnist_root / "MNIST" / "raw"
    served = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(url, timeout=None):
        served.append(url)
        return Response((src / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(idxmod.urllib.request, "urlopen", fake_urlopen)
    folder, mirrors, files = idxmod.SOURCES["mnist"]
    local_md5 = {f: hashlib.md5((src / f).read_bytes()).hexdigest() for f in files}
    # The shared copy is re-compressed, so its gzip bytes differ from the published checksums:
    # the download must refuse it ...
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path / "a"), split="test"))
    assert not (tmp_path / "a" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()
    # ... and accept it once the expected checksums are the file's own.
    monkeypatch.setitem(idxmod.SOURCES, "mnist", (folder, mirrors, local_md5))
    ds = load_dataset(DataConfig(name="mnist", root=str(tmp_path / "b"), split="test"))
    assert len(ds) == 10000 and served


def _png(path, size=(8, 8), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value,) * len(mode)).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    for cls in ("cat", "dog"):
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", value=40 if cls == "cat" else 200)
    ds = load_dataset(DataConfig(name=str(tmp_path)))
    assert ds.shape == (1, 8, 8) and ds.class_names == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.images[0].float().mean() == 40 and ds.images[-1].float().mean() == 200


def test_image_folder_resize_and_channels(tmp_path):
    _png(tmp_path / "a.png", size=(10, 12), mode="RGB")
    _png(tmp_path / "b.jpg", size=(20, 20), mode="RGB")
    with pytest.raises(DataError, match="mixes image sizes"):
        load_dataset(DataConfig(name=str(tmp_path)))
    ds = load_dataset(DataConfig(name=str(tmp_path), resolution=16, channels=1))
    assert ds.shape == (1, 16, 16) and ds.labels is None


def test_image_folder_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(DataConfig(name=str(tmp_path / "empty")))
    mixed = tmp_path / "mixed"
    _png(mixed / "g.png", mode="L")
    _png(mixed / "c.png", mode="RGB")
    with pytest.raises(DataError, match="mixes grayscale"):
        load_dataset(DataConfig(name=str(mixed)))
    corrupt = tmp_path / "corrupt"
    _png(corrupt / "ok.png")
    (corrupt / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(DataError, match="bad.png"):
        load_dataset(DataConfig(name=str(corrupt)))


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_arrays_in_every_layout(tmp_path, layout):
    x = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3) if layout != "NHW" else (5, 8, 8)).astype(np.uint8)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    np.save(tmp_path / "x.npy", x)
    ds = load_dataset(DataConfig(name=str(tmp_path / "x.npy")))
    assert ds.shape == ((1 if layout == "NHW" else 3), 8, 8)


def test_npz_floats_and_labels(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (6, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "d.npz", images=x, labels=np.array([0, 1, 2, 0, 1, 2]))
    ds = load_dataset(DataConfig(name=str(tmp_path / "d.npz")))
    assert ds.num_classes == 3
    torch.testing.assert_close(ds.float_images()[:, 0], torch.from_numpy(x), atol=1 / 127.5, rtol=0)


@pytest.mark.parametrize("array,needle", [
    (np.full((4, 8, 8), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((8, 8), dtype=np.uint8), "shape"),
    (np.zeros((4, 8, 8, 5), dtype=np.uint8), "channels"),
    (np.full((4, 8, 8), 3.0), r"\[0, 1\] or \[-1, 1\]"),
    (np.zeros((0, 8, 8), dtype=np.uint8), "no images"),
])
def test_bad_arrays(tmp_path, array, needle):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=needle):
        load_dataset(DataConfig(name=str(tmp_path / "bad.npy")))


def test_npz_label_mismatch_and_pickles_refused(tmp_path):
    np.savez(tmp_path / "m.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.arange(3))
    with pytest.raises(DataError, match="labels"):
        load_dataset(DataConfig(name=str(tmp_path / "m.npz")))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(DataConfig(name=str(tmp_path / "obj.npy")))


def test_unknown_name_and_missing_path():
    with pytest.raises(DataError, match="did you mean 'mnist'"):
        load_dataset(DataConfig(name="mnsit"))
    with pytest.raises(DataError, match="not found"):
        load_dataset(DataConfig(name="/no/such/folder"))


def test_sampler_is_seeded_covers_each_epoch_and_resumes():
    ds = load_dataset(DataConfig(name="digits", limit=100))
    a, b = (BatchSampler(ds, 10, seed=3, device=torch.device("cpu")) for _ in range(2))
    seen = torch.cat([a.next()[1] for _ in range(10)])
    assert torch.equal(torch.sort(seen).values, torch.sort(ds.labels).values)  # a permutation
    for _ in range(10):
        b.next()
    state = b.state_dict()
    expected = [b.next()[0] for _ in range(15)]
    c = BatchSampler(ds, 10, seed=99, device=torch.device("cpu"))
    c.load_state_dict(state)
    assert all(torch.equal(x, c.next()[0]) for x in expected)
    with pytest.raises(DataError, match="larger than the dataset"):
        BatchSampler(ds, 101, seed=0, device=torch.device("cpu"))


# ---------------------------------------------------------------------------------------------
# bounds: sizes are checked against available memory before anything is allocated


def _less_memory(monkeypatch, nbytes: int) -> None:
    monkeypatch.setattr("gankit.utils.available_memory", lambda: nbytes)
    monkeypatch.setattr("gankit.data.files.available_memory", lambda: nbytes)


def test_array_sizes_come_from_the_headers_before_anything_is_decompressed(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "x.npz", images=np.zeros((200, 64, 64), np.float32), labels=np.zeros(200, np.int64))
    np.save(tmp_path / "x.npy", np.zeros((200, 64, 64), np.uint8))
    assert (tmp_path / "x.npz").stat().st_size < 100_000  # 3.3 MB of float32 zeros, compressed
    loaded = load_dataset(DataConfig(name=str(tmp_path / "x.npz")))
    assert loaded.images.shape == (200, 1, 64, 64) and loaded.labels.shape == (200,)
    _less_memory(monkeypatch, 2**20)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load ran before the size check"))
    # float32 images: the array, its uint8 copy and a float64 copy while converting; int64 labels and their copy
    need = 200 * 64 * 64 * (4 + 1 + 8) + 200 * (8 + 8)
    with pytest.raises(DataError, match=rf"x.npz: loading 200 images of shape \(200, 64, 64\) \(float32\) needs "
                                        rf"{need / 2**20:.1f} MB of memory, but only 1.0 MB is available"):
        load_dataset(DataConfig(name=str(tmp_path / "x.npz")))
    with pytest.raises(DataError, match=r"x.npy: loading 200 images .* \(uint8\) needs 1.6 MB of memory"):
        load_dataset(DataConfig(name=str(tmp_path / "x.npy")))


def test_image_folders_and_resizing_must_fit_in_memory(tmp_path, monkeypatch):
    for i in range(3):
        Image.new("RGB", (64, 64), (i, 0, 0)).save(tmp_path / f"{i}.png")
    _less_memory(monkeypatch, 30_000)  # two decoded images fit, three do not
    with pytest.raises(DataError, match=r"decoding 3 images needs 36.0 KB of memory, but only 29.3 KB"):
        load_dataset(DataConfig(name=str(tmp_path)))
    _less_memory(monkeypatch, 20 * 2**20)  # decoding fits; the resized arrays, their stack and its copy do not
    with pytest.raises(DataError, match=r"resizing 3 images to 1024x1024 needs 27.0 MB of memory, but only 20.0 MB"):
        load_dataset(DataConfig(name=str(tmp_path), resolution=1024))


def test_resizing_in_chunks_gives_the_same_images(monkeypatch):
    from gankit.data import dataset

    images = torch.randint(0, 256, (50, 3, 40, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    whole = dataset.fit_images(images, 32, None, "x")
    monkeypatch.setattr(dataset, "RESIZE_CHUNK_BYTES", 7 * 4 * 3 * 32 * 32)  # 7 images per chunk
    assert torch.equal(dataset.fit_images(images, 32, None, "x"), whole) and whole.shape == (50, 3, 32, 32)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_and_symlink_loops_are_named(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    unblock_fifo_after(tmp_path / "pipe.npz", seconds=20)  # a regression then fails instead of hanging
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling.npy").symlink_to(tmp_path / "gone.npy")
    for name, message in [("pipe.npz", r"pipe.npz is a FIFO \(named pipe\)"), ("loop", "loop is a symlink loop"),
                          ("dangling.npy", r"not found: .*dangling.npy \(a symlink to the missing .*gone.npy\)")]:
        with pytest.raises(DataError, match=message):
            load_dataset(DataConfig(name=str(tmp_path / name)))


def test_a_symlink_loop_named_without_a_path_is_a_loop_too(tmp_path, monkeypatch):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="dataset path loop is a symlink loop"):  # not "unknown dataset 'loop'"
        load_dataset(DataConfig(name="loop"))
