"""Compare two stress tables (stress_table.csv) row by row: same rows, same numbers, same flags.

    python scripts/compare_stress_tables.py BEFORE/stress_table.csv AFTER/stress_table.csv

Rows are matched on (scenario, point, alpha_collective0, collective); numeric columns must agree to
1e-12 (relative), flags exactly. Exit status 1 on any difference, with the differences listed.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

KEY = ["scenario", "point", "alpha_collective0", "collective"]
NUMERIC = ["alpha", "alpha_realised", "alpha_effective", "seeds", "success_bound", "success_bound_se",
           "population_bound", "success_theory", "success_theory_se", "success", "success_lo", "success_hi",
           "success_se", "clean_accuracy", "clean_lo", "clean_hi", "tightness", "critical_mass",
           "alpha_eff_predicted", "alpha_eff_measured", "jtt_lambda_c", "not_converged_share"]


def main(before: str, after: str) -> int:
    a, b = pd.read_csv(before), pd.read_csv(after)
    a, b = a.set_index(KEY).sort_index(), b.set_index(KEY).sort_index()
    problems = []
    if set(a.index) != set(b.index):
        problems.append(f"rows differ: only before {sorted(set(a.index) - set(b.index))[:5]}, "
                        f"only after {sorted(set(b.index) - set(a.index))[:5]}")
    common = a.index.intersection(b.index)
    for col in NUMERIC:
        x, y = a.loc[common, col].to_numpy(float), b.loc[common, col].to_numpy(float)
        same = np.isclose(x, y, rtol=1e-12, atol=0, equal_nan=True)
        if not same.all():
            problems.append(f"{col}: {int((~same).sum())} rows differ, e.g. {list(common[~same][:2])}")
    fa = a.loc[common, "flags"].fillna("").astype(str)
    fb = b.loc[common, "flags"].fillna("").astype(str)
    if not (fa == fb).all():
        problems.append(f"flags differ in {int((fa != fb).sum())} rows: {list(common[fa != fb][:3])}")
    print(f"{len(common)} rows compared, {len(NUMERIC)} numeric columns and the flags")
    for p in problems:
        print("DIFF", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
