"""The critical-mass leaderboard: alpha*(target) with its interval per algorithm, theory beside it.

One panel per (experiment, target). A row is one group of the search (an algorithm, a data set or
signal, ...), sorted by the measured alpha*: the bar is the confidence interval [alpha*_lo,
alpha*_hi], the dot the point estimate; theory's prediction is an open diamond (the exact Bayes
alpha*, or for a reweighting algorithm the alpha at which its alpha_eff reaches ERM's alpha*),
Hardt's alpha* an open triangle. A search that did not close its bracket draws its bar hatched
grey, its status to the right; an end outside the searched range runs to the panel's edge. Reads the stored table (a DataFrame or critical_mass.csv).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .style import FIGURE_WIDTH, colour, paper_style, save_png_pdf


def _load(table) -> pd.DataFrame:
    return table if isinstance(table, pd.DataFrame) else pd.read_csv(Path(table))


def draw_leaderboard(table, out_stem, title: str = "Critical mass per learning algorithm") -> list[Path]:
    """Write ``out_stem``.png and .pdf; returns the two paths."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    frame = _load(table).copy()
    if frame.empty:
        raise ValueError("no critical-mass rows to draw")
    panels = list(frame.groupby(["experiment", "metric", "target"], sort=False))
    heights = [max(1.0, 0.28 * len(part) + 0.6) for _, part in panels]
    with paper_style():
        fig, axes = plt.subplots(len(panels), 1, figsize=(FIGURE_WIDTH, sum(heights) + 1.0),
                                 gridspec_kw={"height_ratios": heights}, layout="constrained", squeeze=False)
        for ax, ((experiment, metric, target), part) in zip(axes[:, 0], panels):
            part = part.assign(_order=part["alpha_star"].fillna(np.inf)).sort_values("_order", kind="stable")
            y = np.arange(len(part))[::-1]
            finite = pd.concat([part[c] for c in ("alpha_star_lo", "alpha_star_hi", "alpha_star", "theory_alpha_star",
                                                  "hardt_alpha_star") if c in part])
            finite = finite[(finite > 0) & (finite < 1)]
            left, right = (finite.min() / 1.6, min(finite.max() * 1.6, 1.0)) if len(finite) else (1e-3, 1.0)
            ax.set_xlim(left, right)
            for yi, (_, r) in zip(y, part.iterrows()):
                # an open end (alpha* below or above the searched range) runs to the panel's edge
                lo = r["alpha_star_lo"] if r["alpha_star_lo"] > 0 else left
                hi = r["alpha_star_hi"] if math.isfinite(r["alpha_star_hi"]) else right
                ok = r["status"] == "found"
                c = colour(0) if ok else "0.55"
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.plot([lo, hi], [yi, yi], color=c, linewidth=3.0, solid_capstyle="butt",
                            alpha=0.9 if ok else 0.6, zorder=2)
                if math.isfinite(r["alpha_star"]):
                    ax.scatter([r["alpha_star"]], [yi], s=16, color="black", zorder=4)
                th, hd = r.get("theory_alpha_star", np.nan), r.get("hardt_alpha_star", np.nan)
                if pd.notna(th) and 0 < th < 1:
                    ax.scatter([th], [yi], s=34, marker="D", facecolors="none", edgecolors=colour(1), zorder=5)
                if pd.notna(hd) and 0 < hd < 1:
                    ax.scatter([hd], [yi], s=34, marker="^", facecolors="none", edgecolors=colour(2), zorder=5)
                if not ok:
                    ax.annotate(r["status"], (1.01, yi), xycoords=("axes fraction", "data"), ha="left",
                                va="center", fontsize=6, color="0.35", annotation_clip=False)
            ax.set_yticks(y)
            ax.set_yticklabels([str(g).replace("learner=", "") for g in part["group"]])
            ax.set_xscale("log")
            ax.set_title(f"{experiment}: {metric} >= {target:g}", loc="left")
            ax.grid(True, axis="x", which="both", alpha=0.2)
        axes[-1, 0].set_xlabel(r"critical mass $\alpha^*$ (95% interval; log scale)")
        handles = [Line2D([], [], color=colour(0), linewidth=3, label="measured interval"),
                   Line2D([], [], marker="o", linestyle="", color="black", markersize=4, label="estimate"),
                   Line2D([], [], marker="D", linestyle="", markerfacecolor="none", color=colour(1),
                          label=r"theory ($\alpha^*$ Bayes, or via $\alpha_{\mathrm{eff}}$)"),
                   Line2D([], [], marker="^", linestyle="", markerfacecolor="none", color=colour(2),
                          label=r"Hardt's $\alpha^*$")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
        fig.suptitle(title)
        return save_png_pdf(fig, out_stem)
