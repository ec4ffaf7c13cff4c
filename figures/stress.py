"""The stress battery's one-page figure: tightness = bound / measured success, per scenario.

One horizontal strip per scenario on a log axis. A dot is one row of the stress table (one
grid point and alpha). Tightness 1 means the bound equals the measurement; far left means the
bound is loose. Vacuous bounds (<= 0) sit on the left edge as open triangles, rows checked by
alpha_eff instead of a bound (reweighting learners) as diamonds, violations as red crosses
whatever their value. Reads the stored table (a DataFrame or the Parquet/CSV file), never live objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .output import write_figure
from .panels import NoPanelSelected, name_panel, require_any, selected_panels
from .style import colour, page_size, paper_style


#: Left edge of the axis: vacuous bounds and tightness below it are drawn here.
FLOOR = 1e-3


def _load(table) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    path = Path(table)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


TITLE = "Stress battery: tightness of theory's predictions"


def draw_tightness(table, out_stem, title: str = TITLE) -> list[Path]:
    """Write ``out_stem`` in the active drawing options' formats (PNG and PDF by default);
    returns the paths ([] when the tightness panel is not among the panels selected)."""
    try:
        fig = build_tightness(table, title)
    except NoPanelSelected:
        return []
    return write_figure(fig, out_stem)


def build_tightness(table, title: str = TITLE, panels=None, size=None):
    """The tightness figure (one panel, ``tightness``) of a stress table (a DataFrame or the
    Parquet/CSV file); ``panels`` and ``size`` default to the active drawing options."""
    import matplotlib.pyplot as plt

    require_any(["tightness"], selected_panels(panels), title)
    page = page_size(size)
    frame = _load(table).copy()
    scenarios = list(dict.fromkeys(frame["scenario"]))
    height = max(3.0, 0.24 * len(scenarios) + 1.6)
    flags = frame["flags"].astype(object).where(frame["flags"].notna(), "").astype(str)  # CSV: all-empty -> NaN
    with paper_style():
        # the page's width, the legend in a strip under the axes (constrained layout)
        fig, ax = plt.subplots(figsize=(page.width, height), layout="constrained")
        name_panel(ax, "tightness")
        rng = np.random.default_rng(0)  # vertical jitter only, so dots of one strip do not overlap
        for i, name in enumerate(scenarios):
            part = frame[frame["scenario"] == name]
            y = len(scenarios) - 1 - i + rng.uniform(-0.22, 0.22, len(part))
            t = pd.to_numeric(part["tightness"], errors="coerce").to_numpy(dtype=float)
            bound_rows = (part["prediction"] == "bound").to_numpy()
            viol = flags.loc[part.index].str.contains("VIOLATION").to_numpy()
            shown = np.clip(np.where(np.isfinite(t), t, np.nan), FLOOR, None)
            informative = bound_rows & np.isfinite(t) & (t > 0) & ~viol
            vacuous = bound_rows & ~(np.isfinite(t) & (t > 0)) & ~viol
            eff = ~bound_rows & ~viol
            ax.scatter(shown[informative], y[informative], s=14, color=colour(i), zorder=3)
            ax.scatter(np.full(vacuous.sum(), FLOOR), y[vacuous], s=16, marker=">", facecolors="none",
                       edgecolors=colour(i), linewidths=0.8, zorder=3)
            ax.scatter(np.where(np.isfinite(shown[eff]), shown[eff], FLOOR), y[eff], s=16, marker="D",
                       facecolors="none", edgecolors=colour(i), linewidths=0.8, zorder=3)
            vx = np.where(np.isfinite(shown[viol]), shown[viol], FLOOR)
            ax.scatter(vx, y[viol], s=30, marker="X", color="#D00000", zorder=4)
        ax.axvline(1.0, color="0.3", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlim(FLOOR / 1.5, 3.0)
        ax.set_yticks(range(len(scenarios)))
        ax.set_yticklabels(list(reversed(scenarios)))
        ax.set_xlabel(r"tightness = bound / measured success   ($\alpha_{\mathrm{eff}}$ rows: predicted / measured)")
        ax.set_title(title)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", color="0.3", label="bound / measured"),
                   Line2D([], [], marker=">", linestyle="", markerfacecolor="none", color="0.3",
                          label=f"vacuous bound ($\\leq$ 0), drawn at {FLOOR:g}"),
                   Line2D([], [], marker="D", linestyle="", markerfacecolor="none", color="0.3",
                          label=r"$\alpha_{\mathrm{eff}}$ predicted / measured"),
                   Line2D([], [], marker="X", linestyle="", color="#D00000", label="VIOLATION")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
        from matplotlib.ticker import FuncFormatter, NullFormatter

        from .common import _tick_text

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v)))  # 1e-3, 0.01, 0.1, 1
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, axis="x", which="both", alpha=0.2)
    return fig
