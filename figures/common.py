"""Building blocks every claim's figure uses, all reading a results DataFrame (never live objects).

Conventions (the same in every figure):

* x axis: the collective's size alpha on a log scale; y: success S(alpha) in [0, 1].
* Theory is drawn as lines: rows of the ``theory`` pillar (their ``success``), and an
  experiment's own ``success_theory`` (solid, thin) and ``success_bound`` (dashed) columns.
* Experiments (simulate, empirical) are points: the mean over seeds with a 95% Student-t
  interval over seeds (mean +- t_{0.975, n-1} s / sqrt(n)); with a single seed the interval is
  +- 1.96 ``success_se`` when the Monte Carlo standard error is stored, else none.
* A curve is one value of ``series`` (falling back to ``learner``, then ``pillar``).
* Clean-accuracy and worst-group panels appear when those columns hold data; one row of panels
  per experiment in the frame.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .style import PANEL_HEIGHT, PANEL_WIDTH, colour, marker, paper_style

import matplotlib.pyplot as plt  # noqa: E402  (style sets the Agg backend first)
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

ALPHA_LABEL = r"collective size $\alpha$ (share of training set)"
THEORY_PILLAR = "theory"
#: Label of the axes that only hold a row's legend (not a data panel).
LEGEND_LABEL = "legend"

#: Claim -> module that draws its figure.
CLAIM_MODULES = {f"C{i}": f"collective_action.figures.c{i}" for i in range(1, 6)}


# ------------------------------------------------------------------------------ frame helpers
def numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame[column]`` as floats (NaN where absent or undefined)."""
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def has_data(frame: pd.DataFrame, column: str) -> bool:
    return bool(len(frame)) and bool(numeric(frame, column).notna().any())


def curve_labels(frame: pd.DataFrame, with_learner: bool = False) -> pd.Series:
    """The curve each row belongs to: ``series``, else ``learner``, else ``pillar``."""
    labels = pd.Series("", index=frame.index, dtype=object)
    for column in ("pillar", "learner", "series"):
        if column in frame.columns:
            values = frame[column]
            ok = values.notna() & (values.astype(str) != "") & (values.astype(str) != "nan")
            labels = labels.where(~ok, values.astype(str))
    if with_learner and "learner" in frame.columns and "series" in frame.columns:
        learner = frame["learner"].astype(str)
        # add the learner only where the series label does not already name it
        named = [lr.lower() in lb.lower() for lr, lb in zip(learner, labels)]
        differs = frame["series"].notna() & frame["learner"].notna() & ~pd.Series(named, index=frame.index)
        labels = labels.where(~differs, labels + " / " + learner)
    return _split_by_varying_config(frame, labels)


def _flatten(tree, prefix: str = "") -> dict[str, str]:
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.dumps(tree, sort_keys=True)}


def _is_alpha_or_seed(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1]
    return leaf in ("alpha", "alphas", "seed") or path == "series"


def _split_by_varying_config(frame: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Keep curves honest: rows of one label whose configurations differ in more than alpha and
    seed (a grid axis the pillar did not name in ``series``, e.g. the signal's place) become
    separate curves, labelled with the differing fields (``label, place=simple``)."""
    if "config" not in frame.columns or not len(frame):
        return labels
    flat = []
    for text in frame["config"]:
        try:
            flat.append(_flatten(json.loads(text)) if isinstance(text, str) else {})
        except ValueError:
            flat.append({})
    flat = pd.Series(flat, index=frame.index)
    out = labels.copy()
    for label in labels.unique():
        idx = labels.index[labels == label]
        keys = sorted({k for i in idx for k in flat[i] if not _is_alpha_or_seed(k)})
        varying = [k for k in keys if len({flat[i].get(k) for i in idx}) > 1]
        if not varying:
            continue
        leaves = [k.rsplit(".", 1)[-1] for k in varying]
        names = leaves if len(set(leaves)) == len(leaves) else varying
        for i in idx:
            parts = [f"{name}={json.loads(flat[i][k]) if k in flat[i] else None}" for name, k in zip(names, varying)]
            out[i] = f"{label}, {', '.join(parts)}"
    return out


def theory_rows(frame: pd.DataFrame) -> pd.Series:
    if "pillar" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["pillar"].astype(str) == THEORY_PILLAR


def interval_95(values: Sequence[float], se: Sequence[float] | None = None) -> tuple[float, float, float, int]:
    """(mean, lower, upper, n) of a 95% interval over seeds, as described in the module docstring."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        s = np.asarray([v for v in (se if se is not None else []) if v == v], dtype=float)
        half = 1.96 * float(s[0]) if len(s) else 0.0
        return mean, mean - half, mean + half, 1
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def summarise(frame: pd.DataFrame, value: str, by: str = "alpha") -> pd.DataFrame:
    """Per value of ``by``: mean of ``value`` over seeds and its 95% interval."""
    rows = []
    values, ses, keys = numeric(frame, value), numeric(frame, f"{value}_se"), numeric(frame, by)
    for key in sorted(k for k in keys.unique() if k == k):
        mask = keys == key
        mean, lo, hi, n = interval_95(values[mask].tolist(), ses[mask].tolist())
        if n:
            rows.append({by: key, "mean": mean, "lower": lo, "upper": hi, "n": n})
    return pd.DataFrame(rows, columns=[by, "mean", "lower", "upper", "n"])


def colour_map(labels: Sequence[str]) -> dict[str, int]:
    """A stable colour/marker index per curve label (sorted, so every panel agrees)."""
    return {label: i for i, label in enumerate(sorted(set(labels)))}


# ------------------------------------------------------------------------------ panels
def plot_alpha_panel(ax, frame: pd.DataFrame, value: str, ylabel: str, colours: dict[str, int],
                     with_learner: bool = False, theory_lines: bool = True) -> None:
    """One quantity against alpha (log axis): theory as lines, experiments as points +- 95%.

    Points of different curves at the same alpha are dodged by a few hundredths of a decade so
    that their intervals stay readable; an experiment-side theory curve shared by several
    curves (e.g. one closed form for every learner) is drawn once, in grey.
    """
    frame = frame[numeric(frame, "alpha") > 0]
    labels = curve_labels(frame, with_learner)
    is_theory = theory_rows(frame)
    measured_labels = sorted(set(labels[~is_theory]) & {lb for lb in labels.unique()
                                                        if has_data(frame[(labels == lb) & ~is_theory], value)})
    pending: list[tuple] = []  # experiment-side theory curves, drawn after de-duplication
    for label in sorted(labels.unique()):
        sub = frame[labels == label]
        idx = colours.setdefault(label, len(colours))
        theory_sub, exp_sub = sub[is_theory[sub.index]], sub[~is_theory[sub.index]]
        if theory_lines and len(theory_sub) and has_data(theory_sub, value):
            s = summarise(theory_sub, value)
            ax.plot(s["alpha"], s["mean"], "-", color=colour(idx), label=f"{label} (theory)")
            if value == "success" and has_data(theory_sub, "success_bound"):
                b = summarise(theory_sub, "success_bound")
                ax.plot(b["alpha"], b["mean"], "--", color=colour(idx), linewidth=1.0, label=f"{label} (bound)")
        if label in measured_labels:
            s = summarise(exp_sub, value)
            k, i = len(measured_labels), measured_labels.index(label)
            dodge = 10 ** ((i - (k - 1) / 2) * 0.025) if k > 1 else 1.0
            yerr = np.vstack([s["mean"] - s["lower"], s["upper"] - s["mean"]])
            ax.errorbar(s["alpha"] * dodge, s["mean"], yerr=yerr, fmt=marker(idx), color=colour(idx),
                        label=label, linestyle="none", markeredgecolor="white", markeredgewidth=0.4)
            if theory_lines and value == "success":
                for column, style, what in (("success_theory", "-", "predicted"), ("success_bound", "--", "bound")):
                    if has_data(exp_sub, column):
                        t = summarise(exp_sub, column)
                        pending.append((column, style, what, label, idx, t["alpha"].to_numpy(), t["mean"].to_numpy()))
    _draw_theory_curves(ax, pending)
    ax.set_xscale("log")
    alphas = sorted(a for a in numeric(frame, "alpha").unique() if a == a)
    if alphas and alphas[-1] / alphas[0] < 300:
        # under ~2 decades the default log ticks are crowded minor labels: label the grid itself
        ax.set_xticks(alphas[:: math.ceil(len(alphas) / 4)])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if len(alphas) == 1:  # one alpha: a decade-wide window keeps the dodged points close together
        ax.set_xlim(alphas[0] / 3.16, alphas[0] * 3.16)
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, 1.03)


def _draw_theory_curves(ax, curves: list[tuple]) -> None:
    """Draw experiment-side theory curves; identical curves of several series are drawn once."""
    done = [False] * len(curves)
    for i, (column, style, what, label, idx, xs, ys) in enumerate(curves):
        if done[i]:
            continue
        same = [j for j in range(i, len(curves)) if not done[j] and curves[j][0] == column
                and np.array_equal(curves[j][5], xs) and np.allclose(curves[j][6], ys, atol=1e-9, equal_nan=True)]
        for j in same:
            done[j] = True
        if len(same) > 1:
            shared = "all curves" if len(same) == len({c[3] for c in curves}) else f"{len(same)} curves"
            ax.plot(xs, ys, style, color="0.4", linewidth=1.0, label=f"{shared} ({what})")
        else:
            ax.plot(xs, ys, style, color=colour(idx), linewidth=1.0, label=f"{label} ({what})")


def plot_agreement(ax, frame: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str,
                   colours: dict[str, int], log: bool = False) -> None:
    """Predicted (x) against measured (y) per configuration, with the y = x line."""
    frame = frame[numeric(frame, x).notna() & numeric(frame, y).notna()]
    labels = curve_labels(frame)
    lo, hi = math.inf, -math.inf
    for label in sorted(labels.unique()):
        sub = frame[labels == label]
        idx = colours.setdefault(label, len(colours))
        # one point per configuration: the mean over seeds, with its 95% interval
        configs = sub["config"].fillna("").astype(str) if "config" in sub.columns else pd.Series("", index=sub.index)
        xs, ys, los, his = [], [], [], []
        for _, group in sub.groupby(configs):
            xm = float(numeric(group, x).mean())
            ym, ylo, yhi, _ = interval_95(numeric(group, y).tolist(), numeric(group, f"{y}_se").tolist())
            xs.append(xm), ys.append(ym), los.append(ym - ylo), his.append(yhi - ym)
        if not xs:
            continue
        ax.errorbar(xs, ys, yerr=[los, his], fmt=marker(idx), color=colour(idx), label=label, linestyle="none",
                    markeredgecolor="white", markeredgewidth=0.4)
        lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
    if lo < hi:
        pad = 0.05 * (hi - lo)
        line = [lo / 1.5, hi * 1.5] if log and lo > 0 else [lo - pad, hi + pad]
        ax.plot(line, line, ":", color="0.35", linewidth=1.0, label="y = x (agreement)")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def standard_panels(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, y label) of the panels against alpha that this experiment's rows can fill."""
    panels = [("success", r"success $S(\alpha)$ (probability)")]
    measured = frame[~theory_rows(frame)]
    if has_data(measured, "clean_accuracy"):
        panels.append(("clean_accuracy", "clean test accuracy (probability)"))
    if has_data(measured, "worst_group_accuracy"):
        panels.append(("worst_group_accuracy", "worst-group accuracy (probability)"))
    return panels


ExtraPanel = Callable[[object, pd.DataFrame, dict], None]


def _facets(name: str, sub: pd.DataFrame, facet: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Split one experiment's rows by ``facet`` (rows without a value go into every facet)."""
    if not facet or facet not in sub.columns:
        return [(name, sub)]
    values = sub[facet]
    measured = sorted(str(v) for v in values[~theory_rows(sub)].dropna().unique())
    if len(measured) < 2:
        return [(name, sub)]
    return [(f"{name}: {value}", sub[values.isna() | (values.astype(str) == value)]) for value in measured]


#: Height (inches) one legend entry needs; rows grow when their legend is long.
LEGEND_ENTRY_HEIGHT = 0.145


def build_claim_figure(frame: pd.DataFrame, title: str, extra_panels: Sequence[ExtraPanel] = (),
                       with_learner: bool = False, facet: str | None = None):
    """One row of panels per experiment (success, clean, worst-group) -- or per experiment and
    value of ``facet`` (e.g. ``learner``) -- then the claim's extra panels (drawn from the whole
    frame) in a last row. Returns the matplotlib Figure."""
    if frame is None or len(frame) == 0:
        raise ValueError(f"{title}: no stored rows to draw")
    experiments = sorted(frame["experiment"].astype(str).unique()) if "experiment" in frame.columns else [""]
    layout = []
    for name in experiments:
        sub = frame[frame["experiment"].astype(str) == name] if name else frame
        for row_name, part in _facets(name, sub, facet):
            if has_data(part[numeric(part, "alpha") > 0], "success"):
                layout.append((row_name, part, standard_panels(part)))
    n_cols = max([len(p) for _, _, p in layout] + [len(extra_panels), 1])
    n_rows = len(layout) + (1 if extra_panels else 0)
    if n_rows == 0:
        raise ValueError(f"{title}: no rows with alpha and success to draw")
    colours = colour_map(curve_labels(frame, with_learner))
    with paper_style():
        # a last, narrower column holds each row's legend (the panels of a row share colours)
        fig, grid = plt.subplots(n_rows, n_cols + 1, figsize=(PANEL_WIDTH * (n_cols + 0.9), PANEL_HEIGHT * n_rows + 0.4),
                                 squeeze=False, gridspec_kw={"width_ratios": [1.0] * n_cols + [0.9]})
        axes = [row[:n_cols] for row in grid]
        heights = [PANEL_HEIGHT] * n_rows
        for r, (name, sub, panels) in enumerate(layout):
            for c, (column, ylabel) in enumerate(panels):
                ax = axes[r][c]
                plot_alpha_panel(ax, sub, column, ylabel, colours, with_learner=with_learner)
                ax.set_title(name if c == 0 else column.replace("_", " "), loc="left")
            # the legend goes right after the row's last panel; unused slots are removed
            legend_ax = grid[r][len(panels)]
            for c in range(len(panels) + 1, n_cols + 1):
                fig.delaxes(grid[r][c])
            legend_ax.set_label(LEGEND_LABEL)
            legend_ax.axis("off")
            handles, labels = axes[r][0].get_legend_handles_labels()
            if handles:
                legend_ax.legend(handles, labels, loc="upper left", borderaxespad=0.0)
                heights[r] = max(PANEL_HEIGHT, LEGEND_ENTRY_HEIGHT * len(handles) + 0.5)
        if extra_panels:
            r = n_rows - 1
            merged: dict[str, object] = {}
            for c, draw_panel in enumerate(extra_panels):
                draw_panel(axes[r][c], frame, colours)
                for handle, label in zip(*axes[r][c].get_legend_handles_labels()):
                    merged.setdefault(label, handle)
                if axes[r][c].get_legend() is not None:  # one legend for the row, beside it
                    axes[r][c].get_legend().remove()
            legend_ax = grid[r][len(extra_panels)]
            for c in range(len(extra_panels) + 1, n_cols + 1):
                fig.delaxes(grid[r][c])
            legend_ax.set_label(LEGEND_LABEL)
            legend_ax.axis("off")
            if merged:
                legend_ax.legend(list(merged.values()), list(merged), loc="upper left", borderaxespad=0.0)
                heights[r] = max(heights[r], LEGEND_ENTRY_HEIGHT * len(merged) + 0.5)
        grid[0][0].get_gridspec().set_height_ratios(heights)
        fig.set_size_inches(PANEL_WIDTH * (n_cols + 0.9), sum(heights) + 0.4)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)
        fig.tight_layout()
    return fig


def data_panels(fig) -> list:
    """The axes of ``fig`` that show data (not the legend-only axes)."""
    return [ax for ax in fig.axes if ax.get_label() != LEGEND_LABEL]


def save_figure(fig, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf under ``out_dir``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    with paper_style():
        for path in paths:
            fig.savefig(path)
    plt.close(fig)
    return paths


def figure_module(claim: str):
    """The module drawing ``claim``'s figure (C1 ... C5)."""
    import importlib

    from collective_action.errors import InputError

    key = claim.upper()
    if key not in CLAIM_MODULES:
        raise InputError(f"unknown claim {claim!r}; choose one of: {', '.join(CLAIM_MODULES)}")
    return importlib.import_module(CLAIM_MODULES[key])
