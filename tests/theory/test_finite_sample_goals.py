"""Feature-only and adaptive-unplanting bounds (theory/finite_sample_goals.py), by hand and symbolically."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from collective_action.errors import InputError
from collective_action.theory import finite_sample_goals as goals
from collective_action.theory.finite_sample import finite_sample_bound_from_estimates


def _r(k, delta=0.05, events=32):
    return math.sqrt(math.log(events / delta) / (2 * k))


def test_unplanting_radius_solves_hoeffding_with_its_union_bound():
    f = goals.unplanting_radius()
    k, delta, nx = f.symbols
    tail = sp.exp(-2 * k * f.expr ** 2)
    assert sp.simplify(tail - delta / (2 + 6 * nx)) == 0
    assert f.numeric(1000.0, 0.05, 5.0) == pytest.approx(_r(1000))


MASS = np.array([0.17, 0.18, 0.17, 0.17, 0.31])
GAP = np.array([0.003, 0.003, -0.001, 0.004, 0.009])


@pytest.mark.parametrize("n,n_est", [(30_000, 2_000), (60_000, 100), (200_000, 10_000)])
def test_unplanting_bound_by_hand(n, n_est):
    N, nt = 1_000_000, 100_000
    m = n - n_est
    coded_margin = (n / N) * (MASS - 2 * _r(n)) - ((N - n) / N) * (GAP + _r(n) + _r(m) + 2 * _r(N - n))
    coded = (MASS * (coded_margin > 0)).sum() * m / n - _r(n) - _r(nt)
    size = N - n_est
    fixed_margin = (m / size) * (MASS - 2 * _r(m)) - ((N - n) / size) * (GAP + _r(n_est) + _r(m) + 2 * _r(N - n))
    fixed = (MASS * (fixed_margin > 0)).sum() - _r(m) - _r(nt)
    got = [goals.unplanting_bound_from_estimates(MASS, GAP, n, n_est, N, nt, 0.05, 0.0, 5, version=v)
           for v in goals.UNPLANTING_VERSIONS]
    assert got == pytest.approx([coded, fixed], abs=1e-12)


def test_feature_only_bound_is_the_planting_margin_with_its_own_mass():
    N, nt, n = 1_000_000, 100_000, 150_000
    planted = MASS * 0.45
    fo = goals.feature_only_bound_from_estimates(MASS, planted, GAP, n, N, nt, 0.05, 0.0, 5, 4)
    # summing over the same points as planting with P*_hat = planted, but counting MASS
    r = lambda k: math.sqrt(math.log(52 / 0.05) / (2 * k))
    margin = (n / N) * (planted - 2 * r(n)) - ((N - n) / N) * (GAP + 2 * r(n) + 2 * r(N - n))
    assert fo == pytest.approx((MASS * (margin > 0)).sum() - r(n) - r(nt), abs=1e-12)
    # with planted == mass it is exactly the planting bound
    assert goals.feature_only_bound_from_estimates(MASS, MASS, GAP, n, N, nt, 0.05, 0.0, 5, 4) == pytest.approx(
        finite_sample_bound_from_estimates(MASS, GAP, n, N, nt, 0.05, 0.0, 5, 4), abs=1e-12)


def test_margins_are_monotone_in_the_gap_and_reject_bad_sizes():
    for version in goals.UNPLANTING_VERSIONS:
        f = goals.unplanting_margin(version)
        assert sp.diff(f.expr, f.symbols[1]).free_symbols.isdisjoint({f.symbols[1]})
        assert f.numeric(0.2, 0.0, 100_000, 1000, 1_000_000, 0.05, 0.0, 5) > f.numeric(
            0.2, 0.01, 100_000, 1000, 1_000_000, 0.05, 0.0, 5)
    with pytest.raises(InputError):
        goals.unplanting_margin("paper")
    with pytest.raises(InputError):
        goals.unplanting_bound_from_estimates(MASS, GAP, 1000, 1000, 10_000, 1000)
    with pytest.raises(InputError):
        goals.unplanting_bound_from_estimates(MASS, GAP, 10_000, 100, 10_000, 1000)
