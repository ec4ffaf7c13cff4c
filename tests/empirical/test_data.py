"""Data loaders, derived sets and signals: shapes, label ranges, determinism, errors, no network."""

import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from collective_action import Collective, InputError
from collective_action.empirical import data, derived
from collective_action.empirical.signals import GlobalSignal, PatchSignal, make_signal
from collective_action.empirical.splits import prepare

needs_fmnist = pytest.mark.skipif(not (data.FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
                                  reason="dataset-fashion-mnist is not installed")


@needs_fmnist
def test_fashion_mnist_full_split_shapes_and_labels():
    ds = data.load_fashion_mnist()
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    assert set(np.unique(ds.y_train)) == set(range(10)) and np.bincount(ds.y_test).tolist() == [1000] * 10
    assert data.load_fashion_mnist() .x_train is ds.x_train  # cached per process
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0, 0] = 1.0  # the cache is read-only


def _write_idx(path: Path, array: np.ndarray, compress: bool):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_roundtrip(tmp_path, compress):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (12, 5, 6)),
              "train-labels-idx1-ubyte": rng.integers(0, 3, 12),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 5, 6)),
              "t10k-labels-idx1-ubyte": np.array([0, 1, 2, 2])}
    for stem, arr in arrays.items():
        _write_idx(tmp_path / (stem + (".gz" if compress else "")), arr, compress)
    ds = data.load_idx_dir(tmp_path)
    assert ds.x_train.shape == (12, 1, 5, 6) and ds.n_classes == 3
    np.testing.assert_allclose(ds.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(ds.y_test, [0, 1, 2, 2])


def test_missing_data_errors_name_the_fix(tmp_path):
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path / "nowhere")
    with pytest.raises(InputError, match="lacks"):
        data.load_idx_dir(tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(InputError, match="not an idx file"):
        data.read_idx(bad)
    with pytest.raises(InputError, match="unknown dataset"):
        data.load_dataset("cifar10")


def test_digits_split_is_fixed():
    ds = data.load_digits()
    assert ds.x_train.shape == (1397, 1, 8, 8) and ds.x_test.shape == (400, 1, 8, 8)
    assert ds.x_train.max() <= 1.0 and set(np.unique(ds.y_train)) == set(range(10))
    data._digits_arrays.cache_clear()
    again = data.load_digits()
    np.testing.assert_array_equal(ds.y_test, again.y_test)


def test_mnist1d_is_generated_offline_and_leaves_global_rng_alone(monkeypatch, tmp_path):
    import mnist1d.data
    import requests

    def forbidden(*args, **kwargs):
        raise AssertionError("the network / download path was called")

    monkeypatch.setattr(requests, "get", forbidden)
    monkeypatch.setattr(mnist1d.data, "get_dataset", forbidden)
    monkeypatch.chdir(tmp_path)
    data._mnist1d_arrays.cache_clear()
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    ds = data.load_mnist1d()
    assert np.random.random() == expected_np and random.random() == expected_py
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert list(tmp_path.iterdir()) == []  # no pickle cache written
    data._mnist1d_arrays.cache_clear()
    np.testing.assert_array_equal(data.load_mnist1d().x_train, ds.x_train)  # deterministic


def test_signals_plant_where_told_and_leave_input_alone():
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)
    patch = make_signal("patch", (1, 8, 8), place="corner", size=3)
    out = patch(x)
    assert x.sum() == 0 and isinstance(patch, PatchSignal)
    assert out[:, 0, 4:7, 4:7].tolist() == [[[1, 0, 1], [0, 1, 0], [1, 0, 1]]] * 2
    assert out.sum() == 2 * 5
    g = make_signal("global", (1, 8, 8), amplitude=0.1, seed=3)
    y = g(np.full((1, 1, 8, 8), 0.5, dtype=np.float32))
    assert isinstance(g, GlobalSignal) and np.allclose(np.abs(y - 0.5), 0.1)
    assert np.array_equal(g.pattern, make_signal("global", (1, 8, 8), amplitude=0.1, seed=3).pattern)
    with pytest.raises(InputError, match="signal.place"):
        make_signal("patch", (1, 8, 8), place="nowhere")
    with pytest.raises(InputError, match="outside"):
        make_signal("patch", (1, 8, 8), place=[7, 7])


def test_collective_lives_in_training_split_only():
    ds = data.load_digits()
    signal = make_signal("patch", ds.input_shape, place="corner", size=3)
    coll = Collective(0.1, 3, signal)
    prep = prepare(ds, coll, np.random.default_rng(0), val_size=200)
    assert prep.members.sum() == round(0.1 * len(prep.y_train))
    assert (prep.y_train[prep.members] == 3).all()
    assert np.allclose(prep.x_train[prep.members][:, 0, 4:7, 4:7], signal(np.zeros((1, 1, 8, 8)))[0, 0, 4:7, 4:7])
    assert not prep.val_members.any()
    assert np.array_equal(prep.x_test, ds.x_test)  # test split untouched
    assert len(prep.x_success) == (ds.y_test != 3).sum()
    with_coll = prepare(ds, coll, np.random.default_rng(0), val_size=200, validation="with-collective")
    assert with_coll.val_members.sum() == 20 and (with_coll.y_val[with_coll.val_members] == 3).all()


@needs_fmnist
def test_spurious_set_groups_and_determinism():
    ds = derived.make_spurious(seed=0)
    assert ds.n_classes == 2 and ds.n_groups == 4 and ds.x_train.shape[1:] == (1, 28, 28)
    attribute_train = ds.groups_train % 2
    assert abs((attribute_train == ds.y_train).mean() - 0.95) < 0.01
    assert abs((ds.groups_test % 2 == ds.y_test).mean() - 0.5) < 0.03
    assert abs((ds.groups_val % 2 == ds.y_val).mean() - 0.5) < 0.06
    # the attribute is visible: a bright frame exactly when attribute == 1
    frame_mean = ds.x_train[:, 0, 0, :].mean(axis=1)
    assert np.array_equal(frame_mean == 1.0, attribute_train == 1)
    derived._spurious_cached.cache_clear()
    again = derived.make_spurious(seed=0)
    assert np.array_equal(again.groups_train, ds.groups_train) and np.array_equal(again.x_test, ds.x_test)
    assert not np.array_equal(derived.make_spurious(seed=1).groups_train[:200], ds.groups_train[:200])


@needs_fmnist
def test_dominoes_halves_margin_and_regions():
    ds = derived.make_dominoes(seed=0, n_train=500, n_test=100)
    assert ds.x_train.shape == (500, 1, 56, 33)
    assert ds.x_train[:, :, :, 28:].sum() == 0  # the free margin is empty in base data
    # the bar's column codes the label
    cols = ds.x_train[:, 0, 10, :28].argmax(axis=1)
    assert np.array_equal(cols, 2 + (ds.y_train * 23) // 9)
    for place, (r0, r1, c0, c1) in ds.meta["regions"].items():
        s = make_signal("patch", ds.input_shape, place=place, size=3, regions=ds.meta["regions"])
        assert r0 <= s.row and s.row + 3 <= r1 and c0 <= s.col and s.col + 3 <= c1
    derived._dominoes_cached.cache_clear()
    assert np.array_equal(derived.make_dominoes(seed=0, n_train=500, n_test=100).x_train, ds.x_train)


def test_patch_on_vectors_overwrites_consecutive_coordinates():
    s = make_signal("patch", (40,), place=[0, 34], size=4, high=3.0, low=-3.0)
    out = s(np.zeros((2, 40), dtype=np.float32))
    assert out[:, 34:38].tolist() == [[3, -3, 3, -3]] * 2 and out[:, :34].sum() == 0
    with pytest.raises(InputError, match="outside"):
        make_signal("patch", (40,), place=[0, 38], size=4)
