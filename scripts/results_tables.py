"""Print the numbers of docs/RESULTS.md from stored results (no computation, no CLI).

    python scripts/results_tables.py results/report-full [results/report-quick ...]

For every claim store found under each folder (``<folder>/c1`` ... ``<folder>/c5``), prints one
Markdown table per experiment: per curve (``series``) and alpha, the mean success over seeds with
its 95% Student-t interval (and the attack success where the rows have it), the mean clean accuracy (and worst-group accuracy where defined) with
theirs, theory's prediction or bound where the rows carry them, and the number of seeds. Then the
agreement statistics the C5 claim is judged by: the largest |measured - exact| success in Monte
Carlo standard errors, the largest |measured - predicted| alpha_eff, and bound violations. It
ends with the wall time of each experiment (sum over its cells of the stored per-cell wall time).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from collective_action.figures.common import curve_labels, interval_95, numeric
from collective_action.runs.sweep import read_results


def fmt_interval(values, se=None, bounds=(0.0, 1.0)) -> str:
    """mean [95% interval]; every column tabulated here is a rate, so the interval is cut to [0, 1]."""
    mean, lo, hi, n = interval_95(list(values), None if se is None else list(se), bounds)
    if n == 0 or mean != mean:
        return "-"
    if n == 1 and lo == hi:
        return f"{mean:.3f}"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def mean_or_dash(values) -> str:
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    return f"{v.mean():.3f}" if len(v) else "-"


def experiment_table(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    frame["curve"] = curve_labels(frame, with_learner=True)
    cols = ["curve", "alpha", "n", "success (95% CI)"]
    has_attack = numeric(frame, "attack_success").notna().any() if "attack_success" in frame else False
    if has_attack:  # the empirical pillar's tables: the attack-success convention beside Hardt's
        cols.append("attack success (95% CI)")
    cols.append("clean acc. (95% CI)")
    has_wg = numeric(frame, "worst_group_accuracy").notna().any()
    has_theory = numeric(frame, "success_theory").notna().any()
    has_bound = numeric(frame, "success_bound").notna().any()
    has_aeff = numeric(frame, "alpha_eff_measured").notna().any()
    if has_wg:
        cols.append("worst-group acc.")
    if has_theory:
        cols.append("theory")
    if has_bound:
        cols.append("bound")
    if has_aeff:
        cols += ["alpha_eff measured", "alpha_eff predicted"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for (curve, alpha), g in frame.groupby(["curve", "alpha"], sort=True):
        cells = [str(curve), f"{alpha:g}", str(g["seed"].nunique()),
                 fmt_interval(numeric(g, "success"), numeric(g, "success_se"))]
        if has_attack:
            cells.append(fmt_interval(numeric(g, "attack_success")))
        cells.append(fmt_interval(numeric(g, "clean_accuracy")))
        if has_wg:
            cells.append(fmt_interval(numeric(g, "worst_group_accuracy")))
        if has_theory:
            cells.append(mean_or_dash(numeric(g, "success_theory")))
        if has_bound:
            cells.append(mean_or_dash(numeric(g, "success_bound")))
        if has_aeff:
            cells += [mean_or_dash(numeric(g, "alpha_eff_measured")), mean_or_dash(numeric(g, "alpha_eff_predicted"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_stats(frame: pd.DataFrame) -> list[str]:
    """One line per curve: measured vs theory's success (in SEs), bound violations, alpha_eff gaps."""
    out = []
    frame = frame[frame["pillar"].astype(str) != "theory"]
    labels = curve_labels(frame, with_learner=True)
    for label in sorted(labels.unique()):
        g = frame[labels == label]
        s, t = numeric(g, "success"), numeric(g, "success_theory")
        se = np.hypot(numeric(g, "success_se").fillna(0), numeric(g, "success_theory_se").fillna(0))
        ok = s.notna() & t.notna()
        parts = []
        if ok.any():
            diff = (s - t).abs()[ok]
            z = (diff / se[ok].where(se[ok] > 0)).dropna()
            parts.append(f"success vs theory: max |diff| {diff.max():.4f}"
                         + (f" = {z.max():.2f} SE" if len(z) else ""))
        b = numeric(g, "success_bound")
        okb = s.notna() & b.notna()
        if okb.any():
            above = (b - s - 3 * numeric(g, "success_se").fillna(0))[okb] > 0
            parts.append(f"bound above success + 3 SE in {int(above.sum())} of {int(okb.sum())} rows")
        m, p = numeric(g, "alpha_eff_measured"), numeric(g, "alpha_eff_predicted")
        oka = m.notna() & p.notna()
        if oka.any():
            parts.append(f"alpha_eff |measured - predicted| max {(m - p).abs()[oka].max():.4f}")
        if parts:
            out.append(f"{label}: " + "; ".join(parts))
    return out


def report(folder: Path) -> None:
    for claim_dir in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "results.sqlite").exists()):
        frame = read_results(claim_dir)
        print(f"\n## {claim_dir.name.upper()} ({folder})\n")
        for name, g in frame.groupby("experiment", sort=True):
            # a cell's wall time is repeated on each of its rows: count every cell once
            cells = g.drop_duplicates("cell_id") if "cell_id" in g else g
            wall = float(pd.to_numeric(cells["wall_s"], errors="coerce").sum()) if "wall_s" in g else math.nan
            sizes = ", ".join(f"{c}={sorted(set(pd.to_numeric(g[c], errors='coerce').dropna().astype(int)))}"
                              for c in ("n_train", "n_test", "epochs", "steps") if c in g and numeric(g, c).notna().any())
            print(f"### {name}: {len(g)} rows, {g['seed'].nunique()} seeds, summed cell wall time (cells counted once) {wall:.0f} s; {sizes}\n")
            print(experiment_table(g))
            for line in agreement_stats(g):
                print(f"\n- {line}")
            print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/results_tables.py RESULTS_DIR [RESULTS_DIR ...]")
    for arg in sys.argv[1:]:
        report(Path(arg))
