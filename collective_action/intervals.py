"""95% intervals over seeds, one definition for every summary table and figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def mean_interval(values) -> tuple[float, float, float]:
    """(mean, low, high): two-sided 95% Student-t interval of the mean over seeds.

    NaN entries are dropped; with a single value the interval is (NaN, NaN) — one seed says
    nothing about seed-to-seed spread.
    """
    v = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna(), dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half
