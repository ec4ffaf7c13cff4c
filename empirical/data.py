"""Real data sets as numpy arrays: Fashion-MNIST, scikit-learn digits, MNIST-1D, idx folders; and
points sampled from a discrete problem (one-hot features), where theory's exact success applies.

Every loader returns a :class:`Dataset` with float32 features scaled to [0, 1] (images as
``(N, 1, H, W)``, MNIST-1D as ``(N, 40)``) and int64 labels. Parsed arrays are cached in memory
per process and on disk across runs (memory-mapped, empirical/data_cache.py); they are read-only,
so callers cannot modify them in place (everything downstream copies before planting a signal).

Nothing here touches the network: Fashion-MNIST comes from the Debian package
``dataset-fashion-mnist`` (or any folder of idx files the user names), digits ship with
scikit-learn, and MNIST-1D is *generated* with ``mnist1d.data.make_dataset`` -- its download path
(``get_dataset``) is never called.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from collective_action.errors import InputError, check_choice

from .data_cache import cached_arrays

#: Where Debian's ``dataset-fashion-mnist`` package puts its files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_INSTALL = "apt-get install dataset-fashion-mnist"

#: Fashion-MNIST class names, index = label.
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# The four standard idx file stems of an MNIST-style folder.
_IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# idx type codes (third byte of the magic number) -> numpy dtype (big-endian on disk).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Dataset:
    """A train/test split held as numpy arrays.

    ``groups_train`` / ``groups_test`` (and ``groups_val``) hold a group index per point where the data set defines
    groups (the spurious set: (label, attribute) pairs); None otherwise. ``meta`` records how
    the set was made (name, seed, ...), so that result rows can carry it.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    groups_train: np.ndarray | None = None
    groups_test: np.ndarray | None = None
    n_groups: int = 0
    meta: dict = field(default_factory=dict)
    # A set may bring its own validation split (the spurious set draws it like the test split);
    # otherwise experiments carve one out of the training split.
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    groups_val: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def subset_train(self, n: int | None, rng: np.random.Generator) -> "Dataset":
        """Keep a random ``n`` training points (all when ``n`` is None or >= the size)."""
        if n is None or n >= len(self.y_train):
            return self
        if n < 1:
            raise InputError(f"train_size must be at least 1, got {n}")
        keep = np.sort(rng.choice(len(self.y_train), size=n, replace=False))
        groups = None if self.groups_train is None else self.groups_train[keep]
        return replace(self, x_train=self.x_train[keep], y_train=self.y_train[keep], groups_train=groups)


# ------------------------------------------------------------------------------------------------
# idx files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse one idx file (gzip-compressed or not) into a numpy array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise InputError(f"cannot read idx file {path}: {err.strerror or err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InputError(f"{path} is not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(f"{path}: idx header promises {expected} bytes of data, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=8)
def _load_idx_arrays(directory: str) -> tuple[np.ndarray, ...]:
    folder = Path(directory)
    found = {key: _find_idx_file(folder, stem) for key, stem in _IDX_STEMS.items()}
    missing = [_IDX_STEMS[k] for k, p in found.items() if p is None]
    if missing:
        raise InputError(f"idx folder {folder} lacks {', '.join(missing)} (.gz or plain)")
    key = {"format": 1, "files": {k: _file_identity(p) for k, p in found.items()}}
    return cached_arrays("idx", key, lambda: _parse_idx_arrays(found, folder))


def _file_identity(path: Path) -> list:
    """What the parsed arrays depend on: the file's path, size and modification time."""
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _parse_idx_arrays(found: dict[str, Path], folder: Path) -> tuple[np.ndarray, ...]:
    x_train = read_idx(found["x_train"])
    y_train = read_idx(found["y_train"])
    x_test = read_idx(found["x_test"])
    y_test = read_idx(found["y_test"])
    if x_train.ndim != 3 or x_test.ndim != 3 or len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise InputError(f"idx folder {folder}: images must be (N, H, W) with one label per image")
    return (
        (x_train.astype(np.float32) / 255.0)[:, None],
        y_train.astype(np.int64),
        (x_test.astype(np.float32) / 255.0)[:, None],
        y_test.astype(np.int64),
    )


def load_idx_dir(directory: str | os.PathLike, name: str | None = None) -> Dataset:
    """A data set from a folder of the four standard idx files (MNIST, Fashion-MNIST, KMNIST...)."""
    folder = Path(directory).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"idx folder not found: {folder}")
    x_train, y_train, x_test, y_test = _load_idx_arrays(str(folder))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(name or folder.name, x_train, y_train, x_test, y_test, n_classes,
                   meta={"name": name or folder.name, "source": str(folder)})


def load_fashion_mnist(directory: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST, 60k/10k 28x28 grey images in 10 classes, from Debian's package files."""
    folder = Path(directory) if directory is not None else FASHION_MNIST_DIR
    if not folder.is_dir() or _find_idx_file(folder, _IDX_STEMS["x_train"]) is None:
        raise InputError(f"Fashion-MNIST not found in {folder}; install it with `{FASHION_MNIST_INSTALL}` "
                         "(after apt-get update) or pass data_dir")
    ds = load_idx_dir(folder, name="fashion-mnist")
    return replace(ds, meta={"name": "fashion-mnist", "source": str(folder)})


# ------------------------------------------------------------------------------------------------
# scikit-learn digits and MNIST-1D


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, ...]:
    return cached_arrays("digits", {"format": 1, "scikit-learn": _version("scikit-learn")}, _build_digits_arrays)


def _build_digits_arrays() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # pixel values are 0..16
    y = bunch.target.astype(np.int64)
    # A fixed split (seed 0, 400 test points) so that "digits" means the same data everywhere.
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:400], order[400:]
    return x[train], y[train], x[test], y[test]


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits, split 1,397 train / 400 test by a fixed permutation."""
    x_train, y_train, x_test, y_test = _digits_arrays()
    return Dataset("digits", x_train, y_train, x_test, y_test, 10, meta={"name": "digits"})


@lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, seed: int) -> tuple[np.ndarray, ...]:
    key = {"format": 1, "mnist1d": _version("mnist1d"), "num_samples": num_samples, "seed": seed}
    return cached_arrays("mnist1d", key, lambda: _build_mnist1d_arrays(num_samples, seed))


def _build_mnist1d_arrays(num_samples: int, seed: int) -> tuple[np.ndarray, ...]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds numpy's and Python's global generators; restore them afterwards so
    # that generating data never changes a caller's random stream.
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)  # pure generation: no file, no network
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    # Features are standardised by mnist1d (mean 0, sd 1); keep them as they are.
    return (
        data["x"].astype(np.float32), data["y"].astype(np.int64),
        data["x_test"].astype(np.float32), data["y_test"].astype(np.int64),
    )


def load_mnist1d(num_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D generated offline: ``num_samples`` points (80% train), 40 features, 10 classes.

    The defaults reproduce the package's standard 4,000/1,000 set. Features are standardised
    (not in [0, 1]); signals on this set are additive.
    """
    if num_samples < 10:
        raise InputError(f"num_samples must be at least 10, got {num_samples}")
    x_train, y_train, x_test, y_test = _mnist1d_arrays(int(num_samples), int(seed))
    return Dataset("mnist1d", x_train, y_train, x_test, y_test, 10,
                   meta={"name": "mnist1d", "num_samples": int(num_samples), "seed": int(seed)})


# ------------------------------------------------------------------------------------------------
# A discrete problem, sampled


def discrete_problem(n_points: int, n_labels: int, concentration: float, problem_seed: int, target: int = 0):
    """The random discrete problem of ``data: discrete`` (P0 and g from ``problem_seed``; y* = ``target``)."""
    from collective_action.discrete import DiscreteProblem

    drawn = DiscreteProblem.random(np.random.default_rng([int(problem_seed), 5]), n_points, n_labels,
                                   concentration, target=0)
    return DiscreteProblem(drawn.p0, drawn.g, int(target))


@lru_cache(maxsize=4)
def _discrete_arrays(n_points: int, n_labels: int, concentration: float, problem_seed: int, n_train: int,
                     n_test: int, data_seed: int) -> tuple[np.ndarray, ...]:
    problem = discrete_problem(n_points, n_labels, concentration, problem_seed)
    rng = np.random.default_rng([int(data_seed), 13])
    eye = np.eye(n_points, dtype=np.float32)
    arrays = []
    for n in (n_train, n_test):
        x, y = np.divmod(rng.choice(problem.p0.size, size=n, p=problem.p0.ravel()), n_labels)
        arrays += [eye[x], y.astype(np.int64)]
    for a in arrays:
        a.setflags(write=False)
    return tuple(arrays)


def load_discrete(n_points: int = 6, n_labels: int = 3, concentration: float = 1.0, problem_seed: int = 0,
                  n_train: int = 100_000, n_test: int = 20_000, data_seed: int = 0) -> Dataset:
    """``n_train`` training and ``n_test`` test points (x, y) ~ P0 of a random discrete problem, x one-hot.

    A linear softmax on one-hot inputs can represent any classifier of X, so SGD on these points
    approaches the Bayes classifier of the training mixture that theory describes. ``meta`` holds
    P0 and the signal map g (the signal ``kind: map`` plants g: one-hot x -> one-hot g(x)).
    """
    problem = discrete_problem(n_points, n_labels, concentration, problem_seed)
    x_train, y_train, x_test, y_test = _discrete_arrays(int(n_points), int(n_labels), float(concentration),
                                                        int(problem_seed), int(n_train), int(n_test), int(data_seed))
    return Dataset("discrete", x_train, y_train, x_test, y_test, int(n_labels),
                   meta={"name": "discrete", "p0": problem.p0, "signal_map": problem.g,
                         "problem_seed": int(problem_seed), "data_seed": int(data_seed)})


# ------------------------------------------------------------------------------------------------
# One entry point by name

#: Base data sets known by name (derived sets live in derived.py).
BASE_DATASETS = ("fashion-mnist", "digits", "mnist1d", "idx")


def load_dataset(name: str, data_dir: str | None = None) -> Dataset:
    """Load a base data set by name; ``idx`` needs ``data_dir`` (a folder of idx files)."""
    check_choice("dataset", name, BASE_DATASETS)
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "digits":
        return load_digits()
    if name == "mnist1d":
        return load_mnist1d()
    if data_dir is None:
        raise InputError("dataset 'idx' needs data_dir: a folder with the four idx files")
    return load_idx_dir(data_dir)
