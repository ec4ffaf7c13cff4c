"""C7: several collectives and coordination noise.

Top row, per signal layout (a tug of war: collective 1 plants on collective 0's signal points with
another target; or disjoint signal points): collective 0's measured success (mean over seeds) over
the grid alpha_0 x alpha_1, with theory's frontier where its exact success reaches 0.5 (white
line, from the exact success at the same grid points). Bottom row, per noise kind (deviating
members keep their own label, or plant with a random label): collective 0's success against its
noise share eta at several alpha_0 (points: measured mean with 95% interval; dashed: theory's exact
success), at the smallest alpha_1. Reading across the curves answers "twice as large but four
times noisier?". Last row, where the Gaussian tug of war was run: collective 0's success (solid,
95% band) and its rival's (dashed) against alpha_0 per learning algorithm (ERM, JTT, CVaR), one
panel per planting probability p of collective 0's members.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .common import draw_selected, numeric, summarise, wrapped_title
from .layout import panel_rows, wrap
from .looks import CurveLooks, algorithm_names
from .panels import name_panel, require_any, selected_panels, wanted
from .style import PANEL_HEIGHT, colour, page_size, paper_style

TITLE = "C7. Several collectives and coordination noise (collective 0's success)"
LAYOUTS = {"1:same-as-0": "tug of war (same signal, other target)", "1:disjoint": "disjoint signals"}
#: What the deviating members of collective 0 do, per noise kind.
NOISE_KINDS = {"keep-label": "deviators keep their label", "random-label": "deviators plant a random label",
               "corrupted-signal": "deviators plant a corrupted signal"}


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[(frame.get("family") == "discrete-several") & (numeric(frame, "collective") == 0)].copy()
    if frame.empty:
        raise ValueError(f"{TITLE}: no stored rows of family discrete-several to draw")
    frame["alpha_1"] = [json.loads(a)[1] if isinstance(a, str) and len(json.loads(a)) > 1 else np.nan
                        for a in frame["alphas"]]
    frame["layout"] = frame["signal_layout"].astype(str).str.split(" ").str[-1]
    return frame


def _interaction(ax, part: pd.DataFrame, title: str) -> None:
    grid = part.groupby(["alpha_1", "alpha"])[["success", "success_theory"]].mean().reset_index()
    a0 = np.sort(grid["alpha"].unique())
    a1 = np.sort(grid["alpha_1"].unique())
    measured = grid.pivot(index="alpha_1", columns="alpha", values="success").reindex(index=a1, columns=a0)
    exact = grid.pivot(index="alpha_1", columns="alpha", values="success_theory").reindex(index=a1, columns=a0)
    image = ax.pcolormesh(np.arange(len(a0) + 1), np.arange(len(a1) + 1), measured.to_numpy(), vmin=0, vmax=1,
                          cmap="viridis", shading="flat")
    if len(a0) > 1 and len(a1) > 1 and np.nanmax(exact.to_numpy()) >= 0.5 > np.nanmin(exact.to_numpy()):
        ax.contour(np.arange(len(a0)) + 0.5, np.arange(len(a1)) + 0.5, exact.to_numpy(), levels=[0.5],
                   colors="white", linewidths=1.4)
    ax.set_xticks(np.arange(len(a0)) + 0.5, [f"{v:g}" for v in a0], rotation=45)
    ax.set_yticks(np.arange(len(a1)) + 0.5, [f"{v:g}" for v in a1])
    ax.set_xlabel(r"$\alpha_0$ (collective 0)")
    ax.set_ylabel(r"$\alpha_1$ (collective 1)")
    ax.set_title(title, loc="left")
    return image


def _noise(ax, part: pd.DataFrame, title: str) -> None:
    base = part[part["alpha_1"] == part["alpha_1"].min()]
    alphas = sorted(base["alpha"].unique())
    show = alphas[len(alphas) // 3:] if len(alphas) > 3 else alphas
    for i, a in enumerate(show):
        curve = base[base["alpha"] == a]
        s = summarise(curve, "success", by="noise")
        exact = curve.groupby("noise")["success_theory"].mean().loc[s["noise"]]
        c = colour(i)
        ax.errorbar(s["noise"], s["mean"], yerr=[s["mean"] - s["lower"], s["upper"] - s["mean"]], marker="o",
                    markersize=3, linewidth=1.0, capsize=2, color=c, label=fr"$\alpha_0$ = {a:g}")
        ax.plot(s["noise"], exact.to_numpy(), linestyle="--", linewidth=1.0, color=c)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(r"noise share $\eta$ of collective 0")
    ax.set_ylabel("success")
    ax.set_title(title, loc="left")
    ax.grid(True, alpha=0.2)
    ax.legend(fontsize=6, loc="best")


def _gaussian_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the Gaussian tug of war (family gaussian-world with a second collective), with the
    swept alpha_0, the rival's share and the planting probability read from each configuration."""
    rows = frame[(frame.get("family") == "gaussian-world")].copy() if "family" in frame else frame.iloc[:0]
    if rows.empty:
        return rows
    cfgs = [json.loads(c) for c in rows["config"]]
    rows["alpha_0"] = [c["collective"]["alpha"] for c in cfgs]
    rows["alpha_1"] = [(c["world"].get("second") or {}).get("alpha", np.nan) for c in cfgs]
    rows["plant_prob"] = [c["world"]["signal"]["plant_prob"] for c in cfgs]
    return rows[np.isfinite(rows["alpha_1"])]


def _learners(ax, part: pd.DataFrame, title: str) -> None:
    """Both collectives' success against alpha_0, one colour and marker per learning algorithm
    (the registry's, as in every figure), in registry order."""
    order = {name: i for i, name in enumerate(algorithm_names())}
    groups = sorted(part.groupby("learner"), key=lambda kv: (order.get(kv[0], len(order)), str(kv[0])))
    looks = CurveLooks().assign_all([(str(learner), str(learner), None) for learner, _ in groups])
    for learner, curve in groups:
        look = looks[str(learner)]
        for j, style in ((0, "-"), (1, "--")):
            pts = curve[numeric(curve, "collective") == j]
            s = summarise(pts, "success", by="alpha_0")
            if s.empty:
                continue
            ax.plot(s["alpha_0"], s["mean"], linestyle=style, marker=look.marker if j == 0 else None, markersize=3,
                    color=look.colour, label=str(learner) if j == 0 else None)
            if j == 0:
                ax.fill_between(s["alpha_0"], s["lower"], s["upper"], color=look.colour, alpha=0.15, linewidth=0)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(r"$\alpha_0$ (collective 0)")
    ax.set_ylabel("success")
    ax.set_title(title, loc="left")
    ax.grid(True, alpha=0.2)
    ax.legend(fontsize=6, loc="best")


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C7 figure: rows of ``LAYOUT/interaction``, ``NOISE-KIND/noise`` and ``p=P/learners``
    panels, as many columns as the longest row has panels (at most the page size's), longer rows
    wrapped; ``panels`` (kinds) and ``size`` default to the active drawing options."""
    import matplotlib.pyplot as plt

    gaussian = _gaussian_rows(frame)
    frame = _prepare(frame)
    chosen = selected_panels(panels)
    quiet = frame[(numeric(frame, "noise") == 0) & (frame["noise_kind"] == "keep-label")]
    layouts = [k for k in LAYOUTS if k in set(quiet["layout"])]
    kinds = sorted(set(frame.loc[frame["layout"] == (layouts[0] if layouts else frame["layout"].iloc[0]),
                                 "noise_kind"]))
    probs = sorted(gaussian["plant_prob"].unique(), reverse=True) if len(gaussian) else []
    candidates = (("interaction", layouts), ("noise", kinds), ("learners", probs))
    require_any([kind for kind, items in candidates if items], chosen, TITLE)
    rows = [(kind, items) for kind, items in candidates if items and wanted(kind, chosen)]
    if not rows:
        raise ValueError(f"{TITLE}: no interaction grid, noise or learner rows to draw")
    page = page_size(size)
    n_cols = min(page.columns, max(len(items) for _, items in rows))  # wide panels when a row has few
    height = 1.2 * PANEL_HEIGHT * sum(len(wrap(len(items), n_cols)) for _, items in rows)
    with paper_style():
        fig = plt.figure(figsize=(page.width, height), layout="constrained")
        axes = dict(zip([kind for kind, _ in rows], panel_rows(fig, [len(items) for _, items in rows], n_cols)))
        image = None
        for ax, layout in zip(axes.get("interaction", []), layouts):
            name_panel(ax, "interaction", layout.split(":", 1)[-1])
            image = _interaction(ax, quiet[quiet["layout"] == layout], LAYOUTS[layout] + r", $\eta$ = 0")
        layout = layouts[0] if layouts else None
        for ax, kind in zip(axes.get("noise", []), kinds):
            name_panel(ax, "noise", kind)
            part = frame[(frame["noise_kind"] == kind) & ((frame["layout"] == layout) if layout else True)]
            _noise(ax, part, NOISE_KINDS.get(kind, f"deviators: {kind}"))
        if "learners" in axes:
            rival = gaussian["alpha_1"].max()
            for ax, p in zip(axes["learners"], probs):
                name_panel(ax, "learners", f"p={p:g}")
                part = gaussian[(gaussian["plant_prob"] == p) & (gaussian["alpha_1"] == rival)]
                _learners(ax, part, f"Gaussian tug of war, rival at {rival:g}, p = {p:g} (dashed: rival)")
        for ax in fig.axes:  # long panel titles wrap to the panel's width
            ax.set_title(wrapped_title([ax.get_title(loc="left")], page.width / n_cols - 0.4, 8), loc="left")
        if image is not None:
            fig.colorbar(image, ax=axes["interaction"], label="collective 0's success\n(mean over seeds)", shrink=0.9)
        fig.suptitle(wrapped_title([TITLE, "white: theory's frontier (exact success 0.5); dashed: theory's exact "
                                           "success"], page.width, 9))
    return fig


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C7 from stored results into ``out_dir``/c7.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c7")
