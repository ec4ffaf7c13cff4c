"""Summaries of simulate results: mean and 95% interval over seeds per (series, alpha)."""

from __future__ import annotations

import math

import pandas as pd

from collective_action.intervals import bounds_for, mean_interval


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (learner, series, alpha): seeds, success and clean accuracy with 95% intervals, and the
    mean alpha_eff (measured, predicted) and theory's success where the rows carry them."""
    series = frame["series"].fillna("") if "series" in frame else frame["learner"]
    out = []
    keys = ["learner", "_series", "alpha"]
    for (learner, name, alpha), part in frame.assign(_series=series).groupby(keys, sort=True):
        s, s_lo, s_hi = mean_interval(part["success"], bounds_for("success"))
        c, c_lo, c_hi = mean_interval(part["clean_accuracy"], bounds_for("clean_accuracy"))
        row = {"learner": learner, "series": name, "alpha": float(alpha), "seeds": int(len(part)),
               "success": s, "success_lo": s_lo, "success_hi": s_hi,
               "clean_accuracy": c, "clean_lo": c_lo, "clean_hi": c_hi}
        for col in ("alpha_eff_measured", "alpha_eff_predicted", "success_theory", "success_bound"):
            if col in part:
                vals = pd.to_numeric(part[col], errors="coerce")
                row[col] = float(vals.mean()) if vals.notna().any() else math.nan
        out.append(row)
    return pd.DataFrame(out)
