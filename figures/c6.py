"""C6: collectives on Gauthier, Bach & Jordan's car data: success and its lower bound against n/N.

One panel per experiment file (feature-label planting per target, feature-only planting per target,
planting with N varied, adaptive unplanting per n_est, and the naive planting comparison). Each
curve is one series: the measured success, mean over seeds with its 95% interval (points and
band), and the lower bound computed from the collective's own data (dashed; mean over seeds).
Where the corrected bound differs from the bound as their code computes it (unplanting), it is
drawn dotted. The x axis is n/N in percent, as in the paper's figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import draw_selected, numeric, summarise, wrapped_title
from .layout import panel_rows, wrap
from .panels import name_panel, require_any, selected_panels
from .style import PANEL_HEIGHT, colour, page_size, paper_style

TITLE = "C6. Collectives on the car data: measured success (points, 95% band) and lower bound (dashed)"
PANEL_TITLES = {"c6-car-planting": "feature-label planting",
                "c6-car-feature-only": "feature-only planting",
                "c6-car-planting-N": "feature-label planting, y* = Poor, N varied",
                "c6-car-unplanting": "adaptive unplanting of Excellent, n_est varied",
                "c6-car-unplanting-naive": "naive: planting another label instead"}


def _curve_key(frame: pd.DataFrame) -> pd.Series:
    """What distinguishes the curves of one panel: the target, N or n_est, whichever varies."""
    for col, fmt in (("n_est", lambda v: f"n_est = {v:,.0f}"), ("N", lambda v: f"N = {v:,.0f}"),
                     ("target", lambda v: f"y* = {v}")):
        if col in frame and frame[col].nunique(dropna=True) > 1:
            return frame[col].map(fmt), frame[col]
    key = frame["target"] if "target" in frame else pd.Series("", index=frame.index)
    return key.map(lambda v: f"y* = {v}"), key


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C6 figure: one ``EXPERIMENT/success`` panel per experiment, wrapped into the page
    size's columns (two on a double-column page); ``panels`` and ``size`` default to the active
    drawing options."""
    import matplotlib.pyplot as plt

    frame = frame[frame["family"] == "car"] if "family" in frame else frame
    if frame is None or len(frame) == 0:
        raise ValueError(f"{TITLE}: no stored car-data rows to draw")
    require_any(["success"], selected_panels(panels), TITLE)
    experiments = [e for e in PANEL_TITLES if e in set(frame["experiment"])] + \
        sorted(set(frame["experiment"]) - set(PANEL_TITLES))
    page = page_size(size)
    n_cols = min(2, page.columns)  # two wide panels on a double-column page, one on a single
    n_rows = len(wrap(len(experiments), n_cols))
    with paper_style():
        fig = plt.figure(figsize=(page.width, PANEL_HEIGHT * 1.15 * n_rows), layout="constrained")
        (axes,) = panel_rows(fig, [len(experiments)], n_cols)
        for ax, name in zip(axes, experiments):
            name_panel(ax, "success", name)
            part = frame[frame["experiment"] == name].copy()
            part["_curve"], part["_order"] = _curve_key(part)
            part["_x"] = 100 * numeric(part, "n_over_N")
            curves = sorted(part.groupby("_curve"), key=lambda kv: (kv[1]["_order"].iloc[0], str(kv[0])))
            for i, (label, curve) in enumerate(curves):
                s = summarise(curve, "success", by="_x")
                bounds = curve.groupby("_x")[["success_bound", "success_bound_corrected"]].mean().loc[s["_x"]]
                c = colour(i)
                ax.fill_between(s["_x"], s["lower"], s["upper"], color=c, alpha=0.18, linewidth=0)
                ax.plot(s["_x"], s["mean"], marker="o", markersize=2.5, linewidth=0.9, color=c, label=str(label))
                bound, corrected = bounds["success_bound"].to_numpy(), bounds["success_bound_corrected"].to_numpy()
                ax.plot(s["_x"], np.clip(bound, 0, None), linestyle="--", linewidth=1.0, color=c)
                if np.nanmax(np.abs(corrected - bound)) > 1e-12:
                    ax.plot(s["_x"], np.clip(corrected, 0, None), linestyle=":", linewidth=1.2, color=c)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("n / N (%)")
            ax.set_ylabel("success")
            sizes = sorted(set(numeric(part, "N").dropna().astype(int)))
            where = f" (N = {sizes[0]:,})" if len(sizes) == 1 else ""
            ax.set_title(PANEL_TITLES.get(name, name) + where, loc="left")
            ax.grid(True, alpha=0.2)
            ax.legend(fontsize=6, loc="lower right")
        fig.suptitle(wrapped_title([TITLE, "bound < 0 drawn at 0; dotted: the corrected unplanting bound "
                                           "(docs/car.md)"], page.width, 9))
    return fig


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C6 from stored results into ``out_dir``/c6.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c6")
