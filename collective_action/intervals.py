"""95% intervals over seeds, one definition for every summary table and figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .t_quantile import t_quantile  # scipy's stdtrit without importing scipy.special (start-up)


#: Result columns that are rates or shares, so their true mean lies in [0, 1].
UNIT_INTERVAL_COLUMNS = frozenset({
    "success", "attack_success", "clean_accuracy", "worst_group_accuracy",
    "alpha_eff_measured", "alpha_eff_predicted",
})  # not success_bound: a lower bound on success can be negative


def bounds_for(column: str) -> tuple[float, float] | None:
    """(0, 1) for a rate or share column, else None (no known range)."""
    return (0.0, 1.0) if column in UNIT_INTERVAL_COLUMNS else None


def mean_interval(values, bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """(mean, low, high): two-sided 95% Student-t interval of the mean over seeds.

    NaN entries are dropped; with a single value the interval is (NaN, NaN) — one seed says
    nothing about seed-to-seed spread. ``bounds`` is the range the true mean is known to lie in
    (``(0, 1)`` for a success rate or an accuracy): the interval is intersected with it. That
    cannot lower the coverage (the true mean is never in the part cut away), and it keeps a
    table from reporting a success interval of [0.33, 1.24] over five seeds.
    """
    v = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna(), dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(t_quantile(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return (m, *clip_interval(m - half, m + half, bounds))


def clip_interval(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    """(low, high) intersected with ``bounds``; unchanged when ``bounds`` is None or the interval
    does not meet it (values outside the range mean the column is not what ``bounds`` assumed)."""
    if bounds is None or high < bounds[0] or low > bounds[1]:
        return low, high
    return max(low, bounds[0]), min(high, bounds[1])
