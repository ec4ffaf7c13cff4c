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

from .output import write_figure
from .panels import NoPanelSelected, name_panel, require_any, selected_panels
from .style import colour, page_size, paper_style


#: The columns of a critical-mass table the leaderboard reads (the rest are shown where present).
LEADERBOARD_COLUMNS = ("experiment", "metric", "target", "group", "alpha_star", "alpha_star_lo", "alpha_star_hi",
                       "status")


def _load(table) -> pd.DataFrame:
    return table if isinstance(table, pd.DataFrame) else pd.read_csv(Path(table))


TITLE = "Critical mass per learning algorithm"


def draw_leaderboard(table, out_stem, title: str = TITLE) -> list[Path]:
    """Write ``out_stem`` in the active drawing options' formats (PNG and PDF by default);
    returns the paths ([] when the leaderboard panel is not among the panels selected)."""
    try:
        fig = build_leaderboard(table, title)
    except NoPanelSelected:
        return []
    return write_figure(fig, out_stem)


def build_leaderboard(table, title: str = TITLE, panels=None, size=None):
    """The leaderboard figure of a critical-mass table (a DataFrame or critical_mass.csv): one
    ``EXPERIMENT: METRIC >= TARGET/leaderboard`` panel per search; ``panels`` and ``size``
    default to the active drawing options."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    frame = _load(table).copy()
    if frame.empty:
        raise ValueError("no critical-mass rows to draw")
    require_any(["leaderboard"], selected_panels(panels), title)
    page = page_size(size)
    searches = list(frame.groupby(["experiment", "metric", "target"], sort=False))
    heights = [max(1.0, 0.28 * len(part) + 0.6) for _, part in searches]
    with paper_style():
        fig, axes = plt.subplots(len(searches), 1, figsize=(page.width, sum(heights) + 1.0),
                                 gridspec_kw={"height_ratios": heights}, layout="constrained", squeeze=False)
        for ax, ((experiment, metric, target), part) in zip(axes[:, 0], searches):
            name_panel(ax, "leaderboard", f"{experiment}: {metric} >= {target:g}")
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
            _readable_log_ticks(ax, left, right)
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
    return fig


def _readable_log_ticks(ax, left: float, right: float) -> None:
    """Within a decade or two, matplotlib labels the minor ticks 2-9 x 10^k in full, and on a narrow
    panel "3 x 10^-3" runs into "4 x 10^-3": label the minor ticks at 2 and 5 only, and none
    beyond two decades (the decades' own labels suffice there)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    if math.log10(right / left) <= 2:
        ax.xaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 2)))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())
