"""C6: the collective's goals: planting, unplanting and erasing, on the car data and on random
discrete problems, with their lower bounds.

Car data (Gauthier, Bach & Jordan; family ``car``): one panel per experiment file (feature-label
planting per target, feature-only planting per target, planting with N varied, adaptive
unplanting per n_est, and the naive planting comparison). Each curve is one series: the measured
success, mean over seeds with its 95% interval (points and band), and the lower bound computed
from the collective's own data (dashed; mean over seeds). Where the corrected bound differs from
the bound as their code computes it (unplanting), it is drawn dotted. The x axis is n/N in
percent, as in the paper's figures.

Random discrete problems (simulate family ``discrete`` with a ``goal`` column, e.g.
experiments/c6_discrete_goals.yaml): one row of panels per experiment and random problem
(``discrete.problem_seed``), one panel per goal (plant, unplant, erase), one curve per strategy
in its registry look. Points: the measured success of the strategy's goal (mean over seeds, 95%
interval); solid: theory's exact Bayes success, dashed: the Hardt-form population bound, both
rebuilt from the row's configuration on a dense alpha grid (:mod:`.theory_curves`, steps drawn
as steps; the stored columns where the configuration cannot be rebuilt); dash-dotted: Gauthier et
al.'s finite-sample bound from the members' own rows (``success_bound_finite``, mean over seeds;
gaps where it is undefined). A bound below 0 is vacuous and leaves the panel.

Trained models (empirical pillar rows with a ``goal`` column): one row of success panels per
experiment, one panel per goal, one curve per strategy (and learner, where several ran), with a
row of clean-accuracy panels below. Rows of any other kind are left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (ALPHA_LABEL, curve_labels, draw_selected, numeric, plot_alpha_panel, row_legend_entries,
                     set_alpha_axis, strategies, summarise, wrapped_title)
from .layout import wrap
from .looks import CurveLooks, strategy_names
from .panels import name_panel, require_any, selected_panels, wanted
from .style import DATA_LINEWIDTH, KEY_GREY, PANEL_HEIGHT, THEORY_LINEWIDTH, colour, page_size, paper_style
from .theory_curves import alpha_range, theory_for_rows

TITLE = "C6. The collective's goals: measured success and lower bounds"
PANEL_TITLES = {"c6-car-planting": "feature-label planting",
                "c6-car-feature-only": "feature-only planting",
                "c6-car-planting-N": "feature-label planting, y* = Poor, N varied",
                "c6-car-unplanting": "adaptive unplanting of Excellent, n_est varied",
                "c6-car-unplanting-naive": "naive: planting another label instead"}
#: Line style of Gauthier et al.'s finite-sample bound (dotted is the car panels' corrected bound).
FINITE_STYLE = "-."
#: Legend keys of the discrete goals' lines (grey, once per legend).
EXACT_KEY, BOUND_KEY, FINITE_KEY = "theory: exact", "Hardt-form bound", "finite-sample bound"


# ------------------------------------------------------------------------------ which rows
def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name].astype(object) if name in frame.columns else pd.Series(None, index=frame.index, dtype=object)


def _present(values: pd.Series) -> pd.Series:
    return values.notna() & ~values.astype(str).isin(("", "nan", "None"))


def car_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the car experiments (family ``car``)."""
    return frame[_column(frame, "family").astype(str) == "car"]


def discrete_goal_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Simulated rows of random discrete problems that say which goal they measure."""
    keep = ((_column(frame, "pillar").astype(str) == "simulate") & (_column(frame, "family").astype(str) == "discrete")
            & _present(_column(frame, "goal")) & numeric(frame, "alpha").gt(0) & numeric(frame, "success").notna())
    return frame[keep]


def empirical_goal_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of trained models that say which goal they measure."""
    keep = ((_column(frame, "pillar").astype(str) == "empirical") & _present(_column(frame, "goal"))
            & numeric(frame, "alpha").gt(0) & numeric(frame, "success").notna())
    return frame[keep]


def _goal_order(goals) -> list[str]:
    """The goals in the strategy registry's order (plant, unplant, erase), unknown ones after."""
    from collective_action.collective import STRATEGIES

    known = list(dict.fromkeys(cls.goal.name for cls in STRATEGIES.values()))
    goals = {str(g) for g in goals}
    return [g for g in known if g in goals] + sorted(goals - set(known))


#: Each goal's event, as panel titles write it (collective_action.collective.GOALS states them).
GOAL_EVENTS = {"plant": r"$f(g(x)) = y^*$", "unplant": r"$f(g(x)) \neq y^*$", "erase": r"$f(g(x)) = f(x)$"}


def _goal_title(goal: str) -> str:
    from collective_action.collective import GOALS

    event = GOAL_EVENTS.get(goal) or (GOALS[goal].statement if goal in GOALS else "")
    return f"{goal}: {event}" if event else goal


def _problem_seed(config_text) -> object:
    """``discrete.problem_seed`` of a stored configuration (None where it does not say)."""
    try:
        config = json.loads(config_text) if isinstance(config_text, str) else {}
        return (config.get("discrete") or {}).get("problem_seed")
    except (ValueError, AttributeError):
        return None


def _with_strategy(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``_strategy``: each row's ``strategy`` column where it holds one, else its
    configuration's ``collective.strategy`` ("" where neither says)."""
    rows = rows.copy()
    stored = _column(rows, "strategy")
    configured = strategies(rows.drop(columns=["strategy"], errors="ignore")).astype(object)
    rows["_strategy"] = stored.where(_present(stored), configured.where(_present(configured), "")).astype(str)
    return rows


def _strategy_order(names) -> list[str]:
    registry = strategy_names()
    return sorted(set(names), key=lambda s: (registry.index(s) if s in registry else len(registry), s))


# ------------------------------------------------------------------------------ car panels
def _curve_key(frame: pd.DataFrame) -> pd.Series:
    """What distinguishes the curves of one panel: the target, N or n_est, whichever varies."""
    for col, fmt in (("n_est", lambda v: f"n_est = {v:,.0f}"), ("N", lambda v: f"N = {v:,.0f}"),
                     ("target", lambda v: f"y* = {v}")):
        if col in frame and frame[col].nunique(dropna=True) > 1:
            return frame[col].map(fmt), frame[col]
    key = frame["target"] if "target" in frame else pd.Series("", index=frame.index)
    return key.map(lambda v: f"y* = {v}"), key


def _car_panel(ax, part: pd.DataFrame, name: str) -> None:
    part = part.copy()
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


# ------------------------------------------------------------------------------ discrete goal panels
def _style_handles():
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=KEY_GREY, linestyle=style, linewidth=THEORY_LINEWIDTH + 0.2)
            for style in ("-", "--", FINITE_STYLE)], [EXACT_KEY, BOUND_KEY, FINITE_KEY]


def _goal_panel(ax, part: pd.DataFrame, looks: CurveLooks, title: str, legend: bool = True) -> None:
    """One goal on one problem: per strategy, the measured success (points, 95% interval), theory's
    exact success (solid), the Hardt-form bound (dashed) and the finite-sample bound (dash-dot)."""
    from matplotlib.lines import Line2D

    alphas = numeric(part, "alpha")
    lo, hi = alpha_range(alphas)
    span = math.log10(hi / lo) if hi > lo else 0.0
    step = max(0.025, 0.02 * span) if span > 0 else 0.05  # dodge, as in every alpha panel
    names = _strategy_order(part["_strategy"])
    handles, texts = [], []
    for i, strategy in enumerate(names):
        rows = part[part["_strategy"] == strategy]
        look = looks.assign(strategy or "(no strategy)", None, strategy or None)
        dense = theory_for_rows(rows, lo, hi, goal_bounds=True)
        if dense is not None:
            ax.plot(dense.alpha, dense.exact, "-", color=look.colour, linewidth=THEORY_LINEWIDTH,
                    drawstyle=dense.drawstyle, label=f"{strategy} (exact)", zorder=2)
        elif numeric(rows, "success_theory").notna().any():
            t = summarise(rows, "success_theory")
            ax.plot(t["alpha"], t["mean"], "-", color=look.colour, linewidth=THEORY_LINEWIDTH,
                    label=f"{strategy} (exact)", zorder=2)
        if dense is not None and dense.bound is not None:
            ax.plot(dense.alpha, dense.bound, "--", color=look.colour, linewidth=THEORY_LINEWIDTH - 0.1,
                    label=f"{strategy} (Hardt-form bound)", zorder=2)
        elif numeric(rows, "success_bound").notna().any():
            b = summarise(rows, "success_bound")
            ax.plot(b["alpha"], b["mean"], "--", color=look.colour, linewidth=THEORY_LINEWIDTH - 0.1,
                    label=f"{strategy} (Hardt-form bound)", zorder=2)
        finite = numeric(rows, "success_bound_finite").groupby(alphas.loc[rows.index]).mean().sort_index()
        if finite.notna().any():  # NaN (undefined) leaves a gap
            ax.plot(finite.index.to_numpy(), finite.to_numpy(), FINITE_STYLE, color=look.colour,
                    linewidth=THEORY_LINEWIDTH, label=f"{strategy} (finite-sample bound)", zorder=2)
        s = summarise(rows, "success").astype(float)
        dodge = 10 ** ((i - (len(names) - 1) / 2) * step) if len(names) > 1 else 1.0
        ax.errorbar(s["alpha"] * dodge, s["mean"], yerr=np.vstack([s["mean"] - s["lower"], s["upper"] - s["mean"]]),
                    fmt=look.marker, color=look.colour, label=strategy, linestyle="none", markeredgecolor="white",
                    markeredgewidth=0.4, elinewidth=DATA_LINEWIDTH, zorder=3)
        handles.append(Line2D([], [], color=look.colour, marker=look.marker, linestyle="none",
                              markeredgecolor="white", markeredgewidth=0.4, markersize=5))
        texts.append(strategy)
    set_alpha_axis(ax, alphas.tolist(), dodge_decades=step * max(len(names) - 1, 0) / 2)
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel("success of the goal")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, loc="left")
    if legend:
        keys, key_texts = _style_handles()
        ax.legend(handles + keys, texts + key_texts, fontsize=6, loc="best")


# ------------------------------------------------------------------------------ empirical goal panels
def _empirical_panel(ax, part: pd.DataFrame, column: str, ylabel: str, looks: CurveLooks, title: str) -> dict:
    """One goal of trained models against alpha, as every claim's alpha panels (points +- 95%
    interval; stored theory columns as lines); returns what was drawn, for the row's legend."""
    drawn = plot_alpha_panel(ax, part, column, ylabel, looks)
    ax.set_title(title, loc="left")
    return drawn


# ------------------------------------------------------------------------------ figure
def _sections(frame: pd.DataFrame, chosen, page) -> list[dict]:
    """The figure's parts, top to bottom: dicts with ``columns`` (the panel columns of that part
    of the page) and ``rows``, each a dict with ``panels`` (a list of (kind, row name, draw(ax)))
    and, for rows of trained models, the ``looks`` its legend names (``legend``: this row has it)."""
    sections = []
    car = car_rows(frame)
    if len(car) and wanted("success", chosen):
        experiments = [e for e in PANEL_TITLES if e in set(car["experiment"])] + \
            sorted(set(car["experiment"].astype(str)) - set(PANEL_TITLES))
        panels = [("success", name, lambda ax, name=name: _car_panel(ax, car[car["experiment"] == name], name))
                  for name in experiments]
        sections.append({"columns": min(2, page.columns), "rows": [{"panels": panels}]})

    goals = _with_strategy(discrete_goal_rows(frame))
    if len(goals) and wanted("success", chosen):
        goals["_problem"] = [_problem_seed(c) for c in _column(goals, "config")]
        looks = CurveLooks(by_strategy=True)
        for s in _strategy_order(goals["_strategy"]):  # every strategy's look, the same in every panel
            looks.assign(s or "(no strategy)", None, s or None)
        rows = []
        for experiment in sorted(goals["experiment"].astype(str).unique()):
            sub = goals[goals["experiment"].astype(str) == experiment]
            problems = sorted(sub["_problem"].dropna().unique().tolist())
            for k, problem in enumerate(problems or [None]):  # legends in the experiment's first row
                part = sub[sub["_problem"] == problem] if problem is not None else sub
                where = f", problem {problem}" if problem is not None else ""
                rows.append({"panels": [
                    ("success", f"{experiment}: {goal}{where}",
                     lambda ax, p=part[part["goal"].astype(str) == goal], t=_goal_title(goal) + where, first=k == 0:
                     _goal_panel(ax, p, looks, t, legend=first)) for goal in _goal_order(part["goal"].unique())]})
        sections.append({"columns": min(3, page.columns), "rows": rows})

    trained = _with_strategy(empirical_goal_rows(frame))
    rows = []
    for experiment in sorted(trained["experiment"].astype(str).unique()) if len(trained) else []:
        sub = trained[trained["experiment"].astype(str) == experiment].copy()
        # each curve's label over the whole experiment (a strategy or learner that varies in it), kept
        # in every goal's panels, so one curve has one look throughout
        sub["series"] = labels = curve_labels(sub)
        parts = [(goal, sub[sub["goal"].astype(str) == goal]) for goal in _goal_order(sub["goal"].unique())]
        looks = CurveLooks(by_strategy=True).assign_all(
            [(label, None, _single(sub.loc[labels == label, "_strategy"])) for label in labels.unique()])
        first = True
        for kind, column, ylabel in (("success", "success", "success of the goal"),
                                     ("clean", "clean_accuracy", "clean test accuracy")):
            if not wanted(kind, chosen) or not numeric(sub, column).notna().any():
                continue
            rows.append({"looks": looks, "legend": first, "panels": [
                (kind, f"{experiment}: {goal}",
                 lambda ax, p=p, c=column, y=ylabel, t=f"{experiment}: {_goal_title(goal)}":
                 _empirical_panel(ax, p, c, y, looks, t)) for goal, p in parts]})
            first = False
    if rows:
        sections.append({"columns": min(3, page.columns), "rows": rows})
    return sections


def _single(values: pd.Series):
    found = set(values.astype(str)) - {""}
    return found.pop() if len(found) == 1 else None


def _available_kinds(frame: pd.DataFrame) -> list[str]:
    kinds = []
    trained = empirical_goal_rows(frame)
    if len(car_rows(frame)) or len(discrete_goal_rows(frame)) or len(trained):
        kinds.append("success")
    if len(trained) and numeric(trained, "clean_accuracy").notna().any():
        kinds.append("clean")
    return kinds


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C6 figure: one ``EXPERIMENT/success`` panel per car experiment (two wide columns on a
    double-column page), one ``EXPERIMENT: GOAL, problem K/success`` panel per goal and random
    discrete problem, and ``EXPERIMENT: GOAL/success`` and ``/clean`` panels per goal of trained
    models; ``panels`` and ``size`` default to the active drawing options. Rows of no such kind
    are left out (ValueError when none is left; NoPanelSelected when none of ``panels`` is there)."""
    import matplotlib.pyplot as plt

    if frame is None or len(frame) == 0:
        raise ValueError(f"{TITLE}: no stored rows to draw")
    kinds = _available_kinds(frame)
    if not kinds:
        raise ValueError(f"{TITLE}: no stored car-data or goal rows to draw")
    chosen = selected_panels(panels)
    require_any(kinds, chosen, TITLE)
    page = page_size(size)
    sections = _sections(frame, chosen, page)
    n_cols = math.lcm(*(s["columns"] for s in sections))  # each part keeps its own panel width
    n_grid = sum(len(wrap(len(row["panels"]), s["columns"])) for s in sections for row in s["rows"])
    with paper_style():
        fig = plt.figure(figsize=(page.width, PANEL_HEIGHT * 1.15 * n_grid), layout="constrained")
        grid = fig.add_gridspec(n_grid, n_cols)
        g = 0
        for section in sections:
            per_row, width = section["columns"], n_cols // section["columns"]
            for row in section["rows"]:
                drawn, axes = [], []
                for start in range(0, len(row["panels"]), per_row):
                    for c, (kind, name, draw_panel) in enumerate(row["panels"][start:start + per_row]):
                        ax = fig.add_subplot(grid[g, c * width:(c + 1) * width])
                        name_panel(ax, kind, name)
                        drawn.append(draw_panel(ax))
                        axes.append(ax)
                        # long panel titles wrap to the panel's width
                        ax.set_title(wrapped_title([ax.get_title(loc="left")], page.width / per_row - 0.4, 8),
                                     loc="left")
                    g += 1
                if row.get("legend") and axes:  # one legend per experiment of trained models
                    handles, texts, title = row_legend_entries([d for d in drawn if d], row["looks"])
                    axes[-1].legend(handles, texts, title=title or None, fontsize=6, loc="best")
        notes = []
        if len(car_rows(frame)) and wanted("success", chosen):
            notes.append("Car data: points and 95% band; dashed: the bound from the collective's data (< 0 drawn "
                         "at 0); dotted: the corrected unplanting bound (docs/car.md).")
        if len(discrete_goal_rows(frame)) and wanted("success", chosen):
            notes.append("Discrete problems: points = measured success (95% interval); solid: theory's exact "
                         "success; dashed: Hardt-form bound; dash-dot: Gauthier et al.'s finite-sample bound "
                         "(a bound < 0 leaves the panel).")
        fig.suptitle(wrapped_title([TITLE] + notes, page.width, 9))
    return fig


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C6 from stored results into ``out_dir``/c6.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c6")
