"""The effective collective size alpha_eff as validated, vectorised NumPy functions.

The formulas are derived in theory/effective_size.py (the weighted-risk lemma and each learner's
weights); here they are evaluated from their compiled code (theory/compiled.py), so a training run
that reports its predicted alpha_eff never imports sympy. theory.effective_size re-exports every
function, and the values are those of ``Formula.numeric`` bit for bit.
"""

from __future__ import annotations

import numpy as np

from collective_action.errors import InputError

from . import _checks
from .compiled import evaluate, numpy_function


def _formula(factory: str, *args):
    """Evaluate ``theory.effective_size.<factory>()`` on NumPy arguments."""
    return evaluate(numpy_function("effective_size", factory), args)


def alpha_eff(alpha, collective_mean_weight, base_mean_weight):
    """General lemma: alpha E*[w] / (alpha E*[w] + (1-alpha) E0[w]) (vectorised)."""
    a = _checks.open_unit("alpha", alpha)
    ws = _checks.positive("collective_mean_weight", collective_mean_weight, inclusive=True)
    wb = _checks.positive("base_mean_weight", base_mean_weight, inclusive=True)
    if np.any((ws == 0) & (wb == 0)):
        raise InputError("collective_mean_weight and base_mean_weight cannot both be 0")
    return _checks.scalar_or_array(_formula("weighted_risk_lemma", a, ws, wb))


def alpha_eff_jtt(alpha, upweight, collective_error, base_error):
    """JTT: alpha_eff from the upweight lambda >= 1 and the stage-1 error shares e*, e0."""
    a = _checks.open_unit("alpha", alpha)
    lam = _checks.positive("upweight", upweight, minimum=1.0, inclusive=True)
    es = _checks.closed_unit("collective_error", collective_error)
    e0 = _checks.closed_unit("base_error", base_error)
    return _checks.scalar_or_array(_formula("jtt_formula", a, lam, es, e0))


def alpha_eff_cvar(alpha, beta, tail_share):
    """CVaR-DRO: alpha q*/beta. Raises InputError when the shares cannot fit a beta-tail."""
    a = _checks.open_unit("alpha", alpha)
    b = _checks.half_open_unit("beta", beta)
    q = _checks.closed_unit("tail_share", tail_share)
    collective_tail = a * q
    if np.any(collective_tail > b * (1 + 1e-12)):
        raise InputError("alpha * tail_share exceeds beta: the collective alone would overfill the "
                         "beta-tail")
    if np.any(b - collective_tail > (1 - a) * (1 + 1e-12)):
        raise InputError("beta - alpha * tail_share exceeds 1 - alpha: base points cannot fill the "
                         "rest of the beta-tail")
    return _checks.scalar_or_array(_formula("cvar_formula", a, b, q))


def alpha_eff_chi2(alpha, collective_excess, base_excess):
    """chi-square DRO: alpha_eff from the mean excess losses (loss - eta)_+ of both groups."""
    a = _checks.open_unit("alpha", alpha)
    xs = _checks.positive("collective_excess", collective_excess, inclusive=True)
    xb = _checks.positive("base_excess", base_excess, inclusive=True)
    if np.any((xs == 0) & (xb == 0)):
        raise InputError("collective_excess and base_excess cannot both be 0 (no point above eta)")
    return _checks.scalar_or_array(_formula("chi2_formula", a, xs, xb))


def alpha_eff_lff(alpha, collective_mean_weight, base_mean_weight):
    """LfF: alpha_eff from the mean LfF weights W of collective and base points (each in [0, 1])."""
    a = _checks.open_unit("alpha", alpha)
    ws = _checks.closed_unit("collective_mean_weight", collective_mean_weight)
    wb = _checks.closed_unit("base_mean_weight", base_mean_weight)
    if np.any((ws == 0) & (wb == 0)):
        raise InputError("collective_mean_weight and base_mean_weight cannot both be 0")
    return _checks.scalar_or_array(_formula("lff_formula", a, ws, wb))


def alpha_eff_groups(alpha, group_weights, collective_group_shares, base_group_shares):
    """Group reweighting (Group DRO, group-balanced ERM): the lemma with group-constant weights.

    With weight w_g on group g, E*[w] = sum_g q*_g w_g and E0[w] = sum_g q0_g w_g, where q*_g,
    q0_g are the shares of collective and base points in group g (each summing to 1; last axis =
    groups). A collective planting y* lands in y*'s groups, so its weight follows from theirs.
    """
    w = _checks.positive("group_weights", group_weights, inclusive=True)
    qs = _checks.closed_unit("collective_group_shares", collective_group_shares)
    q0 = _checks.closed_unit("base_group_shares", base_group_shares)
    if w.ndim == 0 or w.shape[-1:] != qs.shape[-1:] or w.shape[-1:] != q0.shape[-1:]:
        raise InputError("group_weights and both share vectors must have one entry per group")
    for name, q in (("collective_group_shares", qs), ("base_group_shares", q0)):
        if np.any(np.abs(q.sum(axis=-1) - 1.0) > 1e-9):
            raise InputError(f"{name} must sum to 1 over groups")
    return alpha_eff(alpha, (qs * w).sum(axis=-1), (q0 * w).sum(axis=-1))


def jtt_crossover(alphas, collective_error, base_error) -> float:
    """The alpha where JTT's gain changes sign, e*(alpha) = e0(alpha), from measured curves.

    ``alphas`` increasing; returns the first sign change of e* - e0 located by linear
    interpolation, or NaN when e* - e0 keeps one sign on the whole grid.
    """
    a = _checks.open_unit("alphas", alphas).ravel()
    diff = (_checks.closed_unit("collective_error", collective_error).ravel()
            - _checks.closed_unit("base_error", base_error).ravel())
    if not (len(a) == len(diff) >= 2) or np.any(np.diff(a) <= 0):
        raise InputError("alphas must be increasing and match the error curves in length (>= 2)")
    for i in range(len(a) - 1):
        if diff[i] == 0:
            return float(a[i])
        if diff[i] * diff[i + 1] < 0:
            return float(a[i] + (a[i + 1] - a[i]) * diff[i] / (diff[i] - diff[i + 1]))
    return float(a[-1]) if diff[-1] == 0 else float("nan")
