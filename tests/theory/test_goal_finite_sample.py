"""Gauthier et al.'s finite-sample bounds for general discrete problems (theory/finite_sample_goals.py):
feature-only with the kept rows, unplanting as Theorem 3.7 prints it, erasing (Theorem 3.9), and
the estimates the collective computes from its own count tables. Checked symbolically and by hand;
their validity over repeated draws is tested in tests/simulate/test_goals_simulation.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from collective_action import InputError
from collective_action.theory import finite_sample_goals as goals
from collective_action.theory.finite_sample import finite_sample_margin


def _r(k, events, delta=0.05):
    return math.sqrt(math.log(events / delta) / (2 * k))


def test_feature_only_margin_adds_only_the_kept_rows_to_theorem_3_5():
    f = goals.feature_only_margin()
    khat = f.symbols[1]
    assert sp.simplify(f.expr.subs(khat, 0) - finite_sample_margin().expr) == 0
    n, big_n = f.symbols[3], f.symbols[4]
    assert sp.simplify(sp.diff(f.expr, khat) + n / big_n) == 0  # each kept rival share costs n/N


def test_feature_only_bound_with_kept_rows_by_hand():
    mass, planted, gap, kept = (np.array([0.6, 0.4]), np.array([0.3, 0.25]), np.array([-0.2, 0.15]),
                                np.array([0.1, 0.02]))
    n, big_n, nt = 40_000, 100_000, 20_000
    events = 2 + 2 * 2 + 2 * 2 * 3
    r = lambda k: _r(k, events)  # noqa: E731
    margin = (n / big_n) * (planted - 2 * r(n) - kept) - ((big_n - n) / big_n) * (gap + 2 * r(n) + 2 * r(big_n - n))
    expected = (mass * (margin > 0)).sum() - r(n) - r(nt)
    got = goals.feature_only_bound_from_estimates(mass, planted, gap, n, big_n, nt, 0.05, 0.0, 2, 3,
                                                  kept_rival_hat=kept)
    assert got == pytest.approx(expected, abs=1e-12)
    assert margin[0] > 0 > margin[1]
    # the kept rows can only lower the bound
    assert got <= goals.feature_only_bound_from_estimates(mass, planted, gap, n, big_n, nt, 0.05, 0.0, 2, 3)


def test_unplanting_theorem_version_by_hand():
    mass, gap = np.array([0.5, 0.3, 0.2]), np.array([-0.05, 0.02, 0.001])
    n, n_est, big_n, nt = 30_000, 2_000, 100_000, 50_000
    events = 2 + 6 * 3
    r = lambda k: _r(k, events)  # noqa: E731
    margin = (n / big_n) * (mass - 2 * r(n)) - ((big_n - n) / big_n) * (gap + 2 * r(n - n_est) + 2 * r(big_n - n))
    expected = (mass * (margin > 0)).sum() - r(n) - r(nt)
    got = goals.unplanting_bound_from_estimates(mass, gap, n, n_est, big_n, nt, 0.05, 0.0, 3, version="theorem")
    assert got == pytest.approx(expected, abs=1e-12)
    assert goals.UNPLANTING_VERSIONS == ("as-coded", "corrected")  # the car family's, unchanged


def test_unplanting_n_est_trade_off_in_the_formula():
    """With the estimates fixed, a larger n_est only costs (R(n - n_est) grows): the gain of a larger
    n_est is a better y^, which only a simulation shows (tests/simulate)."""
    mass, gap = np.array([0.5, 0.5]), np.array([0.05, 0.06])
    bounds = [goals.unplanting_bound_from_estimates(mass, gap, 20_000, ne, 100_000, 10**6, version="theorem")
              for ne in (10, 1000, 10_000, 19_000)]
    assert np.all(np.diff(bounds) <= 1e-12) and bounds[0] > bounds[-1]


def test_erasing_radius_sample_size_and_bound_by_hand():
    r = goals.erasing_radius()
    k, delta, nx, ns, ny = r.symbols
    assert sp.simplify(sp.exp(-2 * k * r.expr ** 2) - delta / (2 + ns * ny + 2 * nx + 2 * nx * ny)) == 0
    events = 2 + 2 * 3 + 2 * 4 + 2 * 4 * 3
    assert r.numeric(5000.0, 0.05, 4, 2, 3) == pytest.approx(_r(5000, events))
    size = goals.erasing_sample_size()
    k_min = size.numeric(0.05, 0.05, 4, 2, 3)
    assert k_min == pytest.approx(2 * math.log(events / 0.05) / 0.05 ** 2)
    assert 2 * r.numeric(k_min, 0.05, 4, 2, 3) == pytest.approx(0.05)  # 2 R(k) = eta exactly there
    assert np.isfinite(size.numeric(0.001, 0.05, 40, 10, 5))  # no overflow for tiny margins
    mass, gap = np.array([0.3, 0.3, 0.2, 0.2]), np.array([-0.2, 0.01, -0.05, 0.1])
    n, big_n, nt = 30_000, 100_000, 20_000
    rr = lambda kk: _r(kk, events)  # noqa: E731
    margin = (n / big_n) * (mass - 2 * rr(n)) - ((big_n - n) / big_n) * (gap + 2 * rr(n) + 2 * rr(big_n - n))
    expected = (mass * (margin > 0)).sum() - rr(n) - rr(nt)
    got = goals.erasing_bound_from_estimates(mass, gap, n, big_n, nt, 0.05, 0.0, n_points=4, signal_set_size=2,
                                             n_labels=3)
    assert got == pytest.approx(expected, abs=1e-12)


def test_estimates_from_count_tables_by_hand():
    members = np.array([[10, 5, 0], [2, 20, 3], [0, 1, 9]])
    g = np.array([1, 1, 2])
    e = goals.planting_estimates(members, g, target=0)
    n = members.sum()
    assert e["points"].tolist() == [1, 2]
    np.testing.assert_allclose(e["mass"], [40 / n, 10 / n])
    np.testing.assert_allclose(e["gap"], [(20 - 2) / n, (9 - 0) / n])
    fo = goals.planting_estimates(members, g, target=0, kept_in_place=True)
    np.testing.assert_allclose(fo["planted"], [12 / n, 0 / n])  # y* members of x = 0, 1 plant at 1
    np.testing.assert_allclose(fo["kept_rival"], [20 / n, 9 / n])
    est, rest = np.array([[1, 0, 2], [0, 1, 3], [1, 0, 0]]), members
    u = goals.unplanting_estimates(est, rest, g, target=0)
    assert u["labels"].tolist() == [2, 2, 1]  # argmax over labels 1, 2; an all-zero row -> label 1
    np.testing.assert_allclose(u["gap"], [(2 - 3) / n, (0 - 1) / n])
    np.testing.assert_allclose(u["mass"], [(40 + 7) / (n + 8), (10 + 1) / (n + 8)])
    er = goals.erasing_estimates(members, g)
    assert er["labels"].tolist() == [0, 1, 2]
    # x = 0 plays y^*(g(0)) = y^*(1) = 1: gap = 10 - 5; x = 1 plays 1: 3 - 20; x = 2 plays 2: 1 - 9
    np.testing.assert_allclose(er["gap"], [5 / n, -17 / n, -8 / n])
    with pytest.raises(InputError):
        goals.erasing_estimates(np.zeros((3, 3)), g)
