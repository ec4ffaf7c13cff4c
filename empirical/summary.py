"""Seed-averaged summary of empirical result rows: means with 95% intervals over seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ("success", "clean_accuracy", "worst_group_accuracy", "alpha_eff_measured", "alpha_eff_predicted")


def mean_interval(values) -> tuple[float, float, float]:
    """Mean and two-sided 95% Student-t interval over seeds (NaN half-width for one seed)."""
    v = np.asarray([x for x in values if x == x], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per curve point: seed count, and mean / 95% interval of the key columns.

    A curve is a series; when the rows vary the model or the signal as well (a grid over
    them), those columns split the curves too.
    """
    records = []
    keys = ["series"] if "series" in frame else ["learner"]
    keys += [c for c in ("model", "signal") if c in frame and frame[c].nunique() > 1]
    keys.append("alpha")
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        rec = dict(zip(keys, key))
        rec["seeds"] = int(group["seed"].nunique())
        for col in SUMMARY_COLUMNS:
            m, lo, hi = mean_interval(pd.to_numeric(group[col], errors="coerce"))
            rec[col], rec[col + "_lo"], rec[col + "_hi"] = m, lo, hi
        records.append(rec)
    return pd.DataFrame.from_records(records)
