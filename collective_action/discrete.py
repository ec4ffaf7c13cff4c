"""Discrete problems: P0 as a joint probability table over X x Y and a signal map g on X.

This is the setting in which every bound of docs/theory.md §2-§4 can be checked exactly, by
enumeration. The table is validated once, at construction, so that downstream code can trust it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collective import get_strategy
from .errors import InputError, check_open_unit

_SUM_TOL = 1e-9


@dataclass(frozen=True)
class DiscreteProblem:
    """P0[x, y] = Pr[X = x, Y = y]; g[x] = index of g(x); target = y*.

    Raises InputError when P0 has negative entries, does not sum to one, g points outside X,
    or the target is not a label.
    """

    p0: np.ndarray
    g: np.ndarray
    target: int

    def __post_init__(self):
        p0 = np.asarray(self.p0, dtype=float)
        g = np.asarray(self.g)
        if p0.ndim != 2 or p0.shape[0] < 1 or p0.shape[1] < 2:
            raise InputError(f"P0 must be a |X| x |Y| table with |Y| >= 2, got shape {p0.shape}")
        if not np.all(np.isfinite(p0)) or (p0 < 0).any():
            raise InputError("P0 must have finite, non-negative entries")
        total = p0.sum()
        if abs(total - 1.0) > _SUM_TOL:
            raise InputError(f"P0 probabilities must sum to 1, got {total:.12g}")
        if g.shape != (p0.shape[0],) or not np.issubdtype(g.dtype, np.integer):
            raise InputError(f"g must be an integer array of length |X| = {p0.shape[0]}")
        if (g < 0).any() or (g >= p0.shape[0]).any():
            raise InputError(f"g must map X into X: values in [0, {p0.shape[0] - 1}]")
        if int(self.target) != self.target or not (0 <= self.target < p0.shape[1]):
            raise InputError(f"target must be a label in [0, {p0.shape[1] - 1}], got {self.target!r}")
        p0 = p0.copy()
        p0.setflags(write=False)
        g = g.astype(np.int64)
        g.setflags(write=False)
        object.__setattr__(self, "p0", p0)
        object.__setattr__(self, "g", g)
        object.__setattr__(self, "target", int(self.target))

    @property
    def n_points(self) -> int:
        return self.p0.shape[0]

    @property
    def n_labels(self) -> int:
        return self.p0.shape[1]

    @property
    def marginal(self) -> np.ndarray:
        """P0(x)."""
        return self.p0.sum(axis=1)

    @property
    def signal_set(self) -> np.ndarray:
        """Indices of X* = g(X), sorted."""
        return np.unique(self.g)

    @property
    def signal_law(self) -> np.ndarray:
        """Law of g(x) for x ~ P0, over X (zero outside X*)."""
        out = np.zeros(self.n_points)
        np.add.at(out, self.g, self.marginal)
        return out

    @property
    def is_idempotent(self) -> bool:
        """Whether g(g(x)) = g(x) for every x (every signal point is its own image)."""
        return bool(np.all(self.g[self.g] == self.g))

    def collective_labels(self, strategy: str) -> np.ndarray | None:
        """The population labels an adaptive strategy plays at each point (None for planting):
        unplanting argmax_{y != y*} P0(x, y), erasing argmax_y P0(x, y) (first maximiser)."""
        return get_strategy(strategy).labels_from(self.p0, self.target)

    def pstar(self, strategy: str = "feature-label", labels=None) -> np.ndarray:
        """Joint table of h(x, y) for (x, y) ~ P0 under the named strategy.

        ``labels``: the labels an adaptive strategy plays (default: :meth:`collective_labels`).
        """
        return get_strategy(strategy).pushforward(self.p0, self.g, self.target, labels)

    def mixture(self, alpha: float, strategy: str = "feature-label", labels=None) -> np.ndarray:
        """P_alpha = (1 - alpha) P0 + alpha P*."""
        alpha = check_open_unit("alpha", alpha)
        return (1.0 - alpha) * self.p0 + alpha * self.pstar(strategy, labels)

    def success_of(self, labels, strategy: str = "feature-label") -> np.ndarray:
        """Population success of classifiers ``labels`` (shape (..., |X|)) under the strategy's goal:
        Pr_{x ~ P0}[goal met at x], e.g. f(g(x)) = f(x) for erasing."""
        labels = np.asarray(labels)
        hits = get_strategy(strategy).goal.hits(labels[..., self.g], labels, self.target)
        return (hits * self.marginal).sum(axis=-1)

    @classmethod
    def random(cls, rng: np.random.Generator, n_points: int = 5, n_labels: int = 3,
               concentration: float = 1.0, target: int = 0) -> "DiscreteProblem":
        """A random problem: Dirichlet joint table and a uniformly random signal map."""
        p0 = rng.dirichlet(np.full(n_points * n_labels, concentration)).reshape(n_points, n_labels)
        g = rng.integers(0, n_points, size=n_points)
        return cls(p0=p0, g=g, target=target)
