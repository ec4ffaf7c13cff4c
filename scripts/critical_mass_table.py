"""Markdown tables of critical-mass searches (the critical_mass.csv that `collective-action critical-mass` writes).

    python scripts/critical_mass_table.py OUT1/critical_mass.csv [OUT2/critical_mass.csv ...]
"""

from __future__ import annotations

import math
import sys

import pandas as pd


def _fmt(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "-" if not math.isfinite(v) else f"{v:.3g}"


def table(path: str) -> str:
    t = pd.read_csv(path)
    lines = [f"`{t['experiment'].iloc[0]}`, metric `{t['metric'].iloc[0]}`: "
             f"{len(t)} searches", "",
             "| group | target | alpha* | 95% interval | status | clean acc. at alpha*_hi | theory alpha* | Hardt alpha* | trainings |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        group = str(r["group"]).replace("learner=", "")
        lines.append(f"| {group} | {r['target']:g} | {_fmt(r['alpha_star'])} | [{_fmt(r['alpha_star_lo'])}, "
                     f"{_fmt(r['alpha_star_hi'])}] | {r['status']} | {_fmt(r['clean_accuracy_at_hi'])} | "
                     f"{_fmt(r['theory_alpha_star'])} | {_fmt(r['hardt_alpha_star'])} | {r['trainings']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(table(p) for p in sys.argv[1:]))
