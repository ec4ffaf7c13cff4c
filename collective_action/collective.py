"""A collective, its strategies and the goal each strategy serves (docs/theory.md §1).

A collective is a fraction ``alpha`` of the population. Its members are drawn from the base
distribution P0 and report h(x, y) instead of (x, y). Every strategy uses a signal map
g: X -> X and a label y*, and serves one goal, which says how its success is measured on fresh
points x ~ P0 against the trained classifier f:

* feature-label (planting): h(x, y) = (g(x), y*); success Pr[f(g(x)) = y*];
* feature-only (planting):  h(x, y) = (g(x), y) if y == y*, else (x, y); labels never change;
* unplanting (Gauthier, Bach, Jordan 2025, adaptive strategy): h(x, y) = (g(x), y^(g(x))), where
  y^(x~) is the label other than y* the collective finds most frequent at x~ in its own sample
  (population version: argmax_{y != y*} P0(x~, y)); success Pr[f(g(x)) != y*];
* erasing (Hardt et al. 2023; Gauthier et al.'s Definition 3.8): h(x, y) = (x, y~(g(x))), where
  y~(x~) is the label most likely at x~ (population: argmax_y P0(x~, y); finite samples: the
  collective's own counts); success Pr[f(g(x)) = f(x)]: the classifier treats x and g(x) alike.

Strategies act on arrays (any sample representation: feature vectors, images) through
:meth:`Strategy.apply`, and on discrete joint tables through :meth:`Strategy.pushforward`. The
adaptive strategies need the labels the collective estimated: ``labeler`` (arrays: a callable
from planted features to labels) or ``labels`` (tables: one label per point of X, the label
played at that point; :meth:`Strategy.labels_from` computes it from a table of counts or of P0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, ClassVar

import numpy as np

from .errors import InputError, check_choice, check_open_unit


class Goal:
    """What a collective wants of the trained classifier f, and which label wins a tie.

    ``hits(f_signal, f_clean, target)`` says, per test point x, whether f(g(x)) (``f_signal``) and
    f(x) (``f_clean``) meet the goal. ``predict(scores, target, tol)`` is the argmax over the last
    axis with ties broken against the collective, so that no success rests on a tie: planting
    needs y* to win by more than ``tol``; unplanting needs some other label to beat y* by more
    than ``tol``; erasing names no label, so its ties go to the first maximiser (the rule the
    collective uses to pick y~ as well, so a tie cannot split x from g(x) by itself).
    """

    def __init__(self, name: str, statement: str):
        self.name = name
        self.statement = statement

    def __repr__(self) -> str:
        return f"Goal({self.name!r})"

    def hits(self, f_signal, f_clean, target: int) -> np.ndarray:
        f_signal = np.asarray(f_signal)
        if self is PLANT:
            return f_signal == target
        if self is UNPLANT:
            return f_signal != target
        return f_signal == np.asarray(f_clean)

    def predict(self, scores, target: int, tol: float = 0.0) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        if self is ERASE:
            return np.argmax(scores, axis=-1)
        others = scores.copy()
        others[..., target] = -np.inf
        rival = np.argmax(others, axis=-1)
        rival_score = np.take_along_axis(scores, rival[..., None], axis=-1)[..., 0]
        if self is PLANT:
            target_wins = scores[..., target] > rival_score + tol
        else:
            target_wins = scores[..., target] >= rival_score - tol
        return np.where(target_wins, target, rival)


PLANT = Goal("plant", "Pr_{x~P0}[f(g(x)) = y*]")
UNPLANT = Goal("unplant", "Pr_{x~P0}[f(g(x)) != y*]")
ERASE = Goal("erase", "Pr_{x~P0}[f(g(x)) = f(x)]")
GOALS = {goal.name: goal for goal in (PLANT, UNPLANT, ERASE)}


class Strategy:
    """How a member turns its own (x, y) into the point it reports, and the goal it serves."""

    name: ClassVar[str]
    goal: ClassVar[Goal]
    #: Whether the strategy needs labels estimated by the collective (``labeler`` / ``labels``).
    adaptive: ClassVar[bool] = False

    def plants(self, y: np.ndarray, target: int) -> np.ndarray:
        """Boolean mask of the members whose point carries the signal."""
        raise NotImplementedError

    def apply(self, x, y, signal: Callable, target: int, labeler: Callable | None = None):
        """Return the reported (x, y) of members with features ``x`` and labels ``y``.

        ``signal`` maps a batch of features to the batch with the signal planted; ``labeler``
        (adaptive strategies only) maps a batch of planted features to the labels the collective
        plays there.
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

    def labels_from(self, table, target: int) -> np.ndarray | None:
        """The label the collective plays at each point x~, from a |X| x |Y| table of P0 or of its
        own counts (first maximiser on ties); None for strategies that play no estimated label."""
        return None

    def pushforward(self, p0: np.ndarray, g: np.ndarray, target: int, labels=None) -> np.ndarray:
        """Law P* of h(x, y) for (x, y) ~ P0, as a joint table of the same shape as ``p0``.

        ``labels`` (adaptive strategies): the label played at each point; default: the
        population labels :meth:`labels_from` computes from ``p0``.
        """
        raise NotImplementedError


class FeatureLabel(Strategy):
    """h(x, y) = (g(x), y*): every member plants the signal and reports the target label."""

    name = "feature-label"
    goal = PLANT

    def plants(self, y, target):
        return np.ones(np.shape(y), dtype=bool)

    def relabel(self, y, mask, target):
        return np.full_like(y, target)

    def pushforward(self, p0, g, target, labels=None):
        pstar = np.zeros_like(p0)
        np.add.at(pstar[:, target], g, p0.sum(axis=1))
        return pstar


class FeatureOnly(Strategy):
    """h(x, y) = (g(x), y) if y == y*, else (x, y): members may not change labels."""

    name = "feature-only"
    goal = PLANT

    def plants(self, y, target):
        return np.asarray(y) == target

    def relabel(self, y, mask, target):
        return np.array(y, copy=True)

    def pushforward(self, p0, g, target, labels=None):
        pstar = p0.copy()
        pstar[:, target] = 0.0
        np.add.at(pstar[:, target], g, p0[:, target])
        return pstar


def _checked_labels(labels, n_points: int, n_labels: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_points,) or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be an integer array of length |X| = {n_points}")
    if (labels < 0).any() or (labels >= n_labels).any():
        raise InputError(f"labels must lie in [0, {n_labels - 1}]")
    return labels


class Unplanting(Strategy):
    """h(x, y) = (g(x), y^(g(x))): every member plants g(x) with the label other than y* that the
    collective estimated most frequent at g(x) (Gauthier, Bach, Jordan 2025, Definition 3.6)."""

    name = "unplanting"
    goal = UNPLANT
    adaptive = True

    def plants(self, y, target):
        return np.ones(np.shape(y), dtype=bool)

    def apply(self, x, y, signal, target, labeler=None):
        if labeler is None:
            raise InputError("strategy 'unplanting' needs a labeler: the label other than y* the "
                             "collective estimated at each signal point")
        x_new = signal(x)
        y_new = np.asarray(labeler(x_new))
        if np.shape(y_new) != np.shape(y) or np.any(y_new == target):
            raise InputError("the unplanting labeler must return one label per member, never y*")
        return x_new, y_new.astype(np.asarray(y).dtype, copy=False)

    def labels_from(self, table, target):
        others = np.array(table, dtype=float)
        others[:, target] = -np.inf
        return np.argmax(others, axis=1)

    def pushforward(self, p0, g, target, labels=None):
        labels = self.labels_from(p0, target) if labels is None else _checked_labels(labels, *p0.shape)
        if np.any(labels[np.unique(g)] == target):
            raise InputError("unplanting plays a label other than y* at every signal point")
        pstar = np.zeros_like(p0)
        np.add.at(pstar, (g, labels[g]), p0.sum(axis=1))
        return pstar


class Erasing(Strategy):
    """h(x, y) = (x, y~(g(x))): members keep their features and report the label most likely at
    g(x), so that the classifier learns to answer at x what it answers at g(x) (Hardt et al. 2023;
    Gauthier, Bach, Jordan 2025, Definition 3.8)."""

    name = "erasing"
    goal = ERASE
    adaptive = True

    def plants(self, y, target):
        return np.zeros(np.shape(y), dtype=bool)

    def apply(self, x, y, signal, target, labeler=None):
        if labeler is None:
            raise InputError("strategy 'erasing' needs a labeler: the label the collective estimated "
                             "most likely at each signal point g(x)")
        y_new = np.asarray(labeler(signal(x)))
        if np.shape(y_new) != np.shape(y):
            raise InputError("the erasing labeler must return one label per member")
        x_new = x.copy() if hasattr(x, "copy") else np.array(x)
        return x_new, y_new.astype(np.asarray(y).dtype, copy=False)

    def labels_from(self, table, target):
        return np.argmax(np.asarray(table, dtype=float), axis=1)

    def pushforward(self, p0, g, target, labels=None):
        labels = self.labels_from(p0, target) if labels is None else _checked_labels(labels, *p0.shape)
        pstar = np.zeros_like(p0)
        np.add.at(pstar, (np.arange(p0.shape[0]), labels[g]), p0.sum(axis=1))
        return pstar


STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (FeatureLabel, FeatureOnly, Unplanting, Erasing)}
#: The strategies whose goal is planting y* (the ones Hardt's feature-label analysis extends to).
PLANTING_STRATEGIES = tuple(name for name, cls in STRATEGIES.items() if cls.goal is PLANT)


def get_strategy(name: str) -> Strategy:
    """The strategy registered under ``name`` (feature-label, feature-only, unplanting, erasing)."""
    check_choice("strategy", name, STRATEGIES)
    return STRATEGIES[name]()


def member_rows(alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """The rows a collective of size ``alpha`` controls in a training set of ``n``: round(alpha n)
    distinct rows drawn from ``rng`` (the simulator's samplers replay streams through this draw)."""
    return rng.choice(n, size=int(round(alpha * n)), replace=False)


@dataclass(frozen=True)
class Collective:
    """A coordinated fraction ``alpha`` of the population that plants ``signal`` with label ``target``.

    ``signal`` is the map g: for discrete problems an integer array (g[x] is the index of g(x));
    for sample data a callable on a batch of features. Adaptive strategies (unplanting, erasing)
    play labels the collective estimates from its own rows: give either ``labeler`` (a batch of
    planted features g(x) -> the labels played there) or ``estimator``, which
    :meth:`plant_in_training_set` fits on the members' own original rows: ``estimator(x, y)``
    returns a scorer, batch -> (batch, |Y|) label scores (counts, probabilities), whose argmax
    (over y != y* for unplanting) at g(x) is the label played. ``n_est``: unplanting's estimators
    among the members (default: half of them, drawn at random; the rest estimate nothing, as in the
    simulator); erasing estimates from all members.
    """

    alpha: float
    target: int
    signal: object
    strategy: str = "feature-label"
    labeler: object = None
    estimator: object = None
    n_est: int | None = None

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
        return self.strategy_impl.apply(x, y, self.signal, self.target, self.labeler)

    def plant_in_training_set(self, x, y, rng: np.random.Generator):
        """Replace a random ``alpha`` fraction of a training set by members' reports.

        Returns (x, y, member_mask). The number of members is round(alpha * n); the mask says
        which rows the collective controls (used to measure the weight a learner gives it).
        """
        x_out, y_out, members, _ = self.plant_and_fit(x, y, rng)
        return x_out, y_out, members

    def plant_and_fit(self, x, y, rng: np.random.Generator):
        """:meth:`plant_in_training_set`, returning also the collective as it played: with the
        labeler it fitted on its members (adaptive strategies with an ``estimator``), so that the
        same estimate can be played on another split without fitting again; otherwise itself.
        Returns (x, y, member_mask, played)."""
        n = len(y)
        members = np.zeros(n, dtype=bool)
        members[member_rows(self.alpha, n, rng)] = True
        x_out = x.copy()
        y_out = np.array(y, copy=True)
        collective = self
        if members.any():
            if self.strategy_impl.adaptive and self.labeler is None:
                collective = replace(self, labeler=self.fit_labeler(x[members], y_out[members], rng))
            xm, ym = collective.apply(x[members], y_out[members])
            x_out[members] = xm
            y_out[members] = ym
        return x_out, y_out, members, collective

    def fit_labeler(self, x_members, y_members, rng: np.random.Generator) -> Callable:
        """The labeler an adaptive strategy plays, estimated with ``estimator`` from the members'
        own original rows (unplanting: ``n_est`` of them, at random; erasing: all)."""
        if self.estimator is None:
            raise InputError(f"strategy {self.strategy!r} needs a labeler or an estimator to fit one "
                             "on the members' own rows")
        k = len(y_members)
        if self.strategy == "unplanting":
            n_est = k // 2 if self.n_est is None else int(self.n_est)
            if not 1 <= n_est < k:
                raise InputError(f"unplanting needs 1 <= n_est < members = {k}, got {n_est}")
            rows = rng.choice(k, size=n_est, replace=False)
        else:
            rows = np.arange(k)
        scorer = self.estimator(x_members[rows], np.asarray(y_members)[rows])
        impl, target = self.strategy_impl, self.target
        return lambda batch: impl.labels_from(np.asarray(scorer(batch), dtype=float), target)
