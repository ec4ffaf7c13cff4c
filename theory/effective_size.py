"""The weighted-risk lemma and the effective collective size alpha_eff (docs/theory.md §5).

A learner that minimises E_P[w(x, y) loss(f(x), y)] over all f with a proper loss returns the
Bayes classifier of P_w = w P / E_P[w]. With P = (1 - alpha) P0 + alpha P* this reweighted law
is again a mixture, (1 - a) P0_w + a P*_w, with P0_w = w P0 / E0[w], P*_w = w P* / E*[w] and

    a = alpha_eff = alpha E*[w] / (alpha E*[w] + (1 - alpha) E0[w]),

so every result for the plain learner applies with alpha -> alpha_eff (and the base quantities
Delta, xi, D computed under P0_w). :func:`weighted_risk_lemma` derives alpha_eff by matching the
coefficient of P* and then proves that the coefficient of P0 matches too. The learner-specific
forms substitute each method's weights:

* JTT: weight lambda on the stage-1 error set, 1 elsewhere; E*[w] = 1 + (lambda-1) e*,
  E0[w] = 1 + (lambda-1) e0 (e*, e0 = error shares of collective and base points).
* CVaR-DRO at level beta: w = 1[loss > eta] / beta with eta the (1-beta)-quantile of the loss
  under P, hence E_P[w] = 1 and alpha_eff = alpha q* / beta (q* = collective share in the tail).
* chi-square DRO: w proportional to (loss - eta)_+; the proportionality constant cancels.
* LfF: w = W(x) = CE_b / (CE_b + CE_d); the lemma with the mean weights of both groups.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .symbolic import Formula

alpha = sp.Symbol("alpha", positive=True)
w_star, w_base = sp.symbols("E_star_w E_0_w", positive=True)   # E_{P*}[w], E_{P0}[w]
upweight, e_star, e_base = sp.symbols("lambda e_star e_0", positive=True)
beta, tail_share = sp.symbols("beta q_star", positive=True)
ex_star, ex_base = sp.symbols("E_star_excess E_0_excess", positive=True)
scale = sp.Symbol("k", positive=True)

_LEMMA_ASSUMPTIONS = (
    "the learner minimises E_P[w loss] over all classifiers with a proper loss (its minimiser "
    "is the Bayes classifier of P_w = w P / E_P[w])",
    "P = (1 - alpha) P0 + alpha P*, 0 < alpha < 1, w >= 0 with E0[w], E*[w] > 0",
)


@lru_cache(maxsize=None)
def weighted_risk_lemma() -> Formula:
    """alpha_eff, derived by writing P_w as a mixture and matching coefficients.

    At any point z, P_w(z) = w(z)((1-alpha) p0(z) + alpha p*(z)) / E_P[w]. Matching the p*(z) term
    with a w(z) p*(z) / E*[w] gives a; the identity P_w = (1-a) P0_w + a P*_w is then verified
    symbolically (the difference simplifies to zero for arbitrary w(z), p0(z), p*(z)).
    """
    a = sp.Symbol("a", positive=True)
    wz, p0z, psz = sp.symbols("w_z p0_z pstar_z", positive=True)
    mean_w = (1 - alpha) * w_base + alpha * w_star                   # E_P[w]
    reweighted = wz * ((1 - alpha) * p0z + alpha * psz) / mean_w    # P_w(z)
    as_mixture = (1 - a) * wz * p0z / w_base + a * wz * psz / w_star
    coeff = sp.Eq(reweighted.diff(psz), as_mixture.diff(psz))       # match the P* component
    (a_eff,) = sp.solve(coeff, a)
    a_eff = sp.simplify(a_eff)
    if sp.simplify(reweighted - as_mixture.subs(a, a_eff)) != 0:  # pragma: no cover - the proof
        raise AssertionError("weighted-risk lemma: P_w is not the alpha_eff mixture")
    return Formula(
        name="alpha_eff",
        expr=a_eff,
        symbols=(alpha, w_star, w_base),
        assumptions=_LEMMA_ASSUMPTIONS,
        statement="effective collective size: the weight of P* in the reweighted mixture P_w",
    )


def lemma_identity_residual() -> sp.Expr:
    """P_w - ((1-a) P0_w + a P*_w) at a generic point with a = alpha_eff; simplifies to 0."""
    a = weighted_risk_lemma().expr
    wz, p0z, psz = sp.symbols("w_z p0_z pstar_z", positive=True)
    mean_w = (1 - alpha) * w_base + alpha * w_star
    lhs = wz * ((1 - alpha) * p0z + alpha * psz) / mean_w
    rhs = (1 - a) * wz * p0z / w_base + a * wz * psz / w_star
    return sp.simplify(lhs - rhs)


@lru_cache(maxsize=None)
def jtt_formula() -> Formula:
    """JTT's alpha_eff: the lemma with E*[w] = 1 + (lambda-1) e*, E0[w] = 1 + (lambda-1) e0."""
    expr = weighted_risk_lemma().expr.subs({w_star: 1 + (upweight - 1) * e_star,
                                            w_base: 1 + (upweight - 1) * e_base})
    return Formula(
        name="alpha_eff_jtt",
        expr=sp.simplify(expr),
        symbols=(alpha, upweight, e_star, e_base),
        assumptions=_LEMMA_ASSUMPTIONS + (
            "JTT stage 2 weights the stage-1 error set by lambda >= 1 and every other point by 1",
            "e*, e0 in [0, 1] are the shares of collective and base points in the error set",
        ),
        statement="effective collective size under Just Train Twice",
    )


@lru_cache(maxsize=None)
def jtt_gain() -> sp.Expr:
    """alpha_eff - alpha for JTT, factored: alpha(1-alpha)(lambda-1)(e* - e0) / Z with Z > 0."""
    return sp.factor(sp.simplify(jtt_formula().expr - alpha))


@lru_cache(maxsize=None)
def cvar_formula() -> Formula:
    """CVaR's alpha_eff = alpha q*/beta: the lemma with E*[w] = q*/beta and E_P[w] = 1.

    E_P[w] = 1 because eta is the (1-beta)-quantile of the loss under P, so the tail has mass
    beta; solving (1-alpha) E0[w] + alpha E*[w] = 1 for E0[w] and substituting gives the result.
    """
    lemma = weighted_risk_lemma().expr
    (base_mean,) = sp.solve(sp.Eq((1 - alpha) * w_base + alpha * w_star, 1), w_base)
    expr = sp.simplify(lemma.subs(w_base, base_mean).subs(w_star, tail_share / beta))
    return Formula(
        name="alpha_eff_cvar",
        expr=expr,
        symbols=(alpha, beta, tail_share),
        assumptions=_LEMMA_ASSUMPTIONS + (
            "CVaR-DRO at level beta: weights 1[loss > eta]/beta, eta the (1-beta)-quantile of the "
            "loss under P (tail mass exactly beta; ties at eta split so that it is)",
            "q* = share of the collective's points in the tail; alpha q* <= beta",
        ),
        statement="effective collective size under CVaR-DRO (weights fixed at a given model)",
    )


@lru_cache(maxsize=None)
def chi2_formula() -> Formula:
    """chi-square DRO: w = k (loss - eta)_+; k cancels (checked), leaving the excess means."""
    lemma = weighted_risk_lemma().expr
    scaled = lemma.subs({w_star: scale * ex_star, w_base: scale * ex_base})
    expr = sp.simplify(scaled)
    if expr.has(scale):  # pragma: no cover - the normalising constant must cancel
        raise AssertionError("chi-square weights: the scale did not cancel")
    return Formula(
        name="alpha_eff_chi2",
        expr=expr,
        symbols=(alpha, ex_star, ex_base),
        assumptions=_LEMMA_ASSUMPTIONS + (
            "chi-square DRO: weights proportional to (loss - eta)_+ at the dual optimum eta",
            "E*_excess, E0_excess = mean of (loss - eta)_+ over collective / base points",
        ),
        statement="effective collective size under chi-square DRO",
    )


@lru_cache(maxsize=None)
def lff_formula() -> Formula:
    """LfF: the lemma with the mean LfF weight W of collective and of base points."""
    w_c, w_b = sp.symbols("W_star W_0", positive=True)
    expr = weighted_risk_lemma().expr.subs({w_star: w_c, w_base: w_b})
    return Formula(
        name="alpha_eff_lff",
        expr=expr,
        symbols=(alpha, w_c, w_b),
        assumptions=_LEMMA_ASSUMPTIONS + (
            "LfF weights W(x) = CE_b(x) / (CE_b(x) + CE_d(x)) in [0, 1], biased model b trained "
            "with generalized cross-entropy (q = 0.7), held fixed while the debiased model fits",
        ),
        statement="effective collective size under Learning from Failure",
    )


# ---------------------------------------------------------------------------------------------
# Numeric front ends: validated, vectorised, evaluated from the compiled code without sympy
# (theory/effective_size_numeric.py), re-exported here.

from .effective_size_numeric import (  # noqa: E402
    alpha_eff,
    alpha_eff_chi2,
    alpha_eff_cvar,
    alpha_eff_groups,
    alpha_eff_jtt,
    alpha_eff_lff,
    jtt_crossover,
)
