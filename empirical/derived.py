"""Derived data sets built from Fashion-MNIST (and digits), deterministic given a seed.

* :func:`make_spurious` -- the Waterbirds stand-in. Binary label (default: tops {T-shirt,
  pullover, coat, shirt} = 0 versus footwear {sandal, sneaker, ankle boot} = 1) and a spurious
  attribute, a bright frame of ``border`` pixels around the image, that agrees with the label on
  ``agreement`` (95%) of training points and on half of the validation and test points. Groups
  are (label, attribute) pairs, index 2 * label + attribute: four groups, two of them rare in
  training.
* :func:`make_dominoes` -- the MNIST-CIFAR stand-in. A simple half (a class-coded vertical bar,
  or the scikit-learn digit of the same class upsampled to 24x24) stacked above a Fashion-MNIST
  image, plus a free margin of ``margin`` columns that base data leave at zero. Both halves
  predict the label on training points (the simple half on ``simple_agreement`` of them).
  Regions ``simple``, ``complex`` and ``margin`` name where a signal may go.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from collective_action.errors import InputError, check_choice

from .data import Dataset, _digits_arrays, load_fashion_mnist

TOPS = (0, 2, 4, 6)
FOOTWEAR = (5, 7, 9)


def _frame_mask(size: int, border: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[:border], mask[-border:], mask[:, :border], mask[:, -border:] = True, True, True, True
    return mask


def _spurious_split(x, y_fine, rng, agreement, classes_a, classes_b, border, intensity, n_max):
    keep = np.flatnonzero(np.isin(y_fine, classes_a + classes_b))
    if n_max is not None and n_max < len(keep):
        keep = np.sort(rng.choice(keep, size=n_max, replace=False))
    y = np.isin(y_fine[keep], classes_b).astype(np.int64)
    agree = rng.random(len(keep)) < agreement
    attribute = np.where(agree, y, 1 - y)
    images = np.array(x[keep], dtype=np.float32, copy=True)
    frame = _frame_mask(images.shape[-1], border)
    framed = images[attribute == 1]
    framed[:, :, frame] = intensity
    images[attribute == 1] = framed
    return images, y, 2 * y + attribute


@lru_cache(maxsize=4)
def _spurious_cached(seed, agreement, classes_a, classes_b, border, intensity, n_train, n_val, n_test,
                     data_dir=None):
    base = load_fashion_mnist(data_dir)
    rng = np.random.default_rng(seed)
    # Validation points come out of the training pool but follow the test distribution.
    order = rng.permutation(len(base.y_train))
    val_pool, train_pool = order[:max(4 * n_val, 1)], order[max(4 * n_val, 1):]
    x_tr, y_tr, g_tr = _spurious_split(base.x_train[train_pool], base.y_train[train_pool], rng, agreement,
                                       classes_a, classes_b, border, intensity, n_train)
    x_va, y_va, g_va = _spurious_split(base.x_train[val_pool], base.y_train[val_pool], rng, 0.5,
                                       classes_a, classes_b, border, intensity, n_val)
    x_te, y_te, g_te = _spurious_split(base.x_test, base.y_test, rng, 0.5, classes_a, classes_b, border,
                                       intensity, n_test)
    arrays = (x_tr, y_tr, g_tr, x_va, y_va, g_va, x_te, y_te, g_te)
    for a in arrays:
        a.setflags(write=False)  # cached: shared by every caller
    return arrays


def make_spurious(seed: int = 0, agreement: float = 0.95, classes_a=TOPS, classes_b=FOOTWEAR,
                  border: int = 2, intensity: float = 1.0, n_train: int | None = None,
                  n_val: int = 1000, n_test: int | None = None, data_dir: str | None = None) -> Dataset:
    """The spurious-correlation set (four groups); see the module docstring."""
    classes_a, classes_b = tuple(int(c) for c in classes_a), tuple(int(c) for c in classes_b)
    if not 0.0 <= agreement <= 1.0:
        raise InputError(f"agreement must lie in [0, 1], got {agreement}")
    if set(classes_a) & set(classes_b) or not classes_a or not classes_b:
        raise InputError("spurious classes_a and classes_b must be non-empty and disjoint")
    if not 1 <= border <= 6:
        raise InputError(f"spurious border must lie in 1..6 pixels, got {border}")
    arrays = _spurious_cached(int(seed), float(agreement), classes_a, classes_b, int(border), float(intensity),
                              n_train, int(n_val), n_test, data_dir)
    x_tr, y_tr, g_tr, x_va, y_va, g_va, x_te, y_te, g_te = arrays
    meta = {"name": "spurious", "seed": int(seed), "agreement": float(agreement), "classes_a": list(classes_a),
            "classes_b": list(classes_b), "border": int(border)}
    return Dataset("spurious", x_tr, y_tr, x_te, y_te, 2, groups_train=g_tr, groups_test=g_te, n_groups=4,
                   meta=meta, x_val=x_va, y_val=y_va, groups_val=g_va)


# ------------------------------------------------------------------------------------------------
# Dominoes

SIMPLE_KINDS = ("bar", "digits")


def _bars(labels: np.ndarray) -> np.ndarray:
    """28x28 images with a 2-pixel vertical bar whose column codes the label (10 positions)."""
    out = np.zeros((len(labels), 1, 28, 28), dtype=np.float32)
    cols = 2 + (labels * 23) // 9  # columns 2 .. 25, evenly spread
    for c in range(2, 26):
        sel = cols == c
        out[sel, 0, 4:24, c:c + 2] = 1.0
    return out


def _digit_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each label, a random scikit-learn digit of that class upsampled 3x to 24x24, padded to 28."""
    x_tr, y_tr, x_te, y_te = _digits_arrays()
    xs, ys = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    out = np.zeros((len(labels), 1, 28, 28), dtype=np.float32)
    for c in np.unique(labels):
        sel = np.flatnonzero(labels == c)
        pool = np.flatnonzero(ys == c)
        picks = xs[rng.choice(pool, size=len(sel))]
        out[sel, :, 2:26, 2:26] = picks.repeat(3, axis=-1).repeat(3, axis=-2)
    return out


def _dominoes_split(x, y, rng, simple, agreement, margin, n_max):
    idx = np.arange(len(y))
    if n_max is not None and n_max < len(y):
        idx = np.sort(rng.choice(len(y), size=n_max, replace=False))
    labels = y[idx]
    agree = rng.random(len(idx)) < agreement
    # When the simple half disagrees it shows a uniformly random other class.
    other = (labels + rng.integers(1, 10, size=len(idx))) % 10
    simple_labels = np.where(agree, labels, other)
    top = _bars(simple_labels) if simple == "bar" else _digit_images(simple_labels, rng)
    images = np.zeros((len(idx), 1, 56, 28 + margin), dtype=np.float32)
    images[:, :, :28, :28] = top
    images[:, :, 28:, :28] = x[idx]
    return images, labels.astype(np.int64)


@lru_cache(maxsize=4)
def _dominoes_cached(seed, simple, agreement, test_agreement, margin, n_train, n_test, data_dir=None):
    base = load_fashion_mnist(data_dir)
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _dominoes_split(base.x_train, base.y_train, rng, simple, agreement, margin, n_train)
    x_te, y_te = _dominoes_split(base.x_test, base.y_test, rng, simple, test_agreement, margin, n_test)
    for a in (x_tr, y_tr, x_te, y_te):
        a.setflags(write=False)
    return x_tr, y_tr, x_te, y_te


def make_dominoes(seed: int = 0, simple: str = "bar", agreement: float = 1.0, test_agreement: float = 1.0,
                  margin: int = 5, n_train: int | None = 20000, n_test: int | None = 5000,
                  data_dir: str | None = None) -> Dataset:
    """The dominoes set: (1, 56, 28 + margin) images in 10 classes; see the module docstring."""
    check_choice("dominoes simple half", simple, SIMPLE_KINDS)
    for name, value in (("agreement", agreement), ("test_agreement", test_agreement)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"dominoes {name} must lie in [0, 1], got {value}")
    if not 3 <= margin <= 12:
        raise InputError(f"dominoes margin must lie in 3..12 columns, got {margin}")
    x_tr, y_tr, x_te, y_te = _dominoes_cached(int(seed), simple, float(agreement), float(test_agreement),
                                              int(margin), n_train, n_test, data_dir)
    regions = {"simple": (0, 28, 0, 28), "complex": (28, 56, 0, 28), "margin": (0, 56, 28, 28 + margin)}
    meta = {"name": "dominoes", "seed": int(seed), "simple": simple, "agreement": float(agreement),
            "test_agreement": float(test_agreement), "margin": int(margin), "regions": regions}
    return Dataset("dominoes", x_tr, y_tr, x_te, y_te, 10, meta=meta)
