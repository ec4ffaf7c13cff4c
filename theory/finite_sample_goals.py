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
  ``theorem`` is their Theorem 3.7 as printed, for the protocol it states: all n members relabel
  (the n_est estimators too, so the platform trains on N rows), y^ comes from the n_est rows and
  the gap from the other n - n_est: margin (n/N)(P^(x~) - 2R(n)) - ((N-n)/N)(Dhat + 2R(n - n_est)
  + 2R(N - n)) - eps/(1-eps), the sum over all n members, minus R(n) and R(N_test).
* Feature-only planting with the members who do not hold y* keeping their point (Hardt et al.'s
  strategy, the one :class:`collective_action.collective.FeatureOnly` defines): their rows stay
  at the signal points and vote for the rivals there, a term that Gauthier et al.'s Theorem 3.5
  drops because their feature-only strategy moves those rows to an x0 outside X*. It is known
  exactly (the collective holds those rows), so the margin only subtracts (n/N) K^(x~), K^ the
  members' largest kept rival share at x~ (:func:`feature_only_margin`; K^ = 0 is Theorem 3.5).
* Erasing (Gauthier et al., Theorem 3.9): every member keeps x and reports y^*(g(x)), the label
  most frequent at g(x) in the members' own n rows. delta~ = delta / (2 + |X*||Y| + 2|X| + 2|X||Y|);
  the margin at each x' in X is the planting margin with the members' share at x' and
  Dhat(x') = max_{y != y^*(g(x'))} p^(x', y) - p^(x', y^*(g(x'))); the sum runs over all of X. It
  assumes g idempotent and a margin eta > 0 between the most likely label and the others at every
  x, and holds for 2 log(1/delta~)/eta^2 <= n <= N - 2 log(1/delta~)/eta^2
  (:func:`erasing_sample_size`: then the members' and the base's argmax are the true one).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .finite_sample import hoeffding_radius
from .symbolic import Formula

n_sym, n_total, n_test_sym, n_est_sym = sp.symbols("n N N_test n_est", positive=True)
delta_sym, eps_sym = sp.symbols("delta epsilon", positive=True)
n_signal = sp.Symbol("n_Xstar", positive=True)
n_points_sym, n_labels_sym = sp.symbols("n_X n_Y", positive=True)
p_hat, d_hat = sp.symbols("Phat_star Dhat", real=True)
k_hat = sp.Symbol("Khat", nonnegative=True)
eta_sym = sp.Symbol("eta", positive=True)
_k = sp.Symbol("k", positive=True)

#: Versions for the protocol of the authors' code (the n_est rows are withheld from the platform).
UNPLANTING_VERSIONS = ("as-coded", "corrected")
#: Their Theorem 3.7 as printed (all n members relabel).
UNPLANTING_THEOREM = "theorem"


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
    versions = UNPLANTING_VERSIONS + (UNPLANTING_THEOREM,)
    if version not in versions:
        raise InputError(f"version must be one of {versions}, got {version!r}")
    r = unplanting_radius().expr
    m = n_sym - n_est_sym
    base = n_total - n_sym
    if version == UNPLANTING_THEOREM:
        # all n members relabel; the gap's two cells come from the n - n_est rows that did not pick y^
        planted, size, r_mass = n_sym, n_total, r.subs(_k, n_sym)
        gap_high = d_hat + 2 * r.subs(_k, m) + 2 * r.subs(_k, base)
    elif version == "as-coded":
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
            + {"as-coded": "as their code computes it", "corrected": "radii of the samples each estimate uses",
               UNPLANTING_THEOREM: "their Theorem 3.7 as printed"}[version],
            "y^ estimated from the n_est rows, independent of the other member rows and of the base rows",
            ("platform: eps-suboptimal on its training set (all n relabelled rows + N - n base rows)"
             if version == UNPLANTING_THEOREM else
             "platform: eps-suboptimal on its training set (m relabelled rows + N - n base rows)"),
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


@lru_cache(maxsize=None)
def feature_only_margin() -> Formula:
    """Robust margin at x~ for feature-only planting: target count low minus rival count high, over N.

    Target: the members planted at (x~, y*), n (Phat - 2R(n)), plus the base's y* rows. Rival y':
    the members' own rows kept at (x~, y'), at most n Khat, plus the base's y' rows; the base's
    rival-minus-target is at most (N - n)(Dhat + 2R(n) + 2R(N - n)) (the planting theorem's
    estimate). With Khat = 0 this is :func:`.finite_sample_margin` (checked in the tests).
    """
    radius = hoeffding_radius().expr
    r_n, r_base = radius.subs(_k, n_sym), radius.subs(_k, n_total - n_sym)
    target_low = n_sym * (p_hat - 2 * r_n)
    rival_high = n_sym * k_hat + (n_total - n_sym) * (d_hat + 2 * r_n + 2 * r_base)
    margin = (target_low - rival_high) / n_total - eps_sym / (1 - eps_sym)
    return Formula(
        name="feature_only_margin",
        expr=margin,
        symbols=(p_hat, k_hat, d_hat, n_sym, n_total, delta_sym, eps_sym, n_signal, n_labels_sym),
        assumptions=(
            "Gauthier, Bach, Jordan (2025), Theorem 3.5, with the members' kept rows at X* counted",
            "Phat: members planted at (x~, y*); Khat: members' largest kept rival share at x~",
            "platform eps-suboptimal (contamination) on its N training rows; 1 <= n < N",
        ),
        statement="margin that, if positive, guarantees y* at x~ with probability >= 1 - delta",
    )


def feature_only_bound_from_estimates(mass_hat, planted_hat, gap_hat, n, n_train, n_test, delta=0.05,
                                      epsilon=0.0, signal_set_size=None, n_labels=2, kept_rival_hat=None):
    """Feature-only planting: sum_x mass_hat(x) 1[margin(planted_hat(x), gap_hat(x)) > 0] - R(n) - R(N_test).

    ``mass_hat`` (last axis = signal points): share of the members whose g(x) is x~ (the law of
    the signal points on test data); ``planted_hat``: share of the members planted at (x~, y*)
    (their own label is y*); ``gap_hat``: max_{y != y*} minus the y* cell of the members' original
    table at x~; ``kept_rival_hat``: the members' largest share at (x~, y != y*) that stays there
    (None or 0: Gauthier et al.'s strategy, which moves those rows to an x0 outside X*). The
    margin is :func:`feature_only_margin`, delta~ the planting theorem's.
    """
    mass = _checks.closed_unit("mass_hat", mass_hat)
    planted = _checks.closed_unit("planted_hat", planted_hat)
    gap = _checks.as_float_array("gap_hat", gap_hat)
    kept = np.zeros_like(gap) if kept_rival_hat is None else _checks.closed_unit("kept_rival_hat", kept_rival_hat)
    if not (mass.shape[-1:] == planted.shape[-1:] == gap.shape[-1:] == kept.shape[-1:]):
        raise InputError("mass_hat, planted_hat, gap_hat and kept_rival_hat must describe the same signal points")
    n_arr, big_n, nt, _ = _sizes(n, None, n_train, n_test)
    d, e = _checks.open_unit("delta", delta), _checks.epsilon(epsilon)
    k_star = float(signal_set_size if signal_set_size is not None else mass.shape[-1])
    k_y = float(n_labels)
    margin = feature_only_margin().numeric(planted, kept, gap, n_arr[..., None], big_n[..., None], d, e, k_star, k_y)
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
    subtracts R(m). ``theorem`` (Theorem 3.7 as printed): ``mass_hat`` is the share of all n
    members whose g(x) is x~, ``gap_hat`` p^(x~, y*) - p^(x~, y^(x~)) on the n - n_est rows that did
    not estimate y^; the sum is over all n members and R(n) is subtracted.
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
    elif version == UNPLANTING_THEOREM:
        out = hit - radius.numeric(n_arr, d, k_star)
    else:
        out = hit - radius.numeric(m, d, k_star)
    return _checks.scalar_or_array(out - radius.numeric(nt, d, k_star))


# ------------------------------------------------------------------------------------------
# Erasing (Gauthier et al., Theorem 3.9)


@lru_cache(maxsize=None)
def erasing_confidence_level() -> sp.Expr:
    """delta~ = delta / (2 + |X*||Y| + 2|X| + 2|X||Y|): Theorem 3.9's union bound."""
    return delta_sym / (2 + n_signal * n_labels_sym + 2 * n_points_sym + 2 * n_points_sym * n_labels_sym)


@lru_cache(maxsize=None)
def erasing_radius() -> Formula:
    """R(k) = sqrt(log(1/delta~) / (2k)) with the erasing delta~, solved from Hoeffding's tail."""
    radius = sp.Symbol("R", positive=True)
    (solution,) = sp.solve(sp.Eq(sp.exp(-2 * _k * radius ** 2), erasing_confidence_level()), radius)
    return Formula(
        name="erasing_radius",
        expr=sp.simplify(solution),
        symbols=(_k, delta_sym, n_points_sym, n_signal, n_labels_sym),
        assumptions=("one-sided Hoeffding bound for a mean of k independent [0,1] variables",),
        statement="deviation exceeded with probability at most delta~ (Theorem 3.9)",
    )


@lru_cache(maxsize=None)
def erasing_sample_size() -> Formula:
    """Smallest k with 2 R(k) <= eta: from k rows the empirical argmax at every x is the true one.

    Each of the two cells that decide the argmax moves by at most R(k); a margin eta survives when
    eta - 2 R(k) >= 0, solved for k: 2 log(1/delta~) / eta^2, Theorem 3.9's lower limit on n (and
    on N - n, for the base rows at g(x)).
    """
    radius = erasing_radius()
    (k_min,) = sp.solve(sp.Eq(2 * radius.expr, eta_sym), _k)
    # sympy folds 2 log(A)/eta^2 into log(A^(2/eta^2)), which overflows numerically: unfold it
    k_min = sp.expand_log(k_min, force=True)
    return Formula(
        name="erasing_sample_size",
        expr=k_min,
        symbols=(eta_sym, delta_sym, n_points_sym, n_signal, n_labels_sym),
        assumptions=("eta: margin of the most likely label over every other one at every x (joint)",),
        statement="rows needed for the empirical argmax to be right at every x w.p. >= 1 - delta~ each",
    )


@lru_cache(maxsize=None)
def erasing_margin() -> Formula:
    """Robust margin at x' for erasing: the planting margin with the erasing radius.

    Phat: the members' share at x' (all of them report (x', y^*(g(x')))); Dhat: the members' largest
    other label minus y^*(g(x')) at x'.
    """
    radius = erasing_radius().expr
    r_n, r_base = radius.subs(_k, n_sym), radius.subs(_k, n_total - n_sym)
    margin = ((n_sym / n_total) * (p_hat - 2 * r_n)
              - ((n_total - n_sym) / n_total) * (d_hat + 2 * r_n + 2 * r_base) - eps_sym / (1 - eps_sym))
    return Formula(
        name="erasing_margin",
        expr=margin,
        symbols=(p_hat, d_hat, n_sym, n_total, delta_sym, eps_sym, n_points_sym, n_signal, n_labels_sym),
        assumptions=(
            "Gauthier, Bach, Jordan (2025), Theorem 3.9 as printed",
            "g idempotent; a margin eta > 0 at every x; 2 log(1/delta~)/eta^2 <= n <= N - 2 log(1/delta~)/eta^2",
            "platform eps-suboptimal on its N training rows",
        ),
        statement="margin that, if positive, guarantees f(x') = y^*(g(x')) = f(g(x'))",
    )


def erasing_bound_from_estimates(mass_hat, gap_hat, n, n_train, n_test, delta=0.05, epsilon=0.0, *,
                                 n_points, signal_set_size, n_labels):
    """Erasing's lower bound on Pr[f(g(x)) = f(x)]: sum_{x'} mass_hat 1[margin > 0] - R(n) - R(N_test).

    ``mass_hat``, ``gap_hat``: last axis = every point of X (the members' share at x' and Dhat(x'),
    :func:`erasing_estimates`). The hypotheses on g and on n (:func:`erasing_sample_size`) are the
    caller's to check: the bound says nothing without them.
    """
    mass = _checks.closed_unit("mass_hat", mass_hat)
    gap = _checks.as_float_array("gap_hat", gap_hat)
    if mass.shape[-1:] != gap.shape[-1:]:
        raise InputError("mass_hat and gap_hat must describe the same points")
    n_arr, big_n, nt, _ = _sizes(n, None, n_train, n_test)
    d, e = _checks.open_unit("delta", delta), _checks.epsilon(epsilon)
    sizes = (float(n_points), float(signal_set_size), float(n_labels))
    margin = erasing_margin().numeric(mass, gap, n_arr[..., None], big_n[..., None], d, e, *sizes)
    radius = erasing_radius()
    out = (mass * (margin > 0)).sum(axis=-1) - radius.numeric(n_arr, d, *sizes) - radius.numeric(nt, d, *sizes)
    return _checks.scalar_or_array(out)


# ------------------------------------------------------------------------------------------
# The collective's estimates from its own count tables (general discrete problems)


def _table(name: str, counts) -> np.ndarray:
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[1] < 2 or (table < 0).any() or table.sum() <= 0:
        raise InputError(f"{name} must be a non-empty |X| x |Y| table of counts")
    return table


def _signal_law(table: np.ndarray, g: np.ndarray) -> np.ndarray:
    law = np.zeros(table.shape[0])
    np.add.at(law, g, table.sum(axis=1))
    return law / table.sum()


def planting_estimates(members, g, target: int, kept_in_place: bool = False) -> dict:
    """The quantities the planting bounds read, from the members' original count table ``members``.

    Returns arrays over the signal points X* (``points``): ``mass`` (law of g(x) among the members),
    ``planted`` (share planted at (x~, y*): all members for feature-label, those with y = y* for
    feature-only), ``gap`` (max_{y != y*} minus y* at x~ in the members' table) and ``kept_rival``
    (feature-only members who keep their point: the largest share at (x~, y != y*); 0 otherwise).
    """
    table = _table("members", members)
    g = np.asarray(g)
    points = np.unique(g)
    mass = _signal_law(table, g)
    share = table / table.sum()
    gap = np.delete(share, target, axis=1).max(axis=1) - share[:, target]
    if kept_in_place:
        planted = np.zeros(table.shape[0])
        np.add.at(planted, g, share[:, target])
        kept = np.delete(share, target, axis=1).max(axis=1)
    else:
        planted, kept = mass, np.zeros(table.shape[0])
    return {"points": points, "mass": mass[points], "planted": planted[points], "gap": gap[points],
            "kept_rival": kept[points]}


def unplanting_estimates(estimators, others, g, target: int) -> dict:
    """y^ from the estimators' count table and the theorem's estimates from the other members'.

    ``labels``: y^(x~) for every point (argmax over y != y*, first maximiser); over X*: ``mass``
    (law of g(x) among all members), ``gap`` (p^(x~, y*) - p^(x~, y^(x~)) in ``others``).
    """
    est, rest = _table("estimators", estimators), _table("others", others)
    g = np.asarray(g)
    labels = np.argmax(np.where(np.arange(est.shape[1]) == target, -np.inf, est), axis=1)
    points = np.unique(g)
    mass = _signal_law(est + rest, g)
    share = rest / rest.sum()
    gap = share[:, target] - share[np.arange(share.shape[0]), labels]
    return {"labels": labels, "points": points, "mass": mass[points], "gap": gap[points]}


def erasing_estimates(members, g) -> dict:
    """y^*(x) for every x from the members' count table (first maximiser) and, over all of X, the
    members' share ``mass`` and ``gap`` = max_{y != y^*(g(x))} p^(x, y) - p^(x, y^*(g(x)))."""
    table = _table("members", members)
    g = np.asarray(g)
    labels = np.argmax(table, axis=1)
    share = table / table.sum()
    played = labels[g]
    rows = np.arange(table.shape[0])
    others = share.copy()
    others[rows, played] = -np.inf
    gap = others.max(axis=1) - share[rows, played]
    return {"labels": labels, "mass": share.sum(axis=1), "gap": gap}
