"""theory.several: several collectives and coordination noise on discrete problems."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from collective_action import theory
from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError
from collective_action.theory import several as sev


def random_several(rng, n_points=None, n_labels=None, K=None) -> sev.SeveralProblem:
    """A random problem with 2-3 collectives: same signal (tug of war), disjoint or random signals, noise."""
    return sev.SeveralProblem.random(rng, clean_share=0.4, max_noise=0.7, n_points=n_points, n_labels=n_labels,
                                     n_collectives=K)


def test_one_collective_reduces_to_bayes_and_hardt():
    rng = np.random.default_rng(11)
    for _ in range(200):
        d = DiscreteProblem.random(rng, int(rng.integers(2, 9)), int(rng.integers(2, 5)),
                                   target=0)
        for a in (1e-3, 0.05, 0.3, 0.8):
            p = sev.SeveralProblem.from_discrete(d, a)
            assert sev.success(p)[0] == pytest.approx(theory.bayes_success(d, a), abs=1e-12)
            assert sev.success_per_point(p)[0] == pytest.approx(theory.bayes_success(d, a), abs=1e-12)
            assert sev.clean_accuracy(p) == pytest.approx(theory.bayes_clean_accuracy(d, a), abs=1e-12)
            hardt = theory.hardt_bound(a, *theory.hardt_constants(d))
            b = sev.bounds(p)
            assert b["base"][0] == pytest.approx(hardt, rel=1e-9, abs=1e-12)
            assert b["shares"][0] == pytest.approx(hardt, rel=1e-9, abs=1e-12)


def test_classifier_matches_bayes_classifier_with_one_target_including_ties():
    rng = np.random.default_rng(3)
    # few distinct values make exact ties frequent
    tables = rng.integers(0, 3, size=(500, 6, 4)).astype(float)
    for t in range(4):
        assert np.array_equal(sev.classifier(tables, [t]), theory.bayes_classifier(tables, against=t))
        assert np.array_equal(sev.classifier(tables, [t], tol=0.0), theory.bayes_classifier(tables, against=t, tol=0.0))


def test_tie_rule_with_several_targets():
    # labels 0, 1 are targets, 2 is not
    assert sev.classifier([[3.0, 3.0, 1.0]], [0, 1])[0] == 0  # tie between targets only: the first
    assert sev.classifier([[3.0, 1.0, 3.0]], [0, 1])[0] == 2  # a tie with a non-target goes against both
    assert sev.classifier([[3.0, 3.0, 3.0]], [0, 1])[0] == 2
    assert sev.classifier([[3.0, 4.0, 3.0]], [0, 1])[0] == 1  # a strict win
    assert sev.classifier([[1.0, 2.0]], [0, 1])[0] == 1  # every label a target: the maximiser


# ------------------------------------------------------------------------------------------
# Derivations


def test_threshold_reduces_to_per_point_threshold():
    th = sev.threshold_formula()
    eta, a_o, pk, p0t, p0r, nt, nr, ot, or_ = th.symbols
    single = th.expr.subs({eta: 0, a_o: 0, ot: 0, or_: 0})
    ref = theory.per_point_threshold()
    p_star, gap = ref.symbols
    assert sp.simplify(single - ref.expr.subs({p_star: pk, gap: p0r - p0t})) == 0


def test_threshold_flips_the_margin_numerically():
    """Below the derived alpha_k the rival wins at x', above it y*_k does (the others fixed)."""
    rng = np.random.default_rng(5)
    th, m = sev.threshold_formula(), sev.margin_formula()
    checked = 0
    for _ in range(300):
        v = rng.uniform(0.0, 0.3, size=7)  # p_k, p0_t, p0_r, n_t, n_r, O_t, O_r
        eta, a_o = rng.uniform(0, 0.5), rng.uniform(0, 0.3)
        root = th.numeric(eta, a_o, *v)
        slope = m.numeric(1.0, eta, a_o, *v) - m.numeric(0.0, eta, a_o, *v)
        if not (0.01 < root < 1 - a_o - 0.01) or slope <= 0:
            continue
        assert m.numeric(root * 0.99, eta, a_o, *v) < 0 < m.numeric(root * 1.01, eta, a_o, *v)
        checked += 1
    assert checked > 20


def test_bound_formulas_reduce_to_hardt():
    ref = theory.hardt_bound_formula("contamination", with_epsilon=False)
    a, d, x = ref.symbols
    base = sev.base_bound_formula()
    ak, eta, delta, xi = base.symbols
    assert sp.simplify(base.expr.subs(eta, 0) - ref.expr.subs({a: ak, d: delta, x: xi})) == 0
    sh = sev.shares_bound_formula()
    ak2, eta2, c0, delta2, xi2, r = sh.symbols
    single = sh.expr.subs({eta2: 0, r: 0, c0: 1 - ak2})
    assert sp.simplify(single - ref.expr.subs({a: ak2, d: delta2, x: xi2})) == 0


# ------------------------------------------------------------------------------------------
# Several collectives: enumeration, per-point condition, bounds


def test_per_point_condition_matches_enumeration_on_random_problems():
    rng = np.random.default_rng(21)
    for _ in range(1000):
        p = random_several(rng)
        np.testing.assert_allclose(sev.success_per_point(p), sev.success(p), atol=1e-12)


def test_bounds_below_exact_success_and_ordered():
    rng = np.random.default_rng(22)
    informative = 0
    for _ in range(1000):
        p = random_several(rng)
        s = sev.success(p)
        b = sev.bounds(p)
        for key in ("base", "integrated", "shares"):
            assert np.all(b[key] <= s + 1e-9), (key, b[key], s)
        # the integrated gap is the sum the other two bound from above
        assert np.all(b["integrated"] >= b["base"] - 1e-9)
        assert np.all(b["integrated"] >= b["shares"] - 1e-9)
        informative += int((b["shares"] > 0).sum())
    assert informative > 100  # the bounds say something on a good share of the problems


def test_other_collective_matters_tug_of_war():
    """Same signal, different targets: the larger effective share wins the signal points (P0 aside)."""
    p0 = np.full((4, 3), 1 / 12)
    g = np.array([0, 0, 0, 0])
    weak, strong = sev.Collective(0.1, g, 1), sev.Collective(0.2, g, 2)
    s = sev.success(sev.SeveralProblem(p0, (weak, strong)))
    assert s.tolist() == [0.0, 1.0]
    # noise reverses it: 0.2 with 60% deviating plants less than 0.1 with none
    noisy = sev.Collective(0.2, g, 2, noise=0.6, kind="random-label")
    s = sev.success(sev.SeveralProblem(p0, (weak, noisy)))
    assert s.tolist() == [1.0, 0.0]


def test_noise_laws():
    rng = np.random.default_rng(1)
    p = random_several(rng, n_points=5, n_labels=3, K=2)
    for k, c in enumerate(p.collectives):
        pstar = p.pstar(k)
        assert pstar.sum() == pytest.approx(1.0)
        # the planted law is carried by g's image, except keep-label deviators at their own points
        if c.kind == "random-label" or c.noise == 0:
            outside = np.setdiff1d(np.arange(p.n_points), np.unique(c.g))
            assert np.all(pstar[outside] == 0)
    assert p.mixture().sum() == pytest.approx(1.0)
    for k in range(2):
        b = p.base_mass(k)
        assert b.sum() == pytest.approx(1 - p.collectives[k].effective)
        np.testing.assert_allclose(b + p.collectives[k].effective * p.planted(k), p.mixture(), atol=1e-15)


def test_invalid_problems():
    p0 = np.full((3, 2), 1 / 6)
    g = np.array([0, 0, 1])
    with pytest.raises(InputError):
        sev.SeveralProblem(p0, (sev.Collective(0.6, g, 0), sev.Collective(0.5, g, 1)))
    with pytest.raises(InputError):
        sev.SeveralProblem(p0, (sev.Collective(0.1, g, 0, noise=1.0),))
    with pytest.raises(InputError):
        sev.SeveralProblem(p0, (sev.Collective(0.1, g, 0, noise=0.1, kind="wander-off"),))
    with pytest.raises(InputError):
        sev.SeveralProblem(p0, (sev.Collective(0.1, g, 5),))
    with pytest.raises(InputError):
        sev.SeveralProblem(p0, ())
