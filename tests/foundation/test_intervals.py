"""The one 95% interval over seeds that summaries and figures share."""

import math

import numpy as np
import pytest
from scipy import stats

from collective_action.intervals import bounds_for, clip_interval, mean_interval


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


def test_rate_intervals_are_cut_to_the_unit_interval_only_where_they_leave_it():
    values = [0.05, 0.9, 1.0, 1.0, 0.98]             # wide spread near 1: the t-interval passes 1
    m, lo, hi = mean_interval(values)
    assert hi > 1.0
    mb, lob, hib = mean_interval(values, bounds_for("success"))
    assert (mb, lob) == (m, lo) and hib == 1.0
    low_values = [0.0, 0.0, 0.4]                     # and below 0 at the other end
    assert mean_interval(low_values)[1] < 0 and mean_interval(low_values, (0.0, 1.0))[1] == 0.0
    inside = [0.4, 0.5, 0.6]                         # an interval inside [0, 1] is untouched
    assert mean_interval(inside, (0.0, 1.0)) == mean_interval(inside)


def test_columns_without_a_known_range_are_not_cut():
    assert bounds_for("success") == (0.0, 1.0) and bounds_for("clean_accuracy") == (0.0, 1.0)
    assert bounds_for("success_bound") is None       # a lower bound on success can be negative
    assert clip_interval(-3.0, -2.0, (0.0, 1.0)) == (-3.0, -2.0)
