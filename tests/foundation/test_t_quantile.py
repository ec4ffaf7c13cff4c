"""collective_action/t_quantile.py: Student's t quantile without scipy, equal to scipy's."""

import math

import numpy as np
import pytest
from scipy.special import stdtrit

from collective_action.t_quantile import MAX_DF, regularized_beta, t_quantile, t_upper_tail


def test_equal_to_scipy_where_intervals_use_it():
    """The 97.5% quantile for 1..1000 seeds' degrees of freedom, to 1e-12 relative."""
    for df in range(1, MAX_DF + 1):
        assert t_quantile(0.975, df) == pytest.approx(stdtrit(df, 0.975), rel=1e-12, abs=0)


@pytest.mark.parametrize("p", [1e-6, 0.025, 0.4, 0.5001, 0.6, 0.9, 0.95, 0.99, 0.995, 0.9995])
def test_equal_to_scipy_over_levels_and_fractional_df(p):
    for df in [1, 2, 3, 4, 5, 7, 10, 30, 100, 0.5, 1.5, 2.5, 3.7, 250.5, 999]:
        assert abs(t_quantile(p, df) - stdtrit(df, p)) <= 1e-9 * max(1.0, abs(stdtrit(df, p)))


def test_symmetry_centre_and_known_values():
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.1, 9) == -t_quantile(0.9, 9)
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174698, rel=1e-13)   # tan(0.475 pi)
    assert t_quantile(0.975, 4) == pytest.approx(2.7764451051977987, rel=1e-13)   # the 5-seed interval
    assert t_quantile(0.975, 2000) == pytest.approx(stdtrit(2000, 0.975), rel=1e-12)  # past MAX_DF: scipy


def test_the_tail_inverts_the_quantile_and_the_beta_is_a_cdf():
    for df in (3, 12, 80):
        for p in (0.7, 0.975, 0.999):
            assert t_upper_tail(t_quantile(p, df), df) == pytest.approx(1 - p, rel=1e-10)
    xs = np.linspace(0, 1, 41)
    values = [regularized_beta(2.5, 0.5, x) for x in xs]
    assert values[0] == 0.0 and values[-1] == 1.0 and all(np.diff(values) >= 0)
    # I_x(1, b) = 1 - (1 - x)^b in closed form
    assert regularized_beta(1.0, 3.5, 0.3) == pytest.approx(1 - 0.7 ** 3.5, rel=1e-13)


@pytest.mark.parametrize("p, df", [(0.0, 3), (1.0, 3), (0.5, 0), (0.9, -1), (math.nan, 3)])
def test_bad_arguments_raise(p, df):
    with pytest.raises(ValueError):
        t_quantile(p, df)
