"""Hardt's lower bound on success and the critical mass alpha* (docs/theory.md §2-§3).

Both results are derived here from the failure-set argument, not typed in. Let B be the set of
signal points where the learner does not predict y*. Summing the per-point failure condition
over B and using sum_B D <= Delta P0(B) <= Delta xi gives one linear inequality in P*(B);
solving it for P*(B) and using success = 1 - P*(B) yields the bound. The three learners:

* ``eps = 0``: f is Bayes-optimal on P_alpha. At a failure point alpha P*(x') <= (1-alpha) D(x').
* ``definition="contamination"``: f is Bayes-optimal on (1 - eps) P_alpha + eps Q for some
  distribution Q. At a failure point (1-eps)(alpha P* - (1-alpha) D) <= eps Q(x'); Q(B) <= 1.
* ``definition="tv"``: f is Bayes-optimal on some P' with TV(P_alpha, P') <= eps. Flipping a
  point needs the L1 change at (x', y*) and (x', y') to cover its margin, and the total L1
  change is at most 2 eps, so alpha P*(B) - (1-alpha) sum_B D <= 2 eps.

All assume the feature-label strategy (P* is a point mass on y* at each signal point) and that
ties go against the collective; the other strategies' bounds of this form are in :mod:`.hardt_goals`,
which reuses :func:`budget_term`. The bound can be negative (it is then vacuous); it is returned
as is, never clipped.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import check_choice

from . import _checks
from .symbolic import Formula

DEFINITIONS = ("contamination", "tv")

alpha, delta, xi, eps, target = sp.symbols("alpha Delta xi epsilon S_t", positive=True)
_failure_mass = sp.Symbol("P_star_B", nonnegative=True)  # P*(B), the collective's mass that fails

_COMMON = (
    "feature-label strategy; signal set X* = g(X); ties are broken against the collective",
    "Delta = max_{x' in X*} (max_y P0(y|x') - P0(y*|x')), xi = P0(X*)",
    "0 < alpha < 1, 0 <= Delta, xi <= 1",
)


_budget = sp.Symbol("c", nonnegative=True)  # the adversary's extra term, substituted last


def budget_term(definition: str, with_eps: bool) -> sp.Expr:
    """What the learner's suboptimality adds to the right side of the summed failure condition."""
    if not with_eps:
        return sp.Integer(0)
    if definition == "contamination":
        # (1-eps)(alpha P*(B) - (1-alpha) sum_B D) <= eps Q(B) <= eps; divide by (1-eps) > 0.
        return eps / (1 - eps)
    # TV: the L1 change, at most 2 eps, must cover the summed margins of the flipped points.
    return 2 * eps


def _failure_inequality() -> tuple[sp.Expr, sp.Expr]:
    """(lhs, rhs) of the summed failure condition lhs <= rhs, linear in P*(B).

    alpha P*(B) <= (1-alpha) sum_B D + c <= (1-alpha) Delta xi + c.
    """
    return alpha * _failure_mass, (1 - alpha) * delta * xi + _budget


@lru_cache(maxsize=None)
def hardt_bound_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """S(alpha) >= 1 - P*(B)_max, solved from the summed failure condition.

    ``with_epsilon=False`` gives the eps = 0 bound 1 - ((1-alpha)/alpha) Delta xi.
    """
    check_choice("definition", definition, DEFINITIONS)
    lhs, rhs = _failure_inequality()
    # The largest failing mass makes the inequality tight (lhs is increasing in P*(B)).
    (max_failure,) = sp.solve(sp.Eq(lhs, rhs), _failure_mass)
    bound = (1 - max_failure).subs(_budget, budget_term(definition, with_epsilon))
    symbols = (alpha, delta, xi) + ((eps,) if with_epsilon else ())
    learner = {
        "contamination": "f is Bayes-optimal on (1-eps) P_alpha + eps Q for some distribution Q",
        "tv": "f is Bayes-optimal on some P' with TV(P_alpha, P') <= eps",
    }[definition] if with_epsilon else "f is Bayes-optimal on P_alpha (eps = 0)"
    extra = ("0 <= eps < 1",) if with_epsilon else ()
    return Formula(
        name=f"hardt_bound[{definition if with_epsilon else 'bayes'}]",
        expr=bound,
        symbols=symbols,
        assumptions=_COMMON + (learner,) + extra + ("may be negative (vacuous); never clipped",),
        statement="lower bound on the success S(alpha) = Pr_{x~P0}[f(g(x)) = y*]",
    )


@lru_cache(maxsize=None)
def critical_mass_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """alpha* = the alpha at which the bound reaches the target success S_t, solved symbolically.

    The bound is increasing in alpha (its derivative, (Delta xi + c)/alpha^2, is checked), so the root is
    the smallest alpha whose bound reaches S_t.
    """
    bound = hardt_bound_formula(definition, with_epsilon)
    lhs, rhs = _failure_inequality()
    (max_failure,) = sp.solve(sp.Eq(lhs, rhs), _failure_mass)
    generic = 1 - max_failure
    # d/dalpha = (Delta xi + c)/alpha^2 >= 0: the root is the smallest alpha reaching S_t.
    if sp.simplify(sp.diff(generic, alpha) * alpha**2 - (delta * xi + _budget)) != 0:  # pragma: no cover
        raise AssertionError("Hardt's bound should increase with alpha")
    (root,) = sp.solve(sp.Eq(generic, target), alpha)
    root = sp.simplify(root).subs(_budget, budget_term(definition, with_epsilon))
    symbols = (delta, xi, target) + ((eps,) if with_epsilon else ())
    return Formula(
        name=f"critical_mass[{definition if with_epsilon else 'bayes'}]",
        expr=root,
        symbols=symbols,
        assumptions=bound.assumptions[:-1] + (
            "0 < S_t <= 1",
            "alpha* >= 1 means no collective reaches S_t by this bound (returned as inf)",
        ),
        statement="smallest alpha whose Hardt bound reaches the target success S_t",
    )


# Zero-argument factories of the formulas the numeric front ends below evaluate: theory/compiled.py
# stores their generated NumPy code on disk, so a process that only needs numbers skips the sympy
# solve and simplification (about 0.2 s, paid by every simulate worker before).
def hardt_bound_contamination() -> Formula:
    return hardt_bound_formula("contamination", True)


def hardt_bound_tv() -> Formula:
    return hardt_bound_formula("tv", True)


def critical_mass_contamination() -> Formula:
    return critical_mass_formula("contamination", True)


def critical_mass_tv() -> Formula:
    return critical_mass_formula("tv", True)


def _numeric(kind: str, definition: str, args: tuple):
    from .compiled import evaluate, numpy_function

    return evaluate(numpy_function("hardt", f"{kind}_{definition}"), args)


def hardt_bound(alpha, delta, xi, epsilon=0.0, definition: str = "contamination"):
    """Hardt's lower bound on success, vectorised over all numeric arguments (broadcasting).

    eps = 0 gives 1 - ((1-a)/a) Delta xi; contamination subtracts eps/((1-eps) a); TV subtracts
    2 eps / a. The value may be negative (vacuous) and is returned as is.
    """
    check_choice("definition", definition, DEFINITIONS)
    a = _checks.open_unit("alpha", alpha)
    d = _checks.closed_unit("delta", delta)
    x = _checks.closed_unit("xi", xi)
    e = _checks.epsilon(epsilon)
    out = _numeric("hardt_bound", definition, (a, d, x, e))
    return _checks.scalar_or_array(out)


def critical_mass(delta, xi, target, epsilon=0.0, definition: str = "contamination"):
    """alpha* reaching target success S_t under Hardt's bound (vectorised).

    Returns inf where no alpha in (0, 1) reaches the target (alpha* >= 1, or S_t = 1 with a
    positive eps term), and 0 where every alpha does (Delta xi = 0, eps = 0, any S_t).
    """
    check_choice("definition", definition, DEFINITIONS)
    d = _checks.closed_unit("delta", delta)
    x = _checks.closed_unit("xi", xi)
    s = _checks.half_open_unit("target", target)
    e = _checks.epsilon(epsilon)
    d, x, s, e = np.broadcast_arrays(d, x, s, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.asarray(_numeric("critical_mass", definition, (d, x, s, e)), dtype=float)
    free = (d * x == 0) & (e == 0)           # the bound is 1 at every alpha
    out = np.where(free, 0.0, raw)
    out = np.where(~free & ~(np.isfinite(out) & (out < 1.0)), np.inf, out)
    return _checks.scalar_or_array(out)
