"""Exact success of the Bayes-optimal learner on a discrete problem (docs/theory.md §2).

The learner sees the mixture P_alpha = (1 - alpha) P0 + alpha P* and predicts, at every x, the
label of largest joint probability. Ties are broken AGAINST the collective: the target label is
predicted only when it beats every other label strictly (by more than ``tol``, so that rounding
never hands the collective a tie).

Two routes compute the exact success S(alpha) = Pr_{x ~ P0}[f(g(x)) = y*]:

* the per-point condition (feature-label only): y* wins at x' iff alpha P*(x') > (1 - alpha) D(x'),
  with D(x') = max_{y != y*} P0(x', y) - P0(x', y*), derived in :func:`per_point_margin`;
* enumeration (any strategy): build the mixture table, take its Bayes classifier, evaluate f(g(x))
  under x ~ P0 (:func:`bayes_success_by_enumeration`).

The tests check that the two routes agree. The other goals (docs/theory.md §1) are measured by
enumeration with their own success and their own tie rule (:class:`collective_action.collective.Goal`):
unplanting Pr[f(g(x)) != y*] (y* keeps its ties), erasing Pr[f(g(x)) = f(x)] (first maximiser).
"""

from __future__ import annotations

from functools import lru_cache

import math

import numpy as np
import sympy as sp

from collective_action.collective import get_strategy
from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError

from . import _checks
from .symbolic import Formula

#: Margins at or below this count as ties (ties go against the collective).
TIE_TOL = 1e-12

alpha_sym = sp.Symbol("alpha", positive=True)


@lru_cache(maxsize=None)
def per_point_margin() -> Formula:
    """The Bayes margin of the target label at a signal point x', feature-label strategy.

    Derived from the definition: under P_alpha the target's score is (1-alpha) P0(x',y*) +
    alpha P*(x') and the best rival's score is (1-alpha) max_{y != y*} P0(x',y). Their
    difference, rewritten with the joint gap D(x'), is the margin; y* is predicted iff margin > 0.
    """
    p_star, p0_target, p0_rival, gap = sp.symbols("p_star p0_target p0_rival D", real=True)
    score_target = (1 - alpha_sym) * p0_target + alpha_sym * p_star
    score_rival = (1 - alpha_sym) * p0_rival
    margin = sp.expand((score_target - score_rival).subs(p0_rival, gap + p0_target))
    margin = sp.collect(sp.factor_terms(margin), alpha_sym)
    return Formula(
        name="per_point_margin",
        expr=margin,
        symbols=(alpha_sym, p_star, gap),
        assumptions=(
            "feature-label strategy: P*(x', y*) = P*(x') and P*(x', y) = 0 for y != y*",
            "learner is Bayes-optimal on P_alpha = (1-alpha) P0 + alpha P*",
            "D(x') = max_{y != y*} P0(x', y) - P0(x', y*)",
        ),
        statement="margin of y* over the best rival label at x' under P_alpha",
    )


@lru_cache(maxsize=None)
def per_point_threshold() -> Formula:
    """The smallest alpha at which y* wins at x': solve margin(alpha) = 0 for alpha.

    The margin is affine in alpha with slope P*(x') + D(x') (checked symbolically), so for a
    positive slope y* wins exactly when alpha exceeds the root D / (P* + D).
    """
    margin = per_point_margin()
    _, p_star, gap = margin.symbols
    slope = sp.diff(margin.expr, alpha_sym)
    if sp.simplify(slope - (p_star + gap)) != 0:  # pragma: no cover - guards the derivation
        raise AssertionError("margin is not affine in alpha with slope P* + D")
    (root,) = sp.solve(sp.Eq(margin.expr, 0), alpha_sym)
    return Formula(
        name="per_point_threshold",
        expr=sp.simplify(root),
        symbols=(p_star, gap),
        assumptions=margin.assumptions + ("P*(x') + D(x') > 0 (otherwise y* never or always wins)",),
        statement="alpha above which the Bayes learner predicts y* at x'",
    )


def bayes_classifier(table, against: int | None = None, tol: float = TIE_TOL) -> np.ndarray:
    """Label of largest probability per x (last axis = labels), ties broken against ``against``.

    ``table`` may carry leading batch axes (..., |X|, |Y|). The label ``against`` is returned only
    where it beats every other label by more than ``tol``; among the other labels the first
    maximiser wins. With ``against=None`` this is a plain argmax.
    """
    table = np.asarray(table, dtype=float)
    if table.ndim < 1 or table.shape[-1] < 2:
        raise InputError("bayes_classifier needs a table whose last axis has at least 2 labels")
    if against is None:
        return np.argmax(table, axis=-1)
    k = table.shape[-1]
    if not (0 <= int(against) < k):
        raise InputError(f"against must be a label in [0, {k - 1}], got {against!r}")
    others = table.copy()
    others[..., against] = -np.inf
    rival = np.argmax(others, axis=-1)
    rival_score = np.take_along_axis(table, rival[..., None], axis=-1)[..., 0]
    wins = table[..., against] > rival_score + tol
    return np.where(wins, against, rival)


def joint_gap(problem: DiscreteProblem) -> np.ndarray:
    """D(x) = max_{y != y*} P0(x, y) - P0(x, y*) for every x."""
    p0 = problem.p0
    rivals = np.delete(p0, problem.target, axis=1)
    return rivals.max(axis=1) - p0[:, problem.target]


def hardt_constants(problem: DiscreteProblem) -> tuple[float, float]:
    """Hardt's (Delta, xi) of a discrete problem.

    xi = P0(X*) is how common the signal is in natural data; Delta = max over signal points x'
    with P0(x') > 0 of max_y P0(y | x') - P0(y* | x') (0 when no signal point occurs under P0).
    """
    signal = problem.signal_set
    marginal = problem.marginal[signal]
    xi = float(marginal.sum())
    seen = marginal > 0
    if not seen.any():
        return 0.0, xi
    cond = problem.p0[signal][seen] / marginal[seen, None]
    delta = float(np.max(cond.max(axis=1) - cond[:, problem.target]))
    return max(delta, 0.0), min(xi, 1.0)


def _alpha_array(alpha) -> np.ndarray:
    return _checks.open_unit("alpha", alpha)


def mixture_tables(problem: DiscreteProblem, alpha, strategy: str = "feature-label", labels=None) -> np.ndarray:
    """P_alpha for every alpha: shape alpha.shape + (|X|, |Y|).

    ``labels``: the labels an adaptive strategy plays (default: its population labels)."""
    a = _alpha_array(alpha)[..., None, None]
    pstar = problem.pstar(strategy, labels)
    return (1.0 - a) * problem.p0 + a * pstar


def goal_classifier(problem: DiscreteProblem, table, strategy: str = "feature-label", tol: float = TIE_TOL):
    """Bayes classifier of ``table`` (..., |X|, |Y|) with the ties of the strategy's goal broken
    against the collective (planting: :func:`bayes_classifier` against y*)."""
    return get_strategy(strategy).goal.predict(table, problem.target, tol)


def success_of_classifier(problem: DiscreteProblem, labels, strategy: str = "feature-label") -> np.ndarray:
    """Success of classifiers ``labels`` (shape (..., |X|)) under the strategy's goal, x ~ P0
    (planting: Pr[f(g(x)) = y*])."""
    return problem.success_of(labels, strategy)


def accuracy_of_classifier(problem: DiscreteProblem, labels) -> np.ndarray:
    """Clean accuracy Pr_{(x, y) ~ P0}[f(x) = y] for classifiers of shape (..., |X|)."""
    labels = np.asarray(labels)
    onehot = labels[..., None] == np.arange(problem.n_labels)
    return (onehot * problem.p0).sum(axis=(-2, -1))


def bayes_success_by_enumeration(problem: DiscreteProblem, alpha, strategy: str = "feature-label", labels=None):
    """Exact Bayes success by building the mixture table and its Bayes classifier (any strategy).

    ``labels``: the labels an adaptive strategy plays (default: its population labels)."""
    get_strategy(strategy)
    classifier = goal_classifier(problem, mixture_tables(problem, alpha, strategy, labels), strategy)
    return _checks.scalar_or_array(success_of_classifier(problem, classifier, strategy))


def bayes_success(problem: DiscreteProblem, alpha, strategy: str = "feature-label", labels=None):
    """Exact success of the Bayes classifier of P_alpha, vectorised over ``alpha``.

    Feature-label uses the derived per-point condition sum_{x'} P_g(x') 1[margin(x') > 0];
    other strategies enumerate the Bayes classifier of the mixture table, each measured by its
    own goal (docs/theory.md §1). Ties go against the collective. ``labels``: the labels an
    adaptive strategy plays (default: its population labels). Returns a float for scalar alpha,
    else an array of alpha's shape.
    """
    get_strategy(strategy)
    if strategy != "feature-label":
        return bayes_success_by_enumeration(problem, alpha, strategy, labels)
    a = _alpha_array(alpha)
    law = problem.signal_law
    margin = per_point_margin().numeric(a[..., None], law, joint_gap(problem))
    wins = (margin > TIE_TOL) & (law > 0)
    return _checks.scalar_or_array((wins * law).sum(axis=-1))


def bayes_clean_accuracy(problem: DiscreteProblem, alpha, strategy: str = "feature-label", labels=None):
    """Accuracy on clean P0 of the Bayes classifier of P_alpha, vectorised over ``alpha``."""
    classifier = goal_classifier(problem, mixture_tables(problem, alpha, strategy, labels), strategy)
    return _checks.scalar_or_array(accuracy_of_classifier(problem, classifier))


def bayes_critical_mass(problem: DiscreteProblem, target: float, strategy: str = "feature-label") -> float:
    """The exact critical mass of the Bayes learner: inf {alpha : bayes_success(alpha) >= target}.

    Other strategies: :func:`goal_critical_mass` (success measured by the strategy's goal).

    Feature-label strategy. The collective wins at signal point x' exactly when alpha exceeds
    per_point_threshold() = D / (P* + D) (a point with D <= 0 and P* > 0 is won from any alpha > 0),
    so success is a step function: the sum of P*(x') over the thresholds below alpha. The critical
    mass is the threshold at which that running sum first reaches the target (success holds for every
    alpha above it); inf when the signal points together carry less than the target.
    """
    if not (0 < target <= 1):
        raise InputError(f"target must lie in (0, 1], got {target}")
    get_strategy(strategy)
    if strategy != "feature-label":
        return goal_critical_mass(problem, target, strategy)
    law = problem.signal_law  # P*(x') for every x'
    points = np.nonzero(law > 0)[0]
    d = joint_gap(problem)[points]
    p = law[points]
    threshold = np.where(d <= 0, 0.0, per_point_threshold().numeric(p, np.maximum(d, 0.0)))
    order = np.argsort(threshold, kind="stable")
    reached = np.cumsum(p[order]) >= target - TIE_TOL
    if not reached.any():
        return math.inf
    return float(threshold[order][int(np.argmax(reached))])


def mixture_breakpoints(problem: DiscreteProblem, strategy: str, labels=None) -> np.ndarray:
    """Every alpha in (0, 1) at which two labels' mixture masses cross at some point.

    The mixture (1 - alpha) P0 + alpha P* is linear in alpha, so at each point x the masses of
    labels a and b are equal at alpha = d0 / (d0 - d*), with d0 = P0(x, a) - P0(x, b) and
    d* = P*(x, a) - P*(x, b). Between consecutive breakpoints no label order changes, so the
    Bayes classifier, and the success of any goal, is constant there.
    """
    p0, pstar = problem.p0, problem.pstar(strategy, labels)
    d0 = p0[:, :, None] - p0[:, None, :]
    ds = pstar[:, :, None] - pstar[:, None, :]
    denom = d0 - ds
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(np.abs(denom) > 0, d0 / denom, np.nan)
    alpha = alpha[np.isfinite(alpha) & (alpha > 0) & (alpha < 1)]
    return np.unique(alpha)


def goal_critical_mass(problem: DiscreteProblem, target: float, strategy: str, labels=None) -> float:
    """inf {alpha : the Bayes classifier's success of the strategy's goal >= target}, exactly.

    Success is piecewise constant between :func:`mixture_breakpoints`, so it is evaluated once
    inside every piece (and just above each breakpoint, where ties go against the collective);
    the answer is the left end of the first piece that reaches the target. Success need not be
    monotone for every goal; this is the first alpha from which it is reached, not a promise for
    every larger alpha. inf when no alpha < 1 reaches it.
    """
    if not (0 < target <= 1):
        raise InputError(f"target must lie in (0, 1], got {target}")
    edges = np.concatenate([[0.0], mixture_breakpoints(problem, strategy, labels), [1.0]])
    inside = (edges[:-1] + edges[1:]) / 2
    success = np.atleast_1d(bayes_success(problem, inside, strategy, labels))
    reached = success >= target - TIE_TOL
    if not reached.any():
        return math.inf
    return float(edges[int(np.argmax(reached))])
