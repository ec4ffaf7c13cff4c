"""Hardt's bounds against the exact success of the learners they assume, on random problems."""

import numpy as np
import pytest

from collective_action import DiscreteProblem
from collective_action.theory import (
    bayes_success,
    bayes_success_by_enumeration,
    critical_mass,
    hardt_bound,
    hardt_constants,
    per_point_threshold,
    worst_case_success,
)
from collective_action.theory.bayes import bayes_classifier, success_of_classifier, mixture_tables
from collective_action.theory.worst_case import attack, success_on_table

ALPHAS = np.array([0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 0.99])


def _random_problems(seed, count, max_points=6, max_labels=4):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n_points = int(rng.integers(1, max_points + 1))
        n_labels = int(rng.integers(2, max_labels + 1))
        conc = float(rng.choice([0.2, 1.0, 5.0]))
        problem = DiscreteProblem.random(rng, n_points, n_labels, conc, target=int(rng.integers(n_labels)))
        if rng.random() < 0.3:  # make some signal points rare or absent under P0
            p0 = problem.p0.copy()
            p0[problem.g] *= rng.random()
            p0 /= p0.sum()
            problem = DiscreteProblem(p0, problem.g, problem.target)
        yield rng, problem


def test_per_point_route_equals_enumeration_of_the_bayes_classifier():
    for _, problem in _random_problems(0, 1500):
        a = bayes_success(problem, ALPHAS)
        b = bayes_success_by_enumeration(problem, ALPHAS)
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_bayes_success_jumps_at_the_per_point_threshold():
    threshold = per_point_threshold()
    rng = np.random.default_rng(1)
    for _ in range(200):
        p0 = rng.dirichlet(np.ones(4)).reshape(2, 2) * 0.5
        p0 = np.vstack([p0, [[0.1, 0.4]]])
        p0 /= p0.sum()
        problem = DiscreteProblem(p0, np.array([2, 2, 2]), 0)  # one signal point, D > 0
        d = p0[2, 1] - p0[2, 0]
        a_c = threshold.numeric(1.0, d)
        assert 0 < a_c < 1
        assert bayes_success(problem, a_c * (1 - 1e-6)) == 0.0
        assert bayes_success(problem, min(a_c * (1 + 1e-6), 0.999999)) == pytest.approx(1.0)


def test_hardt_bound_never_exceeds_exact_bayes_success():
    worst_gap = np.inf
    broken_if_halved = 0  # power check: Delta xi / 2 in place of Delta xi must fail somewhere
    for _, problem in _random_problems(2, 3000):
        delta, xi = hardt_constants(problem)
        exact = bayes_success(problem, ALPHAS)
        bound = hardt_bound(ALPHAS, delta, xi)
        assert np.all(bound <= exact + 1e-9), (problem, bound, exact)
        broken_if_halved += np.sum(1 - (1 - ALPHAS) / ALPHAS * delta * xi / 2 > exact + 1e-9)
        worst_gap = min(worst_gap, float(np.min(exact - bound)))
    # The bound is not vacuous everywhere: somewhere it is tight to within 1e-6.
    assert worst_gap < 1e-6
    assert broken_if_halved > 0


def test_contamination_bound_holds_for_random_and_adversarial_q():
    count = 0
    broken_if_halved = 0  # power check: a bound with half the eps term must fail somewhere
    for rng, problem in _random_problems(3, 700, max_points=5):
        delta, xi = hardt_constants(problem)
        for alpha in (0.05, 0.3, 0.8):
            for eps in (0.001, 0.02, 0.2):
                bound = hardt_bound(alpha, delta, xi, eps, "contamination")
                table = mixture_tables(problem, alpha)
                qs = rng.dirichlet(np.full(table.size, 0.3), size=16).reshape(16, *table.shape)
                seen = (1 - eps) * table + eps * qs
                random_success = success_of_classifier(problem, bayes_classifier(seen, problem.target))
                worst = attack(problem, alpha, eps, "contamination")
                assert np.all(bound <= random_success + 1e-9)
                assert bound <= worst.success + 1e-9
                # Random Q never does better than the exact adversary.
                assert np.all(random_success >= worst.success - 1e-9)
                halved = hardt_bound(alpha, delta, xi, 0.0) - eps / (2 * (1 - eps) * alpha)
                broken_if_halved += halved > worst.success + 1e-9
                count += 1
    assert count == 700 * 9
    assert broken_if_halved > 0


def test_tv_bound_holds_for_adversarial_p_prime_and_random_moves():
    broken_by_contamination_form = 0
    for rng, problem in _random_problems(4, 600, max_points=5):
        delta, xi = hardt_constants(problem)
        for alpha in (0.05, 0.3, 0.8):
            for eps in (0.001, 0.02, 0.2):
                bound = hardt_bound(alpha, delta, xi, eps, "tv")
                worst = attack(problem, alpha, eps, "tv")
                assert bound <= worst.success + 1e-9
                wrong = hardt_bound(alpha, delta, xi, eps, "contamination")
                broken_by_contamination_form += wrong > worst.success + 1e-9
                table = mixture_tables(problem, alpha)
                # Random P' inside the TV ball: move mass eps toward random tables.
                others = rng.dirichlet(np.full(table.size, 0.3), size=16).reshape(16, *table.shape)
                tv = 0.5 * np.abs(others - table).sum(axis=(1, 2))
                lam = np.minimum(1.0, eps / np.maximum(tv, 1e-300))
                moved = (1 - lam[:, None, None]) * table + lam[:, None, None] * others
                random_success = success_of_classifier(problem, bayes_classifier(moved, problem.target))
                assert np.all(random_success >= worst.success - 1e-9)
    # The contamination bound is false for TV-suboptimal learners on these random problems too.
    assert broken_by_contamination_form > 0


def test_adversarial_tables_realise_the_claimed_worst_case():
    for _, problem in _random_problems(5, 400, max_points=6):
        for definition in ("contamination", "tv"):
            for alpha, eps in ((0.1, 0.01), (0.4, 0.1), (0.7, 0.3)):
                worst = attack(problem, alpha, eps, definition)
                assert success_on_table(problem, worst.table) == pytest.approx(worst.success, abs=1e-9)
                table = mixture_tables(problem, alpha)
                if definition == "tv":
                    assert 0.5 * np.abs(worst.table - table).sum() <= eps + 1e-12
                    assert worst.table.min() >= -1e-15
                else:
                    q = (worst.table - (1 - eps) * table) / eps
                    assert q.min() >= -1e-12 and q.sum() == pytest.approx(1.0)
                assert worst.success <= bayes_success(problem, alpha) + 1e-12


def test_tv_counterexample_breaks_the_contamination_bound():
    # One signal point (x'=2) absent from P0: D = 0, P* is a point mass, Delta = xi = 0.
    p0 = np.array([[0.3, 0.2], [0.1, 0.4], [0.0, 0.0]])
    problem = DiscreteProblem(p0, np.array([2, 2, 2]), 0)
    delta, xi = hardt_constants(problem)
    assert (delta, xi) == (0.0, 0.0)
    for eps in (0.01, 0.05, 0.1):
        alpha = 2 * eps
        contamination_bound = hardt_bound(alpha, delta, xi, eps, "contamination")
        assert contamination_bound == pytest.approx(1 - 1 / (2 * (1 - eps)))
        assert contamination_bound > 0.4
        assert worst_case_success(problem, alpha, eps, "tv") == 0.0  # TV adversary wins
        assert worst_case_success(problem, alpha, eps, "contamination") == 1.0
        assert hardt_bound(alpha, delta, xi, eps, "tv") <= 0.0 + 1e-12


def test_critical_mass_is_the_smallest_grid_alpha_reaching_the_target():
    rng = np.random.default_rng(6)
    grid = np.linspace(1e-5, 1 - 1e-5, 100_000)
    step = grid[1] - grid[0]
    checked = 0
    for _ in range(300):
        delta, xi = rng.random(2)
        target = float(rng.uniform(0.05, 1.0))
        eps = float(rng.choice([0.0, rng.uniform(0, 0.05)]))
        definition = str(rng.choice(["contamination", "tv"]))
        a_star = critical_mass(delta, xi, target, eps, definition)
        reached = hardt_bound(grid, delta, xi, eps, definition) >= target - 1e-12
        if not reached.any():
            assert a_star == np.inf or a_star > 1 - 2 * step
            continue
        first = grid[np.argmax(reached)]
        assert abs(first - a_star) <= step + 1e-9, (delta, xi, target, eps, definition)
        checked += 1
    assert checked > 100


def test_critical_mass_edge_cases():
    assert critical_mass(0.0, 0.5, 0.9) == 0.0          # the bound is 1 everywhere
    assert critical_mass(0.0, 0.5, 1.0, 0.01) == np.inf  # eps term keeps it below 1
    assert critical_mass(0.9, 0.9, 0.99, 0.2) == np.inf  # alpha* >= 1


def test_bound_may_be_negative_and_is_not_clipped():
    assert hardt_bound(0.001, 1.0, 1.0) < -100


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    weights=arrays(np.float64, (4, 3), elements=st.floats(0.0, 1.0)),
    g=arrays(np.int64, (4,), elements=st.integers(0, 3)),
    alpha=st.floats(1e-3, 0.999),
    eps=st.floats(0.0, 0.3),
)
def test_property_every_bound_below_its_learners_exact_success(weights, g, alpha, eps):
    if weights.sum() < 1e-6:
        return
    problem = DiscreteProblem(weights / weights.sum(), g, 0)
    delta, xi = hardt_constants(problem)
    assert hardt_bound(alpha, delta, xi) <= bayes_success(problem, alpha) + 1e-9
    for definition in ("contamination", "tv"):
        worst = worst_case_success(problem, alpha, eps, definition)
        assert hardt_bound(alpha, delta, xi, eps, definition) <= worst + 1e-9
        assert worst <= bayes_success(problem, alpha) + 1e-12
