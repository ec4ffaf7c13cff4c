"""The on-disk data cache returns the same arrays, rebuilds when its key or an entry is wrong, and
never turns a cache problem into a failed run."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from collective_action.empirical import data, data_cache
from collective_action.disk_cache import CACHE_ENV
from collective_action.empirical.data_cache import cached_arrays


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(root))
    return root


def _builder(calls):
    def build():
        calls.append(1)
        rng = np.random.default_rng(len(calls))
        return rng.random((5, 1, 3, 3)).astype(np.float32), np.arange(5, dtype=np.int64)
    return build


def test_second_call_maps_the_stored_arrays(cache):
    calls = []
    first = cached_arrays("toy", {"v": 1}, _builder(calls))
    again = cached_arrays("toy", {"v": 1}, _builder(calls))
    assert len(calls) == 1  # built once
    for a, b in zip(first, again):
        assert type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        assert not b.flags.writeable and not a.flags.writeable
    with pytest.raises(ValueError):
        again[0][0, 0, 0, 0] = 1.0


def test_another_key_is_another_entry(cache):
    calls = []
    a = cached_arrays("toy", {"v": 1}, _builder(calls))
    b = cached_arrays("toy", {"v": 2}, _builder(calls))
    assert len(calls) == 2 and not np.array_equal(a[0], b[0])


def test_an_incomplete_entry_is_rebuilt(cache):
    calls = []
    cached_arrays("toy", {"v": 1}, _builder(calls))
    folder = data_cache.entry_dir("toy", {"v": 1})
    (folder / "0.npy").write_bytes(b"truncated")  # a damaged array
    rebuilt = cached_arrays("toy", {"v": 1}, _builder(calls))
    assert len(calls) == 2 and rebuilt[0].shape == (5, 1, 3, 3)
    (folder / data_cache._COMPLETE).unlink()  # no marker: not trusted
    cached_arrays("toy", {"v": 1}, _builder(calls))
    assert len(calls) == 3


def test_an_unwritable_cache_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    calls = []
    out = cached_arrays("toy", {"v": 1}, _builder(calls))
    assert len(calls) == 1 and out[1].tolist() == list(range(5))
    assert blocker.read_text().startswith("a file")  # untouched


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    cached_arrays("toy", {"v": 1}, _builder(calls))
    cached_arrays("toy", {"v": 1}, _builder(calls))
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def _write_idx(path: Path, array: np.ndarray):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def _idx_folder(folder: Path, seed: int):
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 4, 4)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 3, 6))
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (2, 4, 4)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([0, 2]))


def test_idx_folder_through_the_cache_equals_parsing(cache, tmp_path):
    folder = tmp_path / "idx"
    _idx_folder(folder, seed=0)
    parsed = data.read_idx(folder / "train-images-idx3-ubyte.gz")
    data._load_idx_arrays.cache_clear()
    first = data.load_idx_dir(folder)
    data._load_idx_arrays.cache_clear()  # a new process: only the disk cache remains
    mapped = data.load_idx_dir(folder)
    np.testing.assert_array_equal(mapped.x_train, first.x_train)
    np.testing.assert_array_equal(mapped.x_train[:, 0], (parsed.astype(np.float32) / 255.0))
    assert any((cache / "data").iterdir())
    # a rewritten source file (new content, new mtime) is parsed again, never served stale
    _idx_folder(folder, seed=1)
    os.utime(folder / "train-images-idx3-ubyte.gz", ns=(1, 10**18))
    data._load_idx_arrays.cache_clear()
    fresh = data.load_idx_dir(folder)
    assert not np.array_equal(fresh.x_train, first.x_train)
    np.testing.assert_array_equal(fresh.x_train[:, 0],
                                  data.read_idx(folder / "train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    data._load_idx_arrays.cache_clear()


def test_digits_through_the_cache_are_scikit_learns(cache):
    from sklearn.datasets import load_digits

    data._digits_arrays.cache_clear()
    data.load_digits()
    data._digits_arrays.cache_clear()
    ds = data.load_digits()  # mapped from disk
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    np.testing.assert_array_equal(ds.y_test, bunch.target[order[:400]])
    np.testing.assert_array_equal(ds.x_train[:, 0], (bunch.images[order[400:]] / 16.0).astype(np.float32))
    data._digits_arrays.cache_clear()
