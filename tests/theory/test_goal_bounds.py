"""Hardt-form population bounds for feature-only planting, unplanting and erasing
(theory/hardt_goals.py): the derivations, and the bounds against exact success on random problems.

Every check that a bound holds comes with a power check: a plausible but wrong form of the same
bound (a term dropped) is violated on the same problems, so the validity check could fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from collective_action import DiscreteProblem
from collective_action.theory import bayes_success, hardt_constants
from collective_action.theory import hardt_goals as hg
from collective_action.theory.bayes import goal_classifier, mixture_tables, success_of_classifier
from collective_action.theory.hardt import budget_term, hardt_bound_formula
from collective_action.theory.worst_case import attack

ALPHAS = np.array([0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 0.99])
DEFINITIONS = ("contamination", "tv")


def _random_problems(seed, count, max_points=6, max_labels=4, idempotent_share=0.5):
    """Random problems; some with rare or absent signal points, some with g idempotent."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n_points = int(rng.integers(1, max_points + 1))
        n_labels = int(rng.integers(2, max_labels + 1))
        conc = float(rng.choice([0.2, 1.0, 5.0]))
        problem = DiscreteProblem.random(rng, n_points, n_labels, conc, target=int(rng.integers(n_labels)))
        g = problem.g.copy()
        if rng.random() < idempotent_share:
            g[np.unique(g)] = np.unique(g)
        p0 = problem.p0.copy()
        if rng.random() < 0.3:
            p0[g] *= rng.random()
            p0 /= p0.sum()
        yield rng, DiscreteProblem(p0, g, problem.target)


# ------------------------------------------------------------------------------ derivations
@pytest.mark.parametrize("definition", DEFINITIONS)
@pytest.mark.parametrize("with_epsilon", [True, False])
def test_derived_forms_equal_the_stated_formulas(definition, with_epsilon):
    a, d, x, p, xt, e, s = sp.symbols("alpha Delta xi p xi_t epsilon S_t", positive=True)
    gam, tau, zeta, kap = sp.symbols("Gamma tau zeta kappa", nonnegative=True)
    c = budget_term(definition, with_epsilon).subs(sp.Symbol("epsilon", positive=True), e)
    fo = hg.feature_only_bound_formula(definition, with_epsilon).expr
    assert sp.simplify(fo - (1 - (d * x + a * xt + c) / (a * p))) == 0
    un = hg.unplanting_bound_formula(definition, with_epsilon).expr
    assert sp.simplify(un - (1 - ((1 - a) * gam * x + c) / a)) == 0
    # unplanting is Hardt's planting bound with Delta -> Gamma
    assert sp.simplify(un - hardt_bound_formula(definition, with_epsilon).expr.subs(d, gam)) == 0
    er = hg.erasing_bound_formula(definition, with_epsilon).expr
    k = kap if with_epsilon else 1
    assert sp.simplify(er - (1 - ((1 - a) * tau + k * c) / a - zeta)) == 0


def test_feature_only_failure_condition_from_the_scores():
    a = sp.Symbol("alpha", positive=True)
    pst, p0t, p0r = sp.symbols("Pstar_t P0_t P0_r", real=True)
    expr = hg.feature_only_failure_condition()
    # the target ties the rival exactly when alpha P*(x', y*) equals the condition
    tie = ((1 - a) * p0t + a * pst - p0r).subs(pst, expr / a).subs(sp.Symbol("D", real=True), p0r - p0t)
    assert sp.simplify(tie) == 0


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_critical_masses_solve_bound_equals_target(definition):
    fo = hg.feature_only_critical_mass_formula(definition, True)
    root = fo.expr
    bound = hg.feature_only_bound_formula(definition, True).expr
    names = {s.name: s for s in bound.free_symbols | root.free_symbols}
    assert sp.simplify(bound.subs(names["alpha"], root) - names["S_t"]) == 0
    er = hg.erasing_critical_mass_formula(definition, True)
    eb = hg.erasing_bound_formula(definition, True).expr
    names = {s.name: s for s in eb.free_symbols | er.expr.free_symbols}
    assert sp.simplify(eb.subs(names["alpha"], er.expr) - names["S_t"]) == 0


def test_lambdified_equals_substitution():
    rng = np.random.default_rng(0)
    for formula in (hg.feature_only_bound_formula(), hg.unplanting_bound_formula("tv"), hg.erasing_bound_formula()):
        for _ in range(5):
            values = {s.name: float(rng.uniform(0.05, 0.9)) for s in formula.symbols}
            if "kappa" in values:
                values["kappa"] += 1.0
            exact = float(formula.subs(**values))
            assert formula.numeric(*values.values()) == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_critical_mass_is_the_first_grid_alpha_reaching_the_target():
    grid = np.linspace(1e-4, 1 - 1e-4, 20_000)
    step = grid[1] - grid[0]
    checked = 0
    for rng, problem in _random_problems(7, 400, max_points=5):
        for strategy in ("feature-only", "unplanting", "erasing"):
            target = float(rng.uniform(0.05, 1.0))
            a_star = hg.population_critical_mass(problem, target, strategy)
            reached = hg.population_bound(problem, grid, strategy) >= target - 1e-12
            if not reached.any():
                assert a_star == np.inf or a_star > 1 - 2 * step
                continue
            if reached.all():
                assert a_star <= grid[0] + step
                continue
            assert abs(grid[np.argmax(reached)] - a_star) <= step + 1e-9, (strategy, target)
            checked += 1
    assert checked > 50


# ------------------------------------------------------------------------------ Bayes learner
def test_bounds_never_exceed_the_exact_bayes_success_and_dropped_terms_break_them():
    """3000 random problems x 10 alphas per strategy. Power: the forms without the terms the
    derivation adds are violated on the same problems (feature-only: the feature-label shape
    1 - (1-alpha) Delta xi / (alpha p); erasing: zeta dropped; unplanting: Gamma halved)."""
    broken = {"feature-only": 0, "erasing": 0, "unplanting": 0}
    smallest = {s: np.inf for s in broken}
    for _, problem in _random_problems(1, 3000):
        for strategy in broken:
            exact = bayes_success(problem, ALPHAS, strategy)
            bound = hg.population_bound(problem, ALPHAS, strategy)
            assert np.all(bound <= exact + 1e-9), (strategy, problem.p0, problem.g, problem.target)
            smallest[strategy] = min(smallest[strategy], float(np.min(exact - bound)))
        d, x, p, xt = hg.feature_only_constants(problem)
        if p > 0:
            naive = 1 - (1 - ALPHAS) * d * x / (ALPHAS * p)
            broken["feature-only"] += np.any(naive > bayes_success(problem, ALPHAS, "feature-only") + 1e-9)
        tau, zeta, kappa = hg.erasing_constants(problem)
        no_zeta = hg.erasing_bound(ALPHAS, tau, 0.0)
        broken["erasing"] += np.any(no_zeta > bayes_success(problem, ALPHAS, "erasing") + 1e-9)
        gamma, xi = hg.unplanting_constants(problem)
        halved = hg.unplanting_bound(ALPHAS, gamma / 2, xi)
        broken["unplanting"] += np.any(halved > bayes_success(problem, ALPHAS, "unplanting") + 1e-9)
    assert all(v > 20 for v in broken.values()), broken
    assert all(v < 1e-3 for v in smallest.values()), smallest  # nearly attained on some problem


def test_bounds_are_informative_on_problems_the_collective_can_win():
    """Not only vacuous: at alpha = 0.9 the bounds pass 0.5 on some random problems. Feature-only's
    rarely does (19 of 500 here): p = min_x P0(y*|x) is small on Dirichlet tables and xi_t / p
    stays in the bound at any alpha."""
    reached = {"feature-only": 0, "unplanting": 0, "erasing": 0}
    for _, problem in _random_problems(2, 500, idempotent_share=1.0):
        for strategy in reached:
            reached[strategy] += float(hg.population_bound(problem, 0.9, strategy)) > 0.5
    assert reached["feature-only"] >= 10 and reached["unplanting"] > 250 and reached["erasing"] > 250, reached


# ------------------------------------------------------------------------------ eps-suboptimal learners
def _perturbed(rng, table, eps, definition, count=12):
    others = rng.dirichlet(np.full(table.size, 0.3), size=count).reshape(count, *table.shape)
    if definition == "contamination":
        return (1 - eps) * table + eps * others
    tv = 0.5 * np.abs(others - table).sum(axis=(1, 2))
    lam = np.minimum(1.0, eps / np.maximum(tv, 1e-300))
    return (1 - lam[:, None, None]) * table + lam[:, None, None] * others


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_eps_bounds_hold_for_random_perturbations_and_feature_only_for_the_exact_adversary(definition):
    for rng, problem in _random_problems(3, 400, max_points=5):
        for alpha in (0.05, 0.3, 0.8):
            for eps in (0.001, 0.02, 0.2):
                worst = attack(problem, alpha, eps, definition, "feature-only")
                assert hg.population_bound(problem, alpha, "feature-only", eps, definition) <= worst.success + 1e-9
                for strategy in ("unplanting", "erasing"):
                    tables = _perturbed(rng, mixture_tables(problem, alpha, strategy), eps, definition)
                    success = success_of_classifier(problem, goal_classifier(problem, tables, strategy), strategy)
                    bound = hg.population_bound(problem, alpha, strategy, eps, definition)
                    assert np.all(bound <= success + 1e-9), (strategy, alpha, eps)


def test_erasing_needs_kappa_when_a_light_signal_point_carries_heavy_preimages():
    """An adversary that flips a fixed signal point z with P0(z) small takes all of g's preimage of
    z: the bound without kappa is then false, the bound with kappa holds."""
    p0 = np.array([[0.02, 0.0], [0.49, 0.0], [0.0, 0.49]])  # z = 0 is light; x = 1 maps to it
    problem = DiscreteProblem(p0, np.array([0, 0, 2]), 0)
    tau, zeta, kappa = hg.erasing_constants(problem)
    assert (tau, zeta) == (0.0, 0.0) and kappa == pytest.approx(25.5)
    alpha, eps = 0.5, 0.02
    table = mixture_tables(problem, alpha, "erasing")
    # contamination that lifts label 1 at z above y~(z) = 0: Q-mass (1 - eps) margin / eps there
    margin = table[0, 0] - table[0, 1]
    q = np.zeros_like(table)
    q[0, 1] = (1 - eps) * margin / eps * 1.01
    q[2, 1] += 1 - q.sum()
    attacked = (1 - eps) * table + eps * q
    success = float(success_of_classifier(problem, goal_classifier(problem, attacked, "erasing"), "erasing"))
    assert success == pytest.approx(0.51)  # x = 1 lost with z (z itself agrees with itself)
    assert hg.erasing_bound(alpha, tau, zeta, 1.0, eps) > success  # kappa dropped: violated
    assert hg.erasing_bound(alpha, tau, zeta, kappa, eps) <= success


# ------------------------------------------------------------------------------ constants and edges
def test_constants_by_hand():
    p0 = np.array([[0.1, 0.2, 0.0], [0.3, 0.1, 0.05], [0.05, 0.05, 0.15]])
    problem = DiscreteProblem(p0, np.array([1, 1, 2]), 0)
    d, x, p, xt = hg.feature_only_constants(problem)
    assert (d, x) == hardt_constants(problem)
    assert p == pytest.approx(0.05 / 0.25) and xt == pytest.approx(0.3 + 0.05)
    gamma, xi = hg.unplanting_constants(problem)
    assert gamma == pytest.approx((0.3 - 0.1) / 0.45) and xi == pytest.approx(0.7)
    tau, zeta, kappa = hg.erasing_constants(problem)
    # y~: point 1 -> label 0, point 2 -> label 2; x=0 plays y~(1)=0 (its max is 0.2: tau 0.1)
    assert tau == pytest.approx((0.2 - 0.1) + 0.0 + 0.0)
    assert zeta == 0.0 and kappa == pytest.approx((0.3 + 0.45) / 0.45)


def test_bounds_reject_bad_input_and_may_be_vacuous():
    from collective_action import InputError

    with pytest.raises(InputError):
        hg.erasing_bound(0.5, 0.1, 0.0, kappa_value=0.5)
    with pytest.raises(InputError):
        hg.population_bound(DiscreteProblem(np.array([[0.5, 0.5]]), np.array([0]), 0), 0.5, "bribe")
    assert hg.feature_only_bound(0.01, 1.0, 1.0, 0.1, 0.5) < -100
    assert hg.feature_only_bound(0.5, 0.2, 0.2, 0.0, 0.0) == -np.inf


# ------------------------------------------------------------------------------ theory pillar rows
@pytest.mark.parametrize("strategy", ["feature-label", "feature-only", "unplanting", "erasing"])
def test_theory_rows_carry_each_strategys_bound_and_goal(strategy):
    from collective_action.experiment import load_experiment
    from collective_action.theory.experiment import run_cells

    exp = load_experiment({"name": "goals", "pillar": "theory", "seeds": list(range(8)),
                           "config": {"random": {"n_points": 6, "n_labels": 3, "n_signal_points": 2,
                                                 "signal_mass": 0.1},
                                      "collective": {"alpha": 0.3, "strategy": strategy, "target": 0}}})
    rows = [r for cell_rows in run_cells(exp.cells()) for r in cell_rows]
    for r in rows:
        assert np.isfinite(r.extra["success_bound"]) or r.extra["success_bound"] == -np.inf
        assert r.extra["success_bound"] <= r.success + 1e-12
        assert r.extra["goal"] == {"feature-label": "plant", "feature-only": "plant", "unplanting": "unplant",
                                   "erasing": "erase"}[strategy]
    assert any(r.extra["success_bound"] > 0 for r in rows), strategy


def test_theory_pillar_keeps_the_exact_worst_case_for_the_planting_strategies():
    from collective_action import InputError
    from collective_action.experiment import load_experiment

    with pytest.raises(InputError, match="planting strategies"):
        load_experiment({"name": "t", "pillar": "theory", "config": {
            "random": {}, "epsilon": 0.1, "collective": {"alpha": 0.3, "strategy": "unplanting", "target": 0}}})
