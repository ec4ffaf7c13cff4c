"""Finite-sample bounds for the goals beyond feature-label planting (docs/car.md §4).

Gauthier, Bach and Jordan (2025) bound the success of feature-only planting and of adaptive
signal unplanting with the same recipe as their planting theorem (:mod:`.finite_sample`): at each
signal point x~ a margin, made robust with Hoeffding radii R(k) = sqrt(log(1/delta~) / (2k)), decides
whether the platform's vote at x~ is guaranteed; the success is the estimated mass of the
guaranteed points minus the radii of estimating that mass and of measuring on N_test points.

* Feature-only planting reuses the planting margin and its delta~ unchanged; only the mass in the
  margin differs from the mass that is summed (the collective plants at x~ only its own y*-points,
  while every test point of that country lands on x~).
* Adaptive unplanting: n_est of the n members estimate y^(x~) (the most frequent label other than
  y*), the other m = n - n_est relabel (g(x), y^(g(x))); the platform never sees the n_est
  rows. delta~ = delta / (2 + 6 |X*|). Two versions exist (docs/car.md §4.3):
  ``as-coded`` follows the authors' code (radius R(n) for the estimation error of y^, the members'
  share n/N in the margin, indicator sum divided by n, R(n) subtracted); ``corrected`` uses
  the sample each estimate really comes from: R(n_est) for y^'s cell, m planted rows among the
  N - n_est the platform trains on, the sum divided by m, R(m) subtracted.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .finite_sample import finite_sample_margin, hoeffding_radius
from .symbolic import Formula

n_sym, n_total, n_test_sym, n_est_sym = sp.symbols("n N N_test n_est", positive=True)
delta_sym, eps_sym = sp.symbols("delta epsilon", positive=True)
n_signal = sp.Symbol("n_Xstar", positive=True)
p_hat, d_hat = sp.symbols("Phat_star Dhat", real=True)
_k = sp.Symbol("k", positive=True)

UNPLANTING_VERSIONS = ("as-coded", "corrected")


@lru_cache(maxsize=None)
def unplanting_confidence_level() -> sp.Expr:
    """delta~ = delta / (2 + 6|X*|): per signal point the share, two member cells and two base cells
    (counted as six), plus the mass and the test estimate."""
    return delta_sym / (2 + 6 * n_signal)


@lru_cache(maxsize=None)
def unplanting_radius() -> Formula:
    """R(k) = sqrt(log(1/delta~) / (2k)) with the unplanting delta~, solved from Hoeffding's tail."""
    radius = sp.Symbol("R", positive=True)
    (solution,) = sp.solve(sp.Eq(sp.exp(-2 * _k * radius ** 2), unplanting_confidence_level()), radius)
    return Formula(
        name="unplanting_radius",
        expr=sp.simplify(solution),
        symbols=(_k, delta_sym, n_signal),
        assumptions=("one-sided Hoeffding bound for a mean of k independent [0,1] variables",),
        statement="deviation exceeded with probability at most delta / (2 + 6|X*|)",
    )


@lru_cache(maxsize=None)
def unplanting_margin(version: str = "as-coded") -> Formula:
    """Robust margin at x~ for adaptive unplanting: positive => the platform's vote at x~ is not y*.

    Phat_star: share of the m = n - n_est relabelled members whose g(x) is x~; Dhat: p^_dn(x~, y*)
    - p^_de(x~, y^(x~)) on the members' original rows (dn: m rows, de: n_est rows).
    """
    if version not in UNPLANTING_VERSIONS:
        raise InputError(f"version must be one of {UNPLANTING_VERSIONS}, got {version!r}")
    r = unplanting_radius().expr
    m = n_sym - n_est_sym
    base = n_total - n_sym
    if version == "as-coded":
        planted, size, r_mass = n_sym, n_total, r.subs(_k, n_sym)
        gap_high = d_hat + r.subs(_k, n_sym) + r.subs(_k, m) + 2 * r.subs(_k, base)
    else:
        # the platform trains on the m relabelled rows and the N - n base rows only
        planted, size, r_mass = m, n_total - n_est_sym, r.subs(_k, m)
        gap_high = d_hat + r.subs(_k, n_est_sym) + r.subs(_k, m) + 2 * r.subs(_k, base)
    margin = (planted / size) * (p_hat - 2 * r_mass) - (base / size) * gap_high - eps_sym / (1 - eps_sym)
    return Formula(
        name=f"unplanting_margin_{version}",
        expr=margin,
        symbols=(p_hat, d_hat, n_sym, n_est_sym, n_total, delta_sym, eps_sym, n_signal),
        assumptions=(
            "Gauthier, Bach, Jordan (2025), adaptive signal unplanting; "
            + ("as their code computes it" if version == "as-coded" else "radii of the samples each estimate uses"),
            "y^ estimated from the n_est rows of de, independent of dn and of the base rows",
            "platform: eps-suboptimal on its training set (m relabelled rows + N - n base rows)",
            "n_est < n < N",
        ),
        statement="margin that, if positive, guarantees a label other than y* at x~",
    )


def _sizes(n, n_est, n_train, n_test):
    n_arr = _checks.positive("n", n, minimum=1.0, inclusive=True)
    big_n = _checks.as_float_array("n_train", n_train)
    if np.any(big_n <= n_arr):
        raise InputError("n_train must exceed the number of collective members n")
    nt = _checks.positive("n_test", n_test, minimum=1.0, inclusive=True)
    if n_est is None:
        return n_arr, big_n, nt, None
    ne = _checks.positive("n_est", n_est, minimum=1.0, inclusive=True)
    if np.any(ne >= n_arr):
        raise InputError("n_est must be below n (the collective needs rows to relabel)")
    return n_arr, big_n, nt, ne


def feature_only_bound_from_estimates(mass_hat, planted_hat, gap_hat, n, n_train, n_test, delta=0.05,
                                      epsilon=0.0, signal_set_size=None, n_labels=2):
    """Feature-only planting: sum_x mass_hat(x) 1[margin(planted_hat(x), gap_hat(x)) > 0] - R(n) - R(N_test).

    ``mass_hat`` (last axis = signal points): share of the members whose g(x) is x~ (the law of
    the signal points on test data); ``planted_hat``: share of the members planted at (x~, y*)
    (their own label is y*); ``gap_hat``: max_{y != y*} minus the y* cell of the members' original
    table at x~. The margin and delta~ are the planting theorem's (:func:`.finite_sample_margin`).
    """
    mass = _checks.closed_unit("mass_hat", mass_hat)
    planted = _checks.closed_unit("planted_hat", planted_hat)
    gap = _checks.as_float_array("gap_hat", gap_hat)
    if not (mass.shape[-1:] == planted.shape[-1:] == gap.shape[-1:]):
        raise InputError("mass_hat, planted_hat and gap_hat must describe the same signal points")
    n_arr, big_n, nt, _ = _sizes(n, None, n_train, n_test)
    d, e = _checks.open_unit("delta", delta), _checks.epsilon(epsilon)
    k_star = float(signal_set_size if signal_set_size is not None else mass.shape[-1])
    k_y = float(n_labels)
    margin = finite_sample_margin().numeric(planted, gap, n_arr[..., None], big_n[..., None], d, e, k_star, k_y)
    radius = hoeffding_radius()
    out = ((mass * (margin > 0)).sum(axis=-1) - radius.numeric(n_arr, d, k_star, k_y)
           - radius.numeric(nt, d, k_star, k_y))
    return _checks.scalar_or_array(out)


def unplanting_bound_from_estimates(mass_hat, gap_hat, n, n_est, n_train, n_test, delta=0.05, epsilon=0.0,
                                    signal_set_size=None, version="as-coded"):
    """Adaptive unplanting's lower bound on Pr[f(g(x)) != y*] from the members' estimates.

    ``mass_hat``: share of the m = n - n_est relabelled members whose g(x) is x~; ``gap_hat``:
    p^_dn(x~, y*) - p^_de(x~, y^(x~)) (see :func:`unplanting_margin`). ``as-coded`` divides the
    indicator sum over the m rows by n and subtracts R(n); ``corrected`` divides by m and
    subtracts R(m).
    """
    mass = _checks.closed_unit("mass_hat", mass_hat)
    gap = _checks.as_float_array("gap_hat", gap_hat)
    if mass.shape[-1:] != gap.shape[-1:]:
        raise InputError("mass_hat and gap_hat must describe the same signal points")
    n_arr, big_n, nt, ne = _sizes(n, n_est, n_train, n_test)
    d, e = _checks.open_unit("delta", delta), _checks.epsilon(epsilon)
    k_star = float(signal_set_size if signal_set_size is not None else mass.shape[-1])
    margin = unplanting_margin(version).numeric(mass, gap, n_arr[..., None], ne[..., None],
                                                big_n[..., None], d, e, k_star)
    hit = (mass * (margin > 0)).sum(axis=-1)
    radius = unplanting_radius()
    m = n_arr - ne
    if version == "as-coded":
        out = hit * m / n_arr - radius.numeric(n_arr, d, k_star)
    else:
        out = hit - radius.numeric(m, d, k_star)
    return _checks.scalar_or_array(out - radius.numeric(nt, d, k_star))
