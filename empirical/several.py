"""Several collectives on real data: who plants what in the training split, with deviating members.

A configuration with ``collectives:`` (the shared vocabulary, :mod:`collective_action.several`)
lists every collective with its signal, target, strategy and noise. Planting, in this order:
collective 0 draws round(alpha_0 n) members among all training points (the draw the one-collective
case makes), collective 1 round(alpha_1 n) among the points left, and so on; each collective then
draws its deviators (each member independently with probability eta, only where eta > 0) and
every member reports:

* a follower: the strategy's point, h(x, y) (feature-label: (g(x), y*));
* a ``keep-label`` deviator: its own (x, y);
* a ``random-label`` deviator: (g(x), y) with y drawn uniformly from the classes;
* a ``corrupted-signal`` deviator: the strategy's point with a corrupted signal in place of g
  (:func:`.signals.corrupt`: the patch at a uniformly drawn other place, or a fresh global pattern).

With one collective and no noise this is :meth:`collective_action.collective.Collective.plant_in_training_set`,
draw for draw (tested). Each collective's success is measured on every test point with its own
signal planted, next to the clean accuracy of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.collective import Collective
from collective_action.errors import InputError, check_choice
from collective_action.several import Resolved, resolve

from .data import Dataset
from .signals import corrupt
from .splits import VALIDATION_POLICIES, PreparedData, split

#: The strategies several collectives may use: both plant, so success is Pr[f(g(x)) = y*].
SEVERAL_STRATEGIES = ("feature-label", "feature-only")


def collectives_of(cfg) -> list[Resolved]:
    """Every collective of an empirical configuration (one, from collective: and signal:, without collectives:)."""
    if cfg.collectives is None:
        c = cfg.collective
        return [Resolved(0, c.alpha, c.target, c.strategy, cfg.signal, 0.0, "keep-label")]
    return resolve(cfg.collective, cfg.collectives, cfg.shares, cfg.noise)


def check_config(cfg) -> None:
    """ValueError for a configuration whose collectives cannot run (data-dependent checks: check_cells)."""
    from .config import SignalSpec

    if cfg.signal != SignalSpec():
        raise ValueError("collectives lists every collective with its signal: write collective 0's signal in "
                         "collectives.0.signal and remove signal")
    for c in collectives_of(cfg):
        if c.strategy not in SEVERAL_STRATEGIES:
            raise ValueError(f"collective {c.index}: several collectives plant with {' or '.join(SEVERAL_STRATEGIES)}, "
                             f"not {c.strategy!r}")


def signal_text(spec, strategy: str) -> str:
    """A short description of a signal, e.g. ``patch 3x3 @ corner (feature-label)``."""
    if spec.kind == "map":
        return f"map g ({strategy})"
    if spec.kind == "global":
        return f"global {spec.amplitude:.3g} ({strategy})"
    place = spec.place if isinstance(spec.place, str) else f"[{spec.place[0]}, {spec.place[1]}]"
    return f"patch {spec.size}x{spec.size} @ {place} ({strategy})"


def layout_of(cols: list[Resolved]) -> str:
    """Which collectives share a signal, e.g. '0:own 1:same-as-0' (a tug of war) or '0:own 1:own'."""
    parts = []
    for c in cols:
        same = next((d.index for d in cols[:c.index] if d.signal == c.signal), None)
        parts.append(f"{c.index}:" + ("own" if same is None else f"same-as-{same}"))
    return " ".join(parts)


@dataclass(frozen=True)
class Planter:
    """One collective ready to plant: the shared Collective (alpha, target, signal, strategy) and its noise."""

    collective: Collective
    noise: float
    kind: str

    def deviate(self, x: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator):
        """What deviating members with points (x, y) report, by noise kind."""
        c = self.collective
        if self.kind == "random-label":
            return c.signal(x), rng.integers(0, n_classes, size=len(y)).astype(np.asarray(y).dtype)
        if self.kind == "corrupted-signal":
            return c.strategy_impl.apply(x, y, lambda batch: corrupt(c.signal, batch, rng), c.target)
        return x, y


def planters(cols: list[Resolved], signals: list) -> list[Planter]:
    """Planters from resolved collectives and their built signal callables."""
    return [Planter(Collective(c.alpha, c.target, g, c.strategy), c.noise, c.kind) for c, g in zip(cols, signals)]


def plant(x: np.ndarray, y: np.ndarray, planted: list[Planter], n_classes: int, rng: np.random.Generator):
    """Replace members' points by their reports; returns (x, y, membership: collective index or -1)."""
    n = len(y)
    membership = np.full(n, -1, dtype=np.int64)
    x_out = x.copy()
    y_out = np.array(y, copy=True)
    for k, p in enumerate(planted):
        m = int(round(p.collective.alpha * n))
        free = np.flatnonzero(membership < 0)
        if m > len(free):
            raise InputError(f"collective {k}: {m} members needed, only {len(free)} training points left")
        chosen = np.zeros(n, dtype=bool)
        chosen[free[rng.choice(len(free), size=m, replace=False)]] = True
        membership[chosen] = k
        rows = np.flatnonzero(chosen)
        deviates = rng.random(m) < p.noise if p.noise > 0 else np.zeros(m, dtype=bool)
        follow, deviate = rows[~deviates], rows[deviates]
        if len(follow):
            x_out[follow], y_out[follow] = p.collective.apply(x[follow], y_out[follow])
        if len(deviate):
            x_out[deviate], y_out[deviate] = p.deviate(x[deviate], y_out[deviate], n_classes, rng)
    return x_out, y_out, membership


def check_targets(cols: list[Resolved], ds: Dataset) -> None:
    for c in cols:
        if c.target >= ds.n_classes:
            raise InputError(f"collective {c.index}: target {c.target} is not a class of {ds.name} "
                             f"(0..{ds.n_classes - 1})")


def prepare_several(ds: Dataset, planted: list[Planter], rng: np.random.Generator, *, train_size: int | None = None,
                    val_size: int = 1000, validation: str = "clean") -> PreparedData:
    """:func:`.splits.prepare` for several collectives: the same split, then :func:`plant` (into the
    validation split too under ``with-collective``); ``membership`` says whose each training point is."""
    check_choice("validation", validation, VALIDATION_POLICIES)
    x_tr, y_tr, g_tr, x_val, y_val, g_val = split(ds, rng, train_size=train_size, val_size=val_size)
    x_tr, y_tr, membership = plant(x_tr, y_tr, planted, ds.n_classes, rng)
    val_members = np.zeros(len(y_val), dtype=bool)
    if validation == "with-collective" and len(y_val):
        x_val, y_val, val_membership = plant(x_val, y_val, planted, ds.n_classes, rng)
        val_members = val_membership >= 0
    first = planted[0].collective
    return PreparedData(
        x_train=x_tr, y_train=y_tr, members=membership >= 0,
        x_val=np.asarray(x_val), y_val=np.asarray(y_val), val_members=val_members,
        x_test=ds.x_test, y_test=ds.y_test, x_success=first.signal(ds.x_test[ds.y_test != first.target]),
        n_classes=ds.n_classes, target=first.target,
        groups_train=g_tr, groups_val=g_val, groups_test=ds.groups_test, n_groups=ds.n_groups,
        membership=membership,
    )
