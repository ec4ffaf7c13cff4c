"""The one 95% interval over seeds that summaries and figures share."""

import math

import numpy as np
import pytest
from scipy import stats

from collective_action.intervals import mean_interval


def test_t_interval_matches_scipy_and_drops_nans():
    values = [0.2, 0.4, float("nan"), 0.9]
    m, lo, hi = mean_interval(values)
    x = np.array([0.2, 0.4, 0.9])
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert m == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx(ref)


def test_one_seed_has_no_interval_and_none_has_no_mean():
    m, lo, hi = mean_interval([0.5])
    assert m == 0.5 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in mean_interval([]))
