"""C7: several collectives and coordination noise.

Top row, per signal layout (a tug of war: collective 1 plants on collective 0's signal points with
another target; or disjoint signal points): collective 0's measured success (mean over seeds) over
the grid alpha_0 x alpha_1, with theory's frontier where its exact success reaches 0.5 (white
line, from the exact success at the same grid points). Bottom row, per noise kind (deviating
members keep their own label, or plant with a random label): collective 0's success against its
noise share eta at several alpha_0 (points: measured mean with 95% interval; dashed: theory's exact
success), at the smallest alpha_1. Reading across the curves answers "twice as large but four
times noisier?". Next row, where the Gaussian tug of war was run: collective 0's success (solid,
95% band) and its rival's (dashed) against alpha_0 per learning algorithm (ERM, JTT, CVaR), one
panel per planting probability p of collective 0's members.

Trained models (empirical pillar rows with ``signal_layout``, e.g. experiments/
c7_several_empirical.yaml), two more parts, each with a row of clean-accuracy panels below its
success panels (the same panels, the accuracy of the same models):

* the tug of war (layout ``0:own 1:same-as-0``, collective 0 without deviators): collective 0's
  success (solid, 95% band) and collective 1's (dashed) against alpha_0, one colour and marker per
  learning algorithm (the registry's), one panel per alpha_1;
* deviating members (layout ``0:own 1:own``, disjoint signals): collective 0's success against
  alpha_0, one curve per kind of deviation at its nonzero noise share and one without deviators,
  one panel per learning algorithm, at the smallest alpha_1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .common import draw_selected, numeric, set_alpha_axis, summarise, wrapped_title
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
    """Collective 0's rows of family discrete-several, with alpha_1 and the layout's last entry
    (an empty frame where there are none)."""
    family = frame["family"].astype(str) if "family" in frame.columns else pd.Series("", index=frame.index)
    frame = frame[(family == "discrete-several") & (numeric(frame, "collective") == 0)].copy()
    if frame.empty:
        return frame
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


def _alpha_0_axis(ax, alphas) -> None:
    """Log alpha_0 axis (ticks as on every alpha axis, :func:`.common.set_alpha_axis`), y in [0, 1]."""
    set_alpha_axis(ax, list(alphas))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(r"$\alpha_0$ (collective 0)")
    ax.grid(True, alpha=0.2)


def _learner_groups(part: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(learner, rows) in the algorithm registry's order, unknown learners after."""
    order = {name: i for i, name in enumerate(algorithm_names())}
    return sorted(((str(k), v) for k, v in part.groupby("learner")), key=lambda kv: (order.get(kv[0], len(order)),
                                                                                     kv[0]))


def _learners(ax, part: pd.DataFrame, title: str) -> None:
    """Both collectives' success against alpha_0, one colour and marker per learning algorithm
    (the registry's, as in every figure), in registry order."""
    groups = _learner_groups(part)
    looks = CurveLooks().assign_all([(learner, learner, None) for learner, _ in groups])
    for learner, curve in groups:
        look = looks[learner]
        for j, style in ((0, "-"), (1, "--")):
            pts = curve[numeric(curve, "collective") == j]
            s = summarise(pts, "success", by="alpha_0").astype(float)
            if s.empty:
                continue
            ax.plot(s["alpha_0"], s["mean"], linestyle=style, marker=look.marker if j == 0 else None, markersize=3,
                    color=look.colour, label=learner if j == 0 else None)
            if j == 0:
                ax.fill_between(s["alpha_0"], s["lower"], s["upper"], color=look.colour, alpha=0.15, linewidth=0)
    _alpha_0_axis(ax, numeric(part, "alpha_0"))
    ax.set_ylabel("success")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=6, loc="best")


def _curves_against_alpha_0(ax, curves: list[tuple[str, pd.DataFrame]], looks: CurveLooks, value: str,
                            ylabel: str, title: str) -> None:
    """``value`` against alpha_0 per curve (line and markers: mean over seeds; band: 95% interval)."""
    for label, rows in curves:
        s = summarise(rows, value, by="alpha_0").astype(float)
        if s.empty:
            continue
        look = looks[label]
        ax.plot(s["alpha_0"], s["mean"], "-", marker=look.marker, markersize=3, color=look.colour, label=label)
        ax.fill_between(s["alpha_0"], s["lower"], s["upper"], color=look.colour, alpha=0.15, linewidth=0)
    _alpha_0_axis(ax, pd.concat([numeric(rows, "alpha_0") for _, rows in curves]) if curves else [])
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")


# ------------------------------------------------------------------------------ trained models
#: Signal layouts of the trained models' rows: the tug of war, and disjoint signals.
TUG_LAYOUT = "0:own 1:same-as-0"
OWN_LAYOUT = "0:own 1:own"
NO_NOISE = "no deviators"


def _policy(rows: pd.DataFrame) -> pd.DataFrame:
    """One validation policy's rows (the clean one where several were run)."""
    if "validation" not in rows.columns or rows["validation"].nunique(dropna=True) < 2:
        return rows
    kept = "clean" if (rows["validation"] == "clean").any() else sorted(rows["validation"].dropna().astype(str))[0]
    return rows[rows["validation"].astype(str) == kept]


def _share(alphas, j: int) -> float:
    try:
        values = json.loads(alphas) if isinstance(alphas, str) else None
        return float(values[j]) if values and len(values) > j and values[j] is not None else np.nan
    except (ValueError, TypeError):
        return np.nan


def _empirical_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of trained models with several collectives (empirical pillar, a signal layout and the
    collective each row is about), each with its model's alpha_0, alpha_1 and collective 0's noise
    share and kind (``noise_0``, ``noise_kind_0``: read from collective 0's row of the same model)."""
    needed = {"pillar", "signal_layout", "collective", "config"}
    if not needed <= set(frame.columns):
        return frame.iloc[:0]
    keep = ((frame["pillar"].astype(str) == "empirical") & frame["signal_layout"].notna()
            & numeric(frame, "collective").notna() & numeric(frame, "success").notna())
    rows = _policy(frame[keep].copy())
    if rows.empty:
        return rows
    for j in (0, 1):
        stored = numeric(rows, f"alpha_{j}")
        parsed = pd.Series([_share(a, j) for a in rows.get("alphas", pd.Series(None, index=rows.index))],
                           index=rows.index, dtype=float)
        rows[f"alpha_{j}"] = stored.where(stored.notna(), parsed)
    rows["learner"] = rows["learner"].astype(str) if "learner" in rows.columns else ""
    parts = [rows["config"].astype(str), rows["seed"].astype(str) if "seed" in rows.columns else ""]
    model = parts[0] + "|" + parts[1]  # the rows of one trained model (one per collective)
    zero = rows[numeric(rows, "collective") == 0]
    rows["noise_0"] = model.map(dict(zip(model[zero.index], numeric(zero, "noise"))))
    kinds = zero["noise_kind"].astype(str) if "noise_kind" in zero.columns else pd.Series("", index=zero.index)
    rows["noise_kind_0"] = model.map(dict(zip(model[zero.index], kinds)))
    return rows[np.isfinite(rows["alpha_0"]) & (rows["alpha_0"] > 0)]


def _dataset(rows: pd.DataFrame) -> str:
    names = sorted(set(rows["dataset"].dropna().astype(str))) if "dataset" in rows.columns else []
    return names[0] if len(names) == 1 else "trained models"


def _learner_label(rows: pd.DataFrame, learner: str) -> str:
    """The learner as its rows' ``series`` names it (with its settings) when they agree."""
    series = set(rows["series"].dropna().astype(str)) if "series" in rows.columns else set()
    return series.pop() if len(series) == 1 else learner


def _tug_rows(trained: pd.DataFrame) -> pd.DataFrame:
    if trained.empty:
        return trained
    return trained[(trained["signal_layout"].astype(str) == TUG_LAYOUT) & (trained["noise_0"] == 0)]


def _noise_rows(trained: pd.DataFrame) -> pd.DataFrame:
    """Collective 0's rows on disjoint signals at the smallest alpha_1, each with its curve label."""
    if trained.empty:
        return trained
    rows = trained[(trained["signal_layout"].astype(str) == OWN_LAYOUT) & (numeric(trained, "collective") == 0)
                   & numeric(trained, "noise_0").notna()].copy()
    rows = rows[rows["alpha_1"] == rows["alpha_1"].min()] if rows["alpha_1"].notna().any() else rows
    rows["_curve"] = [NO_NOISE if share == 0 else f"{kind}, $\\eta_0$ = {share:g}"
                      for share, kind in zip(rows["noise_0"], rows["noise_kind_0"])]
    return rows


def _noise_curves(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The curves of a deviators panel: no deviators first, then the kinds in NOISE_KINDS' order."""
    kinds = list(NOISE_KINDS)

    def order(item):
        label, part = item
        if label == NO_NOISE:
            return -1, 0.0, label
        kind = str(part["noise_kind_0"].iloc[0])
        return kinds.index(kind) if kind in kinds else len(kinds), float(part["noise_0"].iloc[0]), label

    return sorted(((str(k), v) for k, v in rows.groupby("_curve")), key=order)


def _empirical_panels(trained: pd.DataFrame) -> list[tuple[str, list]]:
    """(kind, [(row name, draw(ax))]) rows of the trained models' parts: the tug of war
    (learners, then clean) and the deviators (noise, then clean)."""
    out = []
    if trained.empty:
        return out
    experiment = "/".join(sorted(set(trained["experiment"].astype(str)))) if "experiment" in trained else "empirical"
    data = _dataset(trained)
    tug = _tug_rows(trained)
    rivals = sorted(a for a in tug["alpha_1"].unique() if a == a)
    if rivals:
        learners = [(f"{experiment}: alpha_1={a1:g}", tug[tug["alpha_1"] == a1]) for a1 in rivals]
        out.append(("learners", [(name, lambda ax, p=part, a1=a1: _learners(
            ax, p, f"{data} tug of war, $\\alpha_1$ = {a1:g} (dashed: collective 1)"))
            for (name, part), a1 in zip(learners, rivals)]))
        looks = CurveLooks().assign_all([(lr, lr, None) for lr, _ in _learner_groups(tug)])
        out.append(("clean", [(name, lambda ax, p=part, a1=a1, looks=looks: _curves_against_alpha_0(
            ax, _learner_groups(p[numeric(p, "collective") == 0]), looks, "clean_accuracy", "clean test accuracy",
            f"{data} tug of war, $\\alpha_1$ = {a1:g}: clean accuracy"))
            for (name, part), a1 in zip(learners, rivals) if numeric(part, "clean_accuracy").notna().any()]))
    noisy = _noise_rows(trained)
    if len(noisy) and (noisy["noise_0"] > 0).any():
        rival = noisy["alpha_1"].min()
        where = f", $\\alpha_1$ = {rival:g}" if rival == rival else ""
        groups = _learner_groups(noisy)
        looks = CurveLooks().assign_all([(label, None, None) for label, _ in _noise_curves(noisy)])
        out.append(("noise", [(f"{experiment}: {learner}", lambda ax, p=part, lr=learner, looks=looks:
                                _curves_against_alpha_0(
            ax, _noise_curves(p), looks, "success", "collective 0's success",
            f"{data}, {_learner_label(p, lr)}: collective 0's deviators (disjoint signals{where})"))
            for learner, part in groups]))
        out.append(("clean", [(f"{experiment}: {learner}", lambda ax, p=part, lr=learner, looks=looks:
                                _curves_against_alpha_0(
            ax, _noise_curves(p), looks, "clean_accuracy", "clean test accuracy",
            f"{data}, {_learner_label(p, lr)}: clean accuracy with deviators"))
            for learner, part in groups if numeric(part, "clean_accuracy").notna().any()]))
    return [(kind, items) for kind, items in out if items]


def _rows_of_panels(parts: list[tuple[str, list]], columns: int) -> list[list[tuple]]:
    """Rows of (kind, row name, draw(ax)) from (kind, [(row name, draw(ax))]) parts: a success
    part and the clean-accuracy part right after it share a row when both fit ``columns``
    (otherwise the clean panels go below, column under column)."""
    rows: list[list[tuple]] = []
    for kind, items in parts:
        row = [(kind, name, draw_panel) for name, draw_panel in items]
        if kind == "clean" and rows and rows[-1][-1][0] != "clean" and len(rows[-1]) + len(row) <= columns:
            rows[-1] = rows[-1] + row
        else:
            rows.append(row)
    return rows


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C7 figure: rows of ``LAYOUT/interaction``, ``NOISE-KIND/noise`` and ``p=P/learners``
    panels, then the trained models' rows (``EXPERIMENT: alpha_1=A/learners`` and
    ``EXPERIMENT: LEARNER/noise``, each with its ``/clean`` panels beside it where the row has room,
    else below), as many columns as the
    longest row has panels (at most the page size's), longer rows wrapped; ``panels`` (kinds) and
    ``size`` default to the active drawing options. Rows of other kinds are left out."""
    import matplotlib.pyplot as plt

    gaussian = _gaussian_rows(frame)
    trained = _empirical_rows(frame)
    frame = _prepare(frame)
    chosen = selected_panels(panels)
    layouts, kinds, quiet = [], [], frame
    if len(frame):
        quiet = frame[(numeric(frame, "noise") == 0) & (frame["noise_kind"] == "keep-label")]
        layouts = [k for k in LAYOUTS if k in set(quiet["layout"])]
        kinds = sorted(set(frame.loc[frame["layout"] == (layouts[0] if layouts else frame["layout"].iloc[0]),
                                     "noise_kind"]))
    probs = sorted(gaussian["plant_prob"].unique(), reverse=True) if len(gaussian) else []
    layout = layouts[0] if layouts else None
    rival = gaussian["alpha_1"].max() if len(gaussian) else np.nan

    def noise_panel(ax, kind):
        part = frame[(frame["noise_kind"] == kind) & ((frame["layout"] == layout) if layout else True)]
        _noise(ax, part, NOISE_KINDS.get(kind, f"deviators: {kind}"))

    def gaussian_panel(ax, p):
        part = gaussian[(gaussian["plant_prob"] == p) & (gaussian["alpha_1"] == rival)]
        _learners(ax, part, f"Gaussian tug of war, rival at {rival:g}, p = {p:g} (dashed: rival)")

    candidates = [("interaction", [(lay.split(":", 1)[-1], lambda ax, lay=lay: _interaction(
                      ax, quiet[quiet["layout"] == lay], LAYOUTS[lay] + r", $\eta$ = 0")) for lay in layouts]),
                  ("noise", [(kind, lambda ax, kind=kind: noise_panel(ax, kind)) for kind in kinds]),
                  ("learners", [(f"p={p:g}", lambda ax, p=p: gaussian_panel(ax, p)) for p in probs])]
    candidates = [(kind, items) for kind, items in candidates if items] + _empirical_panels(trained)
    if not candidates:
        raise ValueError(f"{TITLE}: no rows of family discrete-several or gaussian-world, nor trained models of "
                         "several collectives, to draw")
    require_any([kind for kind, _ in candidates], chosen, TITLE)
    page = page_size(size)
    rows = _rows_of_panels([(kind, items) for kind, items in candidates if wanted(kind, chosen)], page.columns)
    n_cols = min(page.columns, max(len(row) for row in rows))  # wide panels when a row has few
    height = 1.2 * PANEL_HEIGHT * sum(len(wrap(len(row), n_cols)) for row in rows)
    with paper_style():
        fig = plt.figure(figsize=(page.width, height), layout="constrained")
        maps, image = [], None
        for row, axes in zip(rows, panel_rows(fig, [len(row) for row in rows], n_cols)):
            for ax, (kind, name, draw_panel) in zip(axes, row):
                name_panel(ax, kind, name)
                drawn = draw_panel(ax)
                if kind == "interaction":
                    image = drawn
                    maps.append(ax)
        for ax in fig.axes:  # long panel titles wrap to the panel's width
            ax.set_title(wrapped_title([ax.get_title(loc="left")], page.width / n_cols - 0.4, 8), loc="left")
        if image is not None:
            fig.colorbar(image, ax=maps, label="collective 0's success\n(mean over seeds)", shrink=0.9)
        notes = ["white: theory's frontier (exact success 0.5); dashed: theory's exact success"] if len(frame) else []
        if len(trained):
            notes.append("trained models: lines and markers: mean over seeds, band: 95% interval; tug of war: "
                         "collective 0 solid, collective 1 dashed")
        fig.suptitle(wrapped_title([TITLE] + ["; ".join(notes)] if notes else [TITLE], page.width, 9))
    return fig


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C7 from stored results into ``out_dir``/c7.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c7")
