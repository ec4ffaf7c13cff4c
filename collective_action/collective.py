"""A collective and its strategies (docs/theory.md §1).

A collective is a fraction ``alpha`` of the population. Its members are drawn from the base
distribution P0 and report h(x, y) instead of (x, y). For signal planting, h uses a signal map
g: X -> X and a target label y*:

* feature-label: h(x, y) = (g(x), y*)            -- members change features and label;
* feature-only:  h(x, y) = (g(x), y) if y == y*, else (x, y)   -- labels are never changed.

Strategies act on arrays (any sample representation: feature vectors, images) through
:meth:`Strategy.apply`, and on discrete joint tables through :meth:`Strategy.pushforward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from .errors import InputError, check_choice, check_open_unit


class Strategy:
    """How a member turns its own (x, y) into the point it reports."""

    name: ClassVar[str]

    def plants(self, y: np.ndarray, target: int) -> np.ndarray:
        """Boolean mask of the members whose point carries the signal."""
        raise NotImplementedError

    def apply(self, x, y, signal: Callable, target: int):
        """Return the reported (x, y) of members with features ``x`` and labels ``y``.

        ``signal`` maps a batch of features to the batch with the signal planted.
        """
        y = np.asarray(y)
        mask = self.plants(y, target)
        x_new = x.copy() if hasattr(x, "copy") else np.array(x)
        if mask.any():
            x_new[mask] = signal(x[mask])
        y_new = self.relabel(y, mask, target)
        return x_new, y_new

    def relabel(self, y: np.ndarray, mask: np.ndarray, target: int) -> np.ndarray:
        raise NotImplementedError

    def pushforward(self, p0: np.ndarray, g: np.ndarray, target: int) -> np.ndarray:
        """Law P* of h(x, y) for (x, y) ~ P0, as a joint table of the same shape as ``p0``."""
        raise NotImplementedError


class FeatureLabel(Strategy):
    """h(x, y) = (g(x), y*): every member plants the signal and reports the target label."""

    name = "feature-label"

    def plants(self, y, target):
        return np.ones(np.shape(y), dtype=bool)

    def relabel(self, y, mask, target):
        return np.full_like(y, target)

    def pushforward(self, p0, g, target):
        pstar = np.zeros_like(p0)
        np.add.at(pstar[:, target], g, p0.sum(axis=1))
        return pstar


class FeatureOnly(Strategy):
    """h(x, y) = (g(x), y) if y == y*, else (x, y): members may not change labels."""

    name = "feature-only"

    def plants(self, y, target):
        return np.asarray(y) == target

    def relabel(self, y, mask, target):
        return np.array(y, copy=True)

    def pushforward(self, p0, g, target):
        pstar = p0.copy()
        pstar[:, target] = 0.0
        np.add.at(pstar[:, target], g, p0[:, target])
        return pstar


STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (FeatureLabel, FeatureOnly)}


def get_strategy(name: str) -> Strategy:
    """The strategy registered under ``name`` ("feature-label" or "feature-only")."""
    check_choice("strategy", name, STRATEGIES)
    return STRATEGIES[name]()


@dataclass(frozen=True)
class Collective:
    """A coordinated fraction ``alpha`` of the population that plants ``signal`` with label ``target``.

    ``signal`` is the map g: for discrete problems an integer array (g[x] is the index of g(x));
    for sample data a callable on a batch of features.
    """

    alpha: float
    target: int
    signal: object
    strategy: str = "feature-label"

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_open_unit("alpha", self.alpha))
        if int(self.target) != self.target or self.target < 0:
            raise InputError(f"target must be a non-negative class index, got {self.target!r}")
        get_strategy(self.strategy)

    @property
    def strategy_impl(self) -> Strategy:
        return get_strategy(self.strategy)

    def apply(self, x, y):
        """The reported points of members whose true points are (x, y)."""
        if not callable(self.signal):
            raise InputError("this collective's signal is a discrete map; use DiscreteProblem")
        return self.strategy_impl.apply(x, y, self.signal, self.target)

    def plant_in_training_set(self, x, y, rng: np.random.Generator):
        """Replace a random ``alpha`` fraction of a training set by members' reports.

        Returns (x, y, member_mask). The number of members is round(alpha * n); the mask says
        which rows the collective controls (used to measure the weight a learner gives it).
        """
        n = len(y)
        n_members = int(round(self.alpha * n))
        members = np.zeros(n, dtype=bool)
        members[rng.choice(n, size=n_members, replace=False)] = True
        x_out = x.copy()
        y_out = np.array(y, copy=True)
        if n_members:
            xm, ym = self.apply(x[members], y_out[members])
            x_out[members] = xm
            y_out[members] = ym
        return x_out, y_out, members
