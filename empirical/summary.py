"""Seed-averaged summary of empirical result rows: means with 95% intervals over seeds."""

from __future__ import annotations

import pandas as pd

from collective_action.intervals import bounds_for, mean_interval

SUMMARY_COLUMNS = ("success", "clean_accuracy", "worst_group_accuracy", "alpha_eff_measured", "alpha_eff_predicted")


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
            m, lo, hi = mean_interval(pd.to_numeric(group[col], errors="coerce"), bounds_for(col))
            rec[col], rec[col + "_lo"], rec[col + "_hi"] = m, lo, hi
        records.append(rec)
    return pd.DataFrame.from_records(records)
