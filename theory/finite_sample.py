"""Finite-sample success bound computed from the collective's own samples (docs/theory.md §4).

This implements Theorem 3.3 of Gauthier, Bach and Jordan (2025) as docs/theory.md §4 states it. With n
collective members among N training points and confidence 1 - delta, every estimated quantity
is off by at most a Hoeffding radius R(k) = sqrt(log(1/delta') / (2k)), where delta' spreads
delta over the 2 + 2|X*| + 2|X*||Y| events of a union bound. At a signal point x' the pointwise
condition of section 3,

    (n/N) P*(x') - ((N-n)/N) D(x') - eps/(1-eps) > 0,

is made robust by replacing P* with its lower confidence value P*_hat - 2R(n) and D with its
upper value D_hat + 2R(n) + 2R(N-n) (D is a difference of two cells, each estimated from the n
members' original points and realised in the N-n base training points). The success, read off
P*_hat, loses R(n) for estimating the signal law and R(N_test) for measuring on N_test points:

    S_hat >= sum_x P*_hat(x) 1[robust margin(x) > 0] - R(n) - R(N_test).

:func:`finite_sample_margin` builds that margin symbolically from those pieces;
:func:`finite_sample_bound` evaluates it from samples, :func:`finite_sample_bound_from_estimates`
from already-estimated P*_hat and D_hat (vectorised over n and N).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .symbolic import Formula

n_sym, n_total, n_test_sym = sp.symbols("n N N_test", positive=True)
delta_sym, eps_sym = sp.symbols("delta epsilon", positive=True)
n_signal, n_labels = sp.symbols("n_Xstar n_Y", positive=True)
p_hat, d_hat = sp.symbols("Phat_star Dhat", real=True)
_k = sp.Symbol("k", positive=True)


@lru_cache(maxsize=None)
def confidence_level() -> sp.Expr:
    """delta' = delta / (number of events in the union bound)."""
    events = 2 + 2 * n_signal + 2 * n_signal * n_labels
    return delta_sym / events


@lru_cache(maxsize=None)
def hoeffding_radius() -> Formula:
    """R(k) = sqrt(log(1/delta') / (2k)), solved from Hoeffding's tail exp(-2 k R^2) = delta'."""
    radius = sp.Symbol("R", positive=True)
    (solution,) = sp.solve(sp.Eq(sp.exp(-2 * _k * radius ** 2), confidence_level()), radius)
    return Formula(
        name="hoeffding_radius",
        expr=sp.simplify(solution),
        symbols=(_k, delta_sym, n_signal, n_labels),
        assumptions=("one-sided Hoeffding bound for a mean of k independent [0,1] variables",),
        statement="deviation exceeded with probability at most delta'",
    )


@lru_cache(maxsize=None)
def finite_sample_margin() -> Formula:
    """Robust pointwise margin: pointwise condition with confidence-adjusted P* and D."""
    radius = hoeffding_radius().expr
    r_n = radius.subs(_k, n_sym)
    r_base = radius.subs(_k, n_total - n_sym)
    pstar_low = p_hat - 2 * r_n
    gap_high = d_hat + 2 * r_n + 2 * r_base
    margin = (n_sym / n_total) * pstar_low - ((n_total - n_sym) / n_total) * gap_high - eps_sym / (1 - eps_sym)
    return Formula(
        name="finite_sample_margin",
        expr=margin,
        symbols=(p_hat, d_hat, n_sym, n_total, delta_sym, eps_sym, n_signal, n_labels),
        assumptions=(
            "Gauthier, Bach, Jordan (2025), Theorem 3.3 as stated in docs/theory.md §4",
            "training set: exactly n collective points (feature-label) and N - n i.i.d. base points",
            "P*_hat and D_hat estimated from the n members' own samples; learner eps-suboptimal "
            "(contamination definition) on the empirical training distribution",
            "1 <= n < N",
        ),
        statement="margin that, if positive, guarantees y* at x' with probability >= 1 - delta",
    )


def finite_sample_bound_from_estimates(pstar_hat, gap_hat, n, n_train, n_test, delta=0.05, epsilon=0.0,
                                       signal_set_size=None, n_labels=2):
    """The bound from estimated P*_hat(x) and D_hat(x) arrays (last axis = signal points).

    ``n`` and ``n_train`` (= N) broadcast against each other (for staircase plots);
    ``signal_set_size`` defaults to the number of points given.
    """
    ps = _checks.closed_unit("pstar_hat", pstar_hat)
    gap = _checks.as_float_array("gap_hat", gap_hat)
    if ps.shape[-1:] != gap.shape[-1:]:
        raise InputError("pstar_hat and gap_hat must describe the same signal points")
    n_arr = _checks.positive("n", n, minimum=1.0, inclusive=True)
    big_n = _checks.as_float_array("n_train", n_train)
    if np.any(big_n <= n_arr):
        raise InputError("n_train must exceed the number of collective members n")
    nt = _checks.positive("n_test", n_test, minimum=1.0, inclusive=True)
    d = _checks.open_unit("delta", delta)
    e = _checks.epsilon(epsilon)
    k_star = float(signal_set_size if signal_set_size is not None else ps.shape[-1])
    if k_star < 1:
        raise InputError("signal_set_size must be at least 1")
    k_y = float(_checks.positive("n_labels", n_labels, minimum=2.0, inclusive=True))
    margin = finite_sample_margin().numeric(ps, gap, n_arr[..., None], big_n[..., None], d, e, k_star, k_y)
    mass = (ps * (margin > 0)).sum(axis=-1)
    radius = hoeffding_radius()
    out = mass - radius.numeric(n_arr, d, k_star, k_y) - radius.numeric(nt, d, k_star, k_y)
    return _checks.scalar_or_array(out)


def estimate_from_samples(original_x, original_y, planted_x, n_points: int, n_labels: int,
                          target: int, signal_points=None):
    """(signal points, P*_hat, D_hat) from the collective's own samples.

    ``original_x, original_y``: the members' true points (drawn from P0); ``planted_x``: the signal
    points they plant. P*_hat is the empirical law of ``planted_x``; D_hat(x) is max_{y != y*}
    minus the y* cell of the members' empirical joint table at x.
    """
    ox = np.asarray(original_x)
    oy = np.asarray(original_y)
    px = np.asarray(planted_x)
    if ox.shape != oy.shape or ox.ndim != 1 or px.shape != ox.shape or len(ox) == 0:
        raise InputError("original_x, original_y and planted_x must be 1-d of the same non-zero length")
    if not (0 <= target < n_labels):
        raise InputError(f"target must be a label in [0, {n_labels - 1}], got {target!r}")
    if ox.min() < 0 or ox.max() >= n_points or px.min() < 0 or px.max() >= n_points:
        raise InputError(f"sample points must lie in [0, {n_points - 1}]")
    if oy.min() < 0 or oy.max() >= n_labels:
        raise InputError(f"sample labels must lie in [0, {n_labels - 1}]")
    n = len(ox)
    joint = np.zeros((n_points, n_labels))
    np.add.at(joint, (ox, oy), 1.0 / n)
    gap = np.delete(joint, target, axis=1).max(axis=1) - joint[:, target]
    law = np.bincount(px, minlength=n_points) / n
    points = np.unique(px) if signal_points is None else np.asarray(signal_points)
    return points, law[points], gap[points]


def finite_sample_bound(original_x, original_y, planted_x, n_train: int, n_test: int, *,
                        n_points: int, n_labels: int, target: int, signal_set_size: int,
                        delta: float = 0.05, epsilon: float = 0.0) -> float:
    """Lower bound on the measured success, computed from the collective's own samples.

    n = len(original_x) members among ``n_train`` training points; success measured on
    ``n_test`` fresh points; holds with probability >= 1 - delta (Gauthier et al. 2025, Thm 3.3).
    ``signal_set_size`` = |X*| the collective designed (enters the union bound).
    """
    _, ps, gap = estimate_from_samples(original_x, original_y, planted_x, n_points, n_labels, target)
    return finite_sample_bound_from_estimates(ps, gap, len(np.asarray(original_x)), n_train, n_test,
                                              delta, epsilon, signal_set_size, n_labels)
