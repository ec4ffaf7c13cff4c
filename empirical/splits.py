"""Train / validation / test splits with a collective planted in the training split only.

The order matters and is fixed: (1) carve the validation split out of the training points (unless
the data set brings its own), (2) draw the optional training subset from the rest, (3) let a random
``alpha``-fraction of the training points be collective members (shared
:class:`collective_action.collective.Collective`; an adaptive collective fits its label estimate on
them here, :mod:`.estimate`), (4) plant members into the validation split only when the validation
policy is ``with-collective`` (the validation set then follows P_alpha; an adaptive collective
plays the estimate it fitted in step 3). The test split stays clean; the runner measures success
on every test point with the signal planted (:attr:`PreparedData.x_success` holds the test points
of every class but y*, with the signal planted: attack success)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from collective_action.collective import Collective
from collective_action.errors import InputError, check_choice

from .data import Dataset

VALIDATION_POLICIES = ("clean", "with-collective")


@dataclass
class PreparedData:
    """Everything one training run needs, as numpy arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    members: np.ndarray          # bool per training point: controlled by the collective
    x_val: np.ndarray
    y_val: np.ndarray
    val_members: np.ndarray      # bool per validation point (all False for a clean policy)
    x_test: np.ndarray
    y_test: np.ndarray
    x_success: np.ndarray        # test points with y != y*, signal planted
    n_classes: int
    target: int
    groups_train: np.ndarray | None = None
    groups_val: np.ndarray | None = None
    groups_test: np.ndarray | None = None
    n_groups: int = 0
    membership: np.ndarray | None = None  # several collectives: the collective of each training point (-1: none)
    played: Collective | None = None  # the collective as it played: adaptive ones carry their fitted labeler

    @property
    def alpha_realised(self) -> float:
        """The collective's actual share of the training split (round(alpha n) / n)."""
        return float(self.members.mean())


def subsample_test(ds: Dataset, size: int | None, seed: int) -> Dataset:
    """``ds`` with a random ``size``-point subset of its test split (None or >= its size: all).

    The subset depends on ``seed`` only (the data seed), so every run seed of an experiment is
    scored on the same points; it keeps the test split's order and its groups.
    """
    if size is None or size >= len(ds.y_test):
        return ds
    if size < 1:
        raise InputError(f"test_size must be at least 1, got {size}")
    keep = np.sort(np.random.default_rng([int(seed), 11]).choice(len(ds.y_test), size=size, replace=False))
    return replace(ds, x_test=ds.x_test[keep], y_test=ds.y_test[keep],
                   groups_test=None if ds.groups_test is None else ds.groups_test[keep])


def split(ds: Dataset, rng: np.random.Generator, *, train_size: int | None = None, val_size: int = 1000):
    """Steps (1) and (2): (x_train, y_train, groups_train, x_val, y_val, groups_val), nothing planted."""
    x_tr, y_tr, g_tr = ds.x_train, ds.y_train, ds.groups_train
    if ds.x_val is not None:
        x_val, y_val, g_val = ds.x_val, ds.y_val, ds.groups_val
        keep = np.arange(len(y_tr))
    else:
        if not 0 <= val_size < len(y_tr):
            raise InputError(f"val_size must lie in [0, {len(y_tr) - 1}], got {val_size}")
        order = rng.permutation(len(y_tr))
        val_idx, keep = np.sort(order[:val_size]), np.sort(order[val_size:])
        x_val, y_val = x_tr[val_idx], y_tr[val_idx]
        g_val = None if g_tr is None else g_tr[val_idx]
    if train_size is not None:
        if train_size < 1:
            raise InputError(f"train_size must be at least 1, got {train_size}")
        if train_size < len(keep):
            keep = np.sort(rng.choice(keep, size=train_size, replace=False))
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    g_tr = None if g_tr is None else g_tr[keep]
    return x_tr, y_tr, g_tr, x_val, y_val, g_val


def training_size(ds: Dataset, train_size: int | None, val_size: int) -> int:
    """How many training points :func:`split` leaves (the n that alpha is a share of)."""
    available = len(ds.y_train) - (0 if ds.x_val is not None else val_size)
    return available if train_size is None else min(train_size, available)


def prepare(ds: Dataset, collective: Collective | None, rng: np.random.Generator, *,
            train_size: int | None = None, val_size: int = 1000,
            validation: str = "clean") -> PreparedData:
    """Split ``ds`` and plant ``collective`` (None: no collective) in the training split."""
    return prepare_policies(ds, collective, rng, train_size=train_size, val_size=val_size,
                            policies=(validation,))[0]


def prepare_policies(ds: Dataset, collective: Collective | None, rng: np.random.Generator, *,
                     train_size: int | None = None, val_size: int = 1000,
                     policies: tuple[str, ...] = ("clean",)) -> list[PreparedData]:
    """:func:`prepare` for each validation policy of one run: one split and one planting of the
    training split, shared; the validation split planted (once) for ``with-collective``.

    An adaptive collective fits its estimate on its training members once and plays the same
    estimate on the validation split (:meth:`Collective.plant_and_fit`). Each policy's data are
    what :func:`prepare` alone gives it: a clean policy draws nothing after the training planting.
    """
    for validation in policies:
        check_choice("validation", validation, VALIDATION_POLICIES)
    if collective is not None and collective.target >= ds.n_classes:
        raise InputError(f"collective.target {collective.target} is not a class of {ds.name} "
                         f"(0..{ds.n_classes - 1})")
    x_tr, y_tr, g_tr, x_val, y_val, g_val = split(ds, rng, train_size=train_size, val_size=val_size)
    clean_val = (np.asarray(x_val), np.asarray(y_val), np.zeros(len(y_val), dtype=bool))

    played = None
    if collective is None:
        members = np.zeros(len(y_tr), dtype=bool)
        x_tr = np.array(x_tr, copy=True)
        y_tr = np.array(y_tr, copy=True)
        planted_val = clean_val
        success_x = ds.x_test[:0]
    else:
        x_tr, y_tr, members, played = collective.plant_and_fit(x_tr, y_tr, rng)
        planted_val = clean_val
        if "with-collective" in policies and len(y_val):
            planted_val = played.plant_in_training_set(x_val, y_val, rng)
        not_target = ds.y_test != collective.target
        success_x = collective.signal(ds.x_test[not_target])
    out = []
    for validation in policies:
        xv, yv, val_members = planted_val if validation == "with-collective" else clean_val
        out.append(PreparedData(
            x_train=x_tr, y_train=y_tr, members=members,
            x_val=np.asarray(xv), y_val=np.asarray(yv), val_members=val_members,
            x_test=ds.x_test, y_test=ds.y_test, x_success=success_x,
            n_classes=ds.n_classes, target=-1 if collective is None else collective.target,
            groups_train=g_tr, groups_val=g_val, groups_test=ds.groups_test, n_groups=ds.n_groups,
            played=played,
        ))
    return out
