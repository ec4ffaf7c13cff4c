"""Population bounds in Hardt's form for the goals beyond feature-label planting (docs/theory.md §2b).

Each bound is derived here the way :mod:`.hardt` derives the feature-label one: a per-point
failure condition of the learner (Bayes-optimal on P_alpha, or eps-suboptimal: its extra budget
c is 0, eps/(1-eps) for contamination, 2 eps for total variation, :func:`.hardt.budget_term`) is
summed over the failure set B and solved for B's mass. Ties count as failures throughout.

* Feature-only planting, h(x, y) = (g(x), y) if y = y*, else (x, y). Members whose label is not
  y* keep their point, so at a signal point x' every rival keeps its full mass P0(x', y) while
  y* keeps only (1 - alpha) P0(x', y*) of its own: failure at x' <=> alpha P*(x', y*) <=
  D(x') + alpha P0(x', y*) (+ c's share). With p = min_x P0(y* | x) (over x with P0(x) > 0),
  P*(x', y*) >= p P_g(x'); summing, alpha p P_g(B) <= Delta xi + alpha xi_t + c, where
  xi_t = P0(X* x {y*}), so S >= 1 - (Delta xi + alpha xi_t + c) / (alpha p).
* Adaptive unplanting, population version (y^(x~) = argmax_{y != y*} P0(x~, y)): failure at x~
  (y* still predicted) gives alpha P_g(x~) <= (1 - alpha)(P0(x~, y*) - P0(x~, y^)) + c's share
  <= (1 - alpha) Gamma P0(x~) + ..., with Gamma = max_{x~ in X*} (P0(y* | x~) - max_{y != y*}
  P0(y | x~))_+ (how strongly y* dominates the signal set), so S >= 1 - ((1 - alpha) Gamma xi + c) / alpha:
  Hardt's planting bound with Delta replaced by Gamma. Ours: Hardt et al. do not treat unplanting,
  and this is the infinite-sample limit of Gauthier et al.'s Theorem 3.7 summed over B.
* Erasing, h(x, y) = (x, y~(g(x))), y~(z) = argmax_y P0(z, y). Success needs f(x) = y~(g(x))
  (event A) and f(g(x)) = y~(g(x)) (event C). On not-A, alpha P0(x) <= (1 - alpha) tau(x) P0(x) with
  tau(x) = max_y P0(y | x) - P0(y~(g(x)) | x); summed, alpha P0(B_A) <= (1 - alpha) tau + c_A with
  tau = E_{x ~ P0}[tau(x)] (Hardt's sensitivity of the Bayes label to g). C holds for the Bayes
  learner whenever z = g(x) is a fixed point of g with P0(z) > 0 (the members at z reinforce y~(z));
  zeta = P0(g(x) is not such a point) is lost outright (0 under Gauthier et al.'s assumption that g
  is idempotent and X* is seen). An eps-adversary can also flip a fixed point z at Q-cost at least
  alpha P0(z), which takes all of g's preimage with it: with kappa = max_z P_g(z) / P0(z) >= 1,
  alpha P_g(B_C) <= kappa c_C. Maximising over c_A + c_C <= c gives
  S >= 1 - ((1 - alpha) tau + kappa c) / alpha - zeta.

Every bound may be negative (vacuous) and is returned as is. Critical masses solve bound = S_t
after a symbolic check that the bound increases with alpha.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError, check_choice

from . import _checks
from .bayes import hardt_constants, joint_gap
from .hardt import DEFINITIONS, budget_term, critical_mass, hardt_bound
from .symbolic import Formula

alpha, delta, xi, eps, target = sp.symbols("alpha Delta xi epsilon S_t", positive=True)
p_min, xi_t = sp.symbols("p xi_t", positive=True)
gamma, tau, zeta, kappa = sp.symbols("Gamma tau zeta kappa", nonnegative=True)
_c = sp.Symbol("c", nonnegative=True)  # the learner's extra budget, substituted last
_mass = sp.Symbol("M_B", nonnegative=True)  # the failure set's mass (P_g(B) or P0(B))
# per-point symbols of the feature-only failure condition
_pstar_t, _p0_t, _p0_r, _gap = sp.symbols("Pstar_t P0_t P0_r D", real=True)

#: The strategies with a population bound in Hardt's form (feature-label lives in :mod:`.hardt`).
BOUNDED_STRATEGIES = ("feature-label", "feature-only", "unplanting", "erasing")


def _learner(definition: str, with_epsilon: bool) -> str:
    if not with_epsilon:
        return "f is Bayes-optimal on P_alpha (eps = 0)"
    return {"contamination": "f is Bayes-optimal on (1-eps) P_alpha + eps Q for some distribution Q",
            "tv": "f is Bayes-optimal on some P' with TV(P_alpha, P') <= eps"}[definition]


def _solved_bound(lhs: sp.Expr, rhs: sp.Expr) -> sp.Expr:
    """1 - (largest failing mass): the failure inequality lhs <= rhs is tight at the largest mass."""
    (largest,) = sp.solve(sp.Eq(lhs, rhs), _mass)
    return 1 - largest


@lru_cache(maxsize=None)
def feature_only_failure_condition() -> sp.Expr:
    """The feature-only per-point condition, as the largest alpha P*(x', y*) that still fails.

    Target score (1-alpha) P0(x', y*) + alpha P*(x', y*); a rival's score (1-alpha) P0(x', y) +
    alpha P0(x', y) = P0(x', y), since members with that label keep their point. Failure: target
    <= rival. Solved for alpha P*(x', y*) and written with D = P0_r - P0_t, it is D + alpha P0_t.
    """
    target_score = (1 - alpha) * _p0_t + alpha * _pstar_t
    rival_score = _p0_r
    (pstar_at_tie,) = sp.solve(sp.Eq(target_score, rival_score), _pstar_t)
    largest = sp.expand((alpha * pstar_at_tie).subs(_p0_r, _gap + _p0_t))
    if sp.simplify(largest - (_gap + alpha * _p0_t)) != 0:  # pragma: no cover - guards the derivation
        raise AssertionError("feature-only failure condition is not D + alpha P0(x', y*)")
    return largest


@lru_cache(maxsize=None)
def feature_only_bound_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """S(alpha) >= 1 - (Delta xi + alpha xi_t + c) / (alpha p) for feature-only planting.

    Summing :func:`feature_only_failure_condition` over B with D(x') <= Delta P0(x'),
    P0(x', y*) summed over B <= xi_t and P*(x', y*) >= p P_g(x') gives alpha p P_g(B) <=
    Delta xi + alpha xi_t + c.
    """
    check_choice("definition", definition, DEFINITIONS)
    per_point = feature_only_failure_condition()
    # each per-point term is bounded by its summed constant: D -> Delta xi, P0_t -> xi_t
    summed = per_point.subs({_gap: delta * xi, _p0_t: xi_t})
    bound = _solved_bound(alpha * p_min * _mass, summed + _c).subs(_c, budget_term(definition, with_epsilon))
    symbols = (alpha, delta, xi, p_min, xi_t) + ((eps,) if with_epsilon else ())
    return Formula(
        name=f"feature_only_bound[{definition if with_epsilon else 'bayes'}]",
        expr=sp.simplify(bound),
        symbols=symbols,
        assumptions=(
            "feature-only strategy: members with y = y* report (g(x), y*), the others (x, y)",
            "Delta = max_{x' in X*} (max_y P0(y|x') - P0(y*|x')), xi = P0(X*), xi_t = P0(X* x {y*})",
            "p = min over x with P0(x) > 0 of P0(y*|x)",
            _learner(definition, with_epsilon),
            "ties are broken against the collective; may be negative (vacuous), never clipped",
        ),
        statement="lower bound on Pr_{x~P0}[f(g(x)) = y*] for feature-only planting",
    )


@lru_cache(maxsize=None)
def unplanting_bound_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """S(alpha) >= 1 - ((1-alpha) Gamma xi + c) / alpha for adaptive unplanting (population labels).

    Per point: y* survives at x~ only if (1-alpha) P0(x~, y*) >= (1-alpha) P0(x~, y^) + alpha P_g(x~)
    (the collective puts all of P_g(x~) on y^); P0(x~, y*) - P0(x~, y^) <= Gamma P0(x~).
    """
    check_choice("definition", definition, DEFINITIONS)
    p_g, p0_star, p0_hat = sp.symbols("P_g P0_star P0_hat", nonnegative=True)
    survive = sp.solve(sp.Eq((1 - alpha) * p0_star, (1 - alpha) * p0_hat + alpha * p_g), p_g)[0]
    # alpha P_g at the tie is (1-alpha)(P0(x~, y*) - P0(x~, y^)); bounded by (1-alpha) Gamma P0(x~)
    if sp.simplify(alpha * survive - (1 - alpha) * (p0_star - p0_hat)) != 0:  # pragma: no cover
        raise AssertionError("unplanting failure condition is not (1-alpha)(P0* - P0^)")
    bound = _solved_bound(alpha * _mass, (1 - alpha) * gamma * xi + _c).subs(_c, budget_term(definition, with_epsilon))
    symbols = (alpha, gamma, xi) + ((eps,) if with_epsilon else ())
    return Formula(
        name=f"unplanting_bound[{definition if with_epsilon else 'bayes'}]",
        expr=sp.simplify(bound),
        symbols=symbols,
        assumptions=(
            "adaptive unplanting with population labels y^(x~) = argmax_{y != y*} P0(x~, y)",
            "Gamma = max_{x~ in X*} (P0(y*|x~) - max_{y != y*} P0(y|x~))_+, xi = P0(X*)",
            _learner(definition, with_epsilon),
            "ties go to y* (against the collective); may be negative (vacuous), never clipped",
        ),
        statement="lower bound on Pr_{x~P0}[f(g(x)) != y*] for adaptive unplanting",
    )


@lru_cache(maxsize=None)
def erasing_bound_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """S(alpha) >= 1 - ((1-alpha) tau + kappa c) / alpha - zeta for erasing (module docstring).

    The budget c is split between flipping points x (event A, cost per unit of P0(B_A) at least
    alpha - (1-alpha) tau(x)) and flipping fixed signal points (event C, cost alpha P0(z) for up to
    kappa P0(z) of success); the split that loses most is solved for symbolically.
    """
    check_choice("definition", definition, DEFINITIONS)
    c_a = sp.Symbol("c_A", nonnegative=True)
    lost_a = 1 - _solved_bound(alpha * _mass, (1 - alpha) * tau + c_a)
    lost_c = kappa * (_c - c_a) / alpha  # alpha P0(B_C) <= c - c_A and P_g(B_C) <= kappa P0(B_C)
    lost = lost_a + lost_c
    slope = sp.diff(lost, c_a)
    # kappa >= 1 (z is its own preimage): the slope (1 - kappa)/alpha is <= 0, so c_A = 0 is worst
    if sp.simplify(slope.subs(kappa, 1 + sp.Symbol("k", nonnegative=True)) * alpha
                   + sp.Symbol("k", nonnegative=True)) != 0:  # pragma: no cover
        raise AssertionError("erasing: the budget split is not linear with slope (1 - kappa)/alpha")
    worst = lost.subs(c_a, 0)
    bound = (1 - worst - zeta).subs(_c, budget_term(definition, with_epsilon))
    symbols = (alpha, tau, zeta) + ((kappa, eps) if with_epsilon else ())
    if not with_epsilon:
        bound = bound.subs(kappa, 1)
    return Formula(
        name=f"erasing_bound[{definition if with_epsilon else 'bayes'}]",
        expr=sp.simplify(bound),
        symbols=symbols,
        assumptions=(
            "erasing strategy h(x, y) = (x, y~(g(x))), y~(z) = argmax_y P0(z, y) (first maximiser)",
            "tau = E_{x~P0}[max_y P0(y|x) - P0(y~(g(x))|x)]; zeta = P0(g(x) is not a fixed point "
            "of g seen under P0); kappa = max over those fixed points z of P_g(z) / P0(z)",
            _learner(definition, with_epsilon),
            "success Pr_{x~P0}[f(g(x)) = f(x)]; may be negative (vacuous), never clipped",
        ),
        statement="lower bound on Pr_{x~P0}[f(g(x)) = f(x)] for erasing",
    )


@lru_cache(maxsize=None)
def feature_only_critical_mass_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """alpha* where the feature-only bound reaches S_t (the bound increases in alpha: checked)."""
    generic = _solved_bound(alpha * p_min * _mass,
                            feature_only_failure_condition().subs({_gap: delta * xi, _p0_t: xi_t}) + _c)
    if sp.simplify(sp.diff(generic, alpha) * alpha**2 * p_min - (delta * xi + _c)) != 0:  # pragma: no cover
        raise AssertionError("the feature-only bound should increase with alpha")
    (root,) = sp.solve(sp.Eq(generic, target), alpha)
    root = sp.simplify(root).subs(_c, budget_term(definition, with_epsilon))
    return Formula(
        name=f"feature_only_critical_mass[{definition if with_epsilon else 'bayes'}]",
        expr=root,
        symbols=(delta, xi, p_min, xi_t, target) + ((eps,) if with_epsilon else ()),
        assumptions=feature_only_bound_formula(definition, with_epsilon).assumptions[:-1] + (
            "0 < S_t <= 1; no alpha < 1 reaches S_t when p (1 - S_t) <= xi_t or the root is >= 1",),
        statement="smallest alpha whose feature-only bound reaches the target success S_t",
    )


@lru_cache(maxsize=None)
def erasing_critical_mass_formula(definition: str = "contamination", with_epsilon: bool = True) -> Formula:
    """alpha* where the erasing bound reaches S_t (the bound increases in alpha: checked)."""
    bound = erasing_bound_formula(definition, with_epsilon)
    if with_epsilon:
        slope = sp.diff(bound.expr, alpha) * alpha**2
        expected = tau + kappa * budget_term(definition, True)
        if sp.simplify(slope - expected) != 0:  # pragma: no cover
            raise AssertionError("the erasing bound should increase with alpha")
    (root,) = sp.solve(sp.Eq(bound.expr, target), alpha)
    return Formula(
        name=f"erasing_critical_mass[{definition if with_epsilon else 'bayes'}]",
        expr=sp.simplify(root),
        symbols=(tau, zeta, target) + ((kappa, eps) if with_epsilon else ()),
        assumptions=bound.assumptions[:-1] + ("0 < S_t <= 1; no alpha < 1 reaches S_t when the root "
                                              "is not in (0, 1)",),
        statement="smallest alpha whose erasing bound reaches the target success S_t",
    )


# ------------------------------------------------------------------------------------------
# The constants of a discrete problem


def feature_only_constants(problem: DiscreteProblem) -> tuple[float, float, float, float]:
    """(Delta, xi, p, xi_t) of a discrete problem: Hardt's Delta and xi, p = min_x P0(y*|x) over x
    with P0(x) > 0, and xi_t = P0(X* x {y*})."""
    d, x = hardt_constants(problem)
    marginal = problem.marginal
    seen = marginal > 0
    p = float(np.min(problem.p0[seen, problem.target] / marginal[seen])) if seen.any() else 0.0
    x_t = float(problem.p0[problem.signal_set, problem.target].sum())
    return d, x, p, min(x_t, 1.0)


def unplanting_constants(problem: DiscreteProblem) -> tuple[float, float]:
    """(Gamma, xi): Gamma = max over seen signal points of (P0(y*|x~) - max_{y != y*} P0(y|x~))_+."""
    signal = problem.signal_set
    marginal = problem.marginal[signal]
    xi_value = float(min(marginal.sum(), 1.0))
    seen = marginal > 0
    if not seen.any():
        return 0.0, xi_value
    dominance = -joint_gap(problem)[signal][seen] / marginal[seen]
    return float(max(dominance.max(), 0.0)), xi_value


def erasing_constants(problem: DiscreteProblem) -> tuple[float, float, float]:
    """(tau, zeta, kappa) of a discrete problem for the erasing strategy with population labels."""
    p0, g = problem.p0, problem.g
    marginal = problem.marginal
    played = problem.collective_labels("erasing")[g]  # y~(g(x)) for every x
    tau_value = float(np.sum(p0.max(axis=1) - p0[np.arange(problem.n_points), played]))
    fixed = (g[g] == g) & (marginal[g] > 0)  # g(x) is a fixed point of g seen under P0
    zeta_value = float(marginal[~fixed].sum())
    points = np.unique(g[fixed])
    kappa_value = float(np.max(problem.signal_law[points] / marginal[points])) if len(points) else 1.0
    return max(tau_value, 0.0), min(zeta_value, 1.0), max(kappa_value, 1.0)


# ------------------------------------------------------------------------------------------
# Numeric bounds


def _numeric(formula: Formula, *args):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _checks.scalar_or_array(np.asarray(formula.numeric(*args), dtype=float))


def feature_only_bound(alpha, delta_value, xi_value, p, xi_target, epsilon=0.0, definition: str = "contamination"):
    """The feature-only bound, vectorised (-inf where p = 0: no member can plant)."""
    check_choice("definition", definition, DEFINITIONS)
    a = _checks.open_unit("alpha", alpha)
    out = _numeric(feature_only_bound_formula(definition, True), a, _checks.closed_unit("delta", delta_value),
                   _checks.closed_unit("xi", xi_value), _checks.closed_unit("p", p),
                   _checks.closed_unit("xi_t", xi_target), _checks.epsilon(epsilon))
    return np.where(np.asarray(p) == 0, -np.inf, out) if np.ndim(out) else (-math.inf if p == 0 else out)


def unplanting_bound(alpha, gamma_value, xi_value, epsilon=0.0, definition: str = "contamination"):
    """The unplanting bound (population labels), vectorised."""
    check_choice("definition", definition, DEFINITIONS)
    return _numeric(unplanting_bound_formula(definition, True), _checks.open_unit("alpha", alpha),
                    _checks.closed_unit("Gamma", gamma_value), _checks.closed_unit("xi", xi_value),
                    _checks.epsilon(epsilon))


def erasing_bound(alpha, tau_value, zeta_value, kappa_value=1.0, epsilon=0.0, definition: str = "contamination"):
    """The erasing bound, vectorised."""
    check_choice("definition", definition, DEFINITIONS)
    k = _checks.as_float_array("kappa", kappa_value)
    if np.any(k < 1):
        raise InputError(f"kappa must be >= 1 (a fixed point is its own preimage), got {kappa_value!r}")
    return _numeric(erasing_bound_formula(definition, True), _checks.open_unit("alpha", alpha),
                    _checks.closed_unit("tau", tau_value), _checks.closed_unit("zeta", zeta_value), k,
                    _checks.epsilon(epsilon))


def population_bound(problem: DiscreteProblem, alpha, strategy: str, epsilon=0.0, definition: str = "contamination"):
    """The Hardt-form lower bound on the strategy's success, from the problem's constants."""
    check_choice("strategy", strategy, BOUNDED_STRATEGIES)
    if strategy == "feature-label":
        d, x = hardt_constants(problem)
        return hardt_bound(alpha, d, x, epsilon, definition)
    if strategy == "feature-only":
        return feature_only_bound(alpha, *feature_only_constants(problem), epsilon, definition)
    if strategy == "unplanting":
        return unplanting_bound(alpha, *unplanting_constants(problem), epsilon, definition)
    return erasing_bound(alpha, *erasing_constants(problem), epsilon, definition)


def _root_or_inf(raw) -> float:
    raw = float(raw)
    return raw if (math.isfinite(raw) and 0.0 <= raw < 1.0) else math.inf


def population_critical_mass(problem: DiscreteProblem, target_success: float, strategy: str, epsilon=0.0,
                             definition: str = "contamination") -> float:
    """Smallest alpha whose Hardt-form bound reaches ``target_success`` (inf if none below 1)."""
    check_choice("strategy", strategy, BOUNDED_STRATEGIES)
    s = float(_checks.half_open_unit("target", target_success))
    e = float(_checks.epsilon(epsilon))
    if strategy == "feature-label":
        return float(critical_mass(*hardt_constants(problem), s, e, definition))
    if strategy == "unplanting":  # Hardt's planting form with Delta -> Gamma
        return float(critical_mass(*unplanting_constants(problem), s, e, definition))
    with np.errstate(divide="ignore", invalid="ignore"):
        if strategy == "feature-only":
            d, x, p, x_t = feature_only_constants(problem)
            if p * (1 - s) <= x_t:
                return math.inf
            if d * x == 0 and e == 0:
                return 0.0
            return _root_or_inf(feature_only_critical_mass_formula(definition, True).numeric(d, x, p, x_t, s, e))
        t, z, k = erasing_constants(problem)
        if t == 0 and e == 0:
            return 0.0 if z <= 1 - s else math.inf
        return _root_or_inf(erasing_critical_mass_formula(definition, True).numeric(t, z, s, k, e))
