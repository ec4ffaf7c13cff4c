"""Building blocks every claim's figure uses, all reading a results DataFrame (never live objects).

Conventions (the same in every figure):

* x axis: the collective's size alpha on a log scale; y: success S(alpha) in [0, 1].
* Theory is drawn as lines: rows of the ``theory`` pillar (their ``success``), and an
  experiment's own ``success_theory`` (solid, thin) and ``success_bound`` (dashed) columns.
  Where theory can rebuild a curve's problem from its rows' configurations
  (:mod:`.theory_curves`), the lines are evaluated on a dense log-spaced alpha grid over the
  experiment's range, an exact success that is a step function drawn as steps; otherwise they
  join the stored values at the experiment's alphas.
* Experiments (simulate, empirical) are points: the mean over seeds with a 95% Student-t
  interval over seeds (mean +- t_{0.975, n-1} s / sqrt(n)); with a single seed the interval is
  +- 1.96 ``success_se`` when the Monte Carlo standard error is stored, else none. Intervals of
  rates (success, accuracies, alpha_eff) are cut to [0, 1], where their mean must lie.
* A curve is one value of ``series`` (falling back to ``learner``, then ``pillar``). A curve
  whose rows come from one algorithm of the registry is drawn in that algorithm's colour and
  marker (:mod:`.looks`), the same in every figure.
* Clean-accuracy and worst-group panels appear when those columns hold data; one row of panels
  per experiment in the frame. Every data panel is named (:mod:`.panels`): ``EXPERIMENT/success``,
  ``EXPERIMENT/clean``, ``EXPERIMENT/worst-group``, then the claim's extra panels; a selection
  of panel kinds draws only those.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from collective_action.intervals import bounds_for, clip_interval, mean_interval

from .layout import wrap
from .looks import CurveLooks, Look
from .output import write_figure
from .panels import NoPanelSelected, kind_of, name_panel, require_any, selected_panels, wanted
from .style import DATA_LINEWIDTH, KEY_GREY, PANEL_HEIGHT, THEORY_LINEWIDTH, page_size, paper_style
from .theory_curves import alpha_range, theory_for_rows

import matplotlib.pyplot as plt  # noqa: E402  (style sets the Agg backend first)
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

ALPHA_LABEL = "collective size $\\alpha$\n(share of training set)"
THEORY_PILLAR = "theory"
#: Label of the axes that only hold a row's legend (not a data panel).
LEGEND_LABEL = "legend"

#: Claim -> module that draws its figure.
CLAIM_MODULES = {f"C{i}": f"collective_action.figures.c{i}" for i in range(1, 8)}


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
            values = [(name, json.loads(flat[i][k]) if k in flat[i] else None) for name, k in zip(names, varying)]
            # an unset field (the default) is left out of the label: "model=mlp", not "model=mlp, width=None"
            parts = [f"{name}={value}" for name, value in values if value is not None]
            out[i] = f"{label}, {', '.join(parts)}" if parts else label
    return out


def theory_rows(frame: pd.DataFrame) -> pd.Series:
    if "pillar" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["pillar"].astype(str) == THEORY_PILLAR


def interval_95(values: Sequence[float], se: Sequence[float] | None = None,
                bounds: tuple[float, float] | None = None) -> tuple[float, float, float, int]:
    """(mean, lower, upper, n) of a 95% interval over seeds, as described in the module docstring;
    ``bounds`` is the known range of the mean (see ``collective_action.intervals.bounds_for``)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        s = np.asarray([v for v in (se if se is not None else []) if v == v], dtype=float)
        half = 1.96 * float(s[0]) if len(s) else 0.0
        return (mean, *clip_interval(mean - half, mean + half, bounds), 1)
    _, lower, upper = mean_interval(x, bounds)
    return mean, lower, upper, n


def summarise(frame: pd.DataFrame, value: str, by: str = "alpha") -> pd.DataFrame:
    """Per value of ``by``: mean of ``value`` over seeds and its 95% interval."""
    rows = []
    values, ses, keys = numeric(frame, value), numeric(frame, f"{value}_se"), numeric(frame, by)
    for key in sorted(k for k in keys.unique() if k == k):
        mask = keys == key
        mean, lo, hi, n = interval_95(values[mask].tolist(), ses[mask].tolist(), bounds_for(value))
        if n:
            rows.append({by: key, "mean": mean, "lower": lo, "upper": hi, "n": n})
    return pd.DataFrame(rows, columns=[by, "mean", "lower", "upper", "n"])


def _single(frame: pd.DataFrame, values: pd.Series) -> str | None:
    """The one non-empty value of ``values`` over ``frame``'s rows, or None (none, or several)."""
    found = {str(v) for v in values.loc[frame.index] if v == v and v is not None and str(v) not in ("", "nan")}
    return found.pop() if len(found) == 1 else None


def strategies(frame: pd.DataFrame) -> pd.Series:
    """Each row's collective strategy: its ``strategy`` column, else ``collective.strategy`` of its
    configuration (None where neither says)."""
    if "strategy" in frame.columns:
        return frame["strategy"]
    out = []
    for text in frame["config"] if "config" in frame.columns else [None] * len(frame):
        try:
            collective = json.loads(text).get("collective") if isinstance(text, str) else None
        except (ValueError, AttributeError):
            collective = None
        out.append(collective.get("strategy") if isinstance(collective, dict) else None)
    return pd.Series(out, index=frame.index, dtype=object)


def curve_identities(frame: pd.DataFrame, labels: pd.Series) -> list[tuple[str, str | None, str | None]]:
    """(label, algorithm, strategy) per curve: the learner and the strategy its measured rows
    (else its theory rows) all share, None where they differ or are not stored."""
    learners = frame["learner"] if "learner" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    strategy = strategies(frame)
    measured = ~theory_rows(frame)
    out = []
    for label in labels.unique():
        rows = frame[(labels == label) & measured]
        rows = rows if len(rows) else frame[labels == label]
        out.append((label, _single(rows, learners), _single(rows, strategy)))
    return out


def curve_looks(frame: pd.DataFrame, labels: pd.Series, looks: CurveLooks | None = None) -> CurveLooks:
    """Each curve's colour and marker (:class:`.looks.CurveLooks`), added to ``looks`` if given."""
    looks = looks if looks is not None else CurveLooks()
    return looks.assign_all(curve_identities(frame, labels))


def experiment_looks(parts: pd.DataFrame | Sequence[pd.DataFrame], with_learner: bool = False) -> CurveLooks:
    """The looks of one experiment's curves (its rows, or its facets' rows), shared by all its rows
    of panels and by C2's amplification panel, so a curve looks the same in each."""
    seen: dict[str, list[set]] = {}  # label -> [algorithms, strategies] over the parts
    for part in [parts] if isinstance(parts, pd.DataFrame) else parts:
        part = part[numeric(part, "alpha") > 0]
        for label, algorithm, strategy in curve_identities(part, curve_labels(part, with_learner)):
            sets = seen.setdefault(label, [set(), set()])
            sets[0].add(algorithm), sets[1].add(strategy)
    # a label drawn for several algorithms (one per facet) is no one algorithm's curve
    return CurveLooks().assign_all([(label, *(next(iter(v)) if len(v) == 1 else None for v in sets))
                                    for label, sets in seen.items()])


# ------------------------------------------------------------------------------ legend labels
#: Words written as symbols in legends (longest first where one contains another).
_SYMBOLS = (
    (r"\bbeta\b", "β"), (r"\blambda\b", "λ"), (r"\bupweight\b", "λ"), (r"\balpha\b", "α"), (r"\beta(?=_|\b)", "η"),
    (r"\brho\b", "ρ"), (r"\bepsilon\b", "ε"), (r"\beps\b", "ε"), (r"\bdelta\b", "δ"),
    (r"\bsigma\b", "σ"), (r"\bxi\b", "ξ"), (r"\bchi2\b", "χ²"), (r"\bP0\(", "P₀("),
)
#: Configuration fields as they appear in split labels (``name=value``), shortened.
_FIELDS = ((r"\bname=", ""), (r"\btrain_size=", "n="), (r"\bn_train=", "n="), (r"\bsignal\.", ""))


def abbreviate(label: str) -> str:
    """Greek symbols for parameter names and short configuration field names."""
    for pattern, short in _SYMBOLS + _FIELDS:
        label = re.sub(pattern, short, label)
    return label


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets ("a (b, c), d=[1, 2]" -> ["a (b, c)", "d=[1, 2]"])."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def _head_and_items(part: str) -> tuple[str, list[str] | None]:
    """"JTT (λ=20, T=50)" -> ("JTT", ["λ=20", "T=50"]); a part without a final group -> (part, None)."""
    match = re.fullmatch(r"(.+?)\s*\((.*)\)", part)
    if not match or match.group(2).count("(") != match.group(2).count(")"):
        return part, None
    return match.group(1), _split_top(match.group(2))


def short_labels(labels: Sequence[str]) -> tuple[dict[str, str], str]:
    """Legend text per curve label, and the settings every curve shares (for the legend title).

    Parameter names become symbols (β, λ, α, ...); a setting shared by all curves of the legend
    (a comma-separated part, or an item of the first part's parentheses) is said once in the
    title instead of in every entry. Falls back to the abbreviated labels if that would make two
    entries equal.
    """
    labels = list(dict.fromkeys(labels))
    abbreviated = {lb: abbreviate(lb) for lb in labels}
    if len(labels) < 2:
        return abbreviated, ""
    parts = {lb: _split_top(text) or [text] for lb, text in abbreviated.items()}
    heads = {lb: _head_and_items(p[0]) for lb, p in parts.items()}
    shared_parts = set.intersection(*(set(p[1:]) for p in parts.values()))
    shared_items = (set.intersection(*(set(items) for _, items in heads.values()))
                    if all(items is not None for _, items in heads.values()) else set())
    out = {}
    for lb in labels:
        first = parts[lb][0]
        head, items = heads[lb]
        if items is not None and shared_items:
            kept = [item for item in items if item not in shared_items]
            first = f"{head} ({', '.join(kept)})" if kept else head
        out[lb] = ", ".join([first] + [p for p in parts[lb][1:] if p not in shared_parts])
    if len(set(out.values())) < len(labels):
        return abbreviated, ""
    first_label = labels[0]
    common = [i for i in (heads[first_label][1] or []) if i in shared_items]
    common += [p for p in parts[first_label][1:] if p in shared_parts]
    return out, ", ".join(common)


# ------------------------------------------------------------------------------ axes
def _tick_text(value: float) -> str:
    """Compact alpha tick: 1e-3, 5e-4 below 0.001 (and for powers of ten below 0.01), else 0.02."""
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10 ** exponent
    is_power = abs(mantissa - 1) < 1e-6
    if value < 1e-3 - 1e-12 or (is_power and value < 0.01 - 1e-12):
        return f"{mantissa:g}e{exponent}"
    return f"{value:g}"


def set_alpha_axis(ax, alphas: Sequence[float], dodge_decades: float = 0.0) -> None:
    """Log alpha axis covering the data with a small margin, at most five labelled major ticks
    (powers of ten when three or more fit, else a spread of the grid's own values), unlabelled
    minor ticks."""
    from matplotlib.ticker import FixedLocator, LogLocator

    ax.set_xscale("log")
    alphas = sorted(a for a in alphas if a == a and a > 0)
    if not alphas:
        return
    lo, hi = alphas[0], alphas[-1]
    span = math.log10(hi / lo)
    pad = 0.5 if span == 0 else max(0.12, 0.06 * span, dodge_decades + 0.06)
    left, right = lo / 10 ** pad, hi * 10 ** pad
    ax.set_xlim(left, right)
    powers = [10.0 ** e for e in range(math.ceil(math.log10(left)), math.floor(math.log10(right)) + 1)]
    if len(powers) >= 3:
        ticks = powers[:: math.ceil(len(powers) / 5)]
    else:  # a narrow range: label grid values at least a fifth of the axis apart
        gap = math.log10(right / left) / 5.5
        ticks = [alphas[0]]
        for a in alphas[1:]:
            if math.log10(a / ticks[-1]) >= gap:
                ticks.append(a)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v)))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=20))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _log_formatter(ax) -> None:
    """Compact labels (1e-3, 0.01, 0.1) on both axes of a log-log panel."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v) if v > 0 else ""))
        axis.set_minor_formatter(NullFormatter())


# ------------------------------------------------------------------------------ panels
#: Legend entries of extra panels that explain a reference line or a line style (listed after
#: the curves, as written).
REFERENCE_KEYS = ("y = x", "ratio 1", "theory:")
#: Legend keys of the two theory line styles (drawn once per legend, in grey).
EXACT_KEY = "theory: exact"
BOUND_KEY = "theory: Hardt bound"


def plot_alpha_panel(ax, frame: pd.DataFrame, value: str, ylabel: str, looks: CurveLooks,
                     with_learner: bool = False, theory_lines: bool = True) -> dict:
    """One quantity against alpha (log axis): theory as thin lines, experiments as points +- 95%.

    Points of different curves at the same alpha are dodged by a few hundredths of a decade so
    that their intervals stay readable; an experiment-side theory curve shared by several
    curves (e.g. one closed form for every learner) is drawn once, in grey. Returns what was
    drawn, for the row's legend: ``{"series": {label: has_points}, "exact": bool, "bound": bool}``.
    """
    frame = frame[numeric(frame, "alpha") > 0]
    labels = curve_labels(frame, with_learner)
    is_theory = theory_rows(frame)
    measured_labels = sorted(set(labels[~is_theory]) & {lb for lb in labels.unique()
                                                        if has_data(frame[(labels == lb) & ~is_theory], value)})
    drawn = {"series": {}, "exact": False, "bound": False}
    pending: list[tuple] = []  # experiment-side theory curves, drawn after de-duplication
    k = len(measured_labels)
    alphas = numeric(frame, "alpha")
    span = math.log10(alphas.max() / alphas.min()) if len(alphas) else 0.0
    step = max(0.025, 0.02 * span) if span > 0 else 0.05  # dodge: about 2% of the axis per curve
    lo, hi = alpha_range(alphas)  # theory is evaluated densely over the experiment's alpha range
    for label in sorted(labels.unique()):
        sub = frame[labels == label]
        look = looks[label] if label in looks else curve_looks(sub, labels[sub.index], looks)[label]
        theory_sub, exp_sub = sub[is_theory[sub.index]], sub[~is_theory[sub.index]]
        if theory_lines and len(theory_sub) and has_data(theory_sub, value):
            dense = theory_for_rows(theory_sub, lo, hi) if value == "success" else None
            if dense is not None:  # theory re-evaluated on a dense grid (steps drawn as steps)
                ax.plot(dense.alpha, dense.exact, "-", color=look.colour, linewidth=THEORY_LINEWIDTH,
                        drawstyle=dense.drawstyle, label=f"{label} (theory)")
            else:
                s = summarise(theory_sub, value)  # sorted by alpha
                ax.plot(s["alpha"], s["mean"], "-", color=look.colour, linewidth=THEORY_LINEWIDTH,
                        label=f"{label} (theory)")
            drawn["series"].setdefault(label, False)
            drawn["exact"] = True
            if value == "success" and has_data(theory_sub, "success_bound"):
                if dense is not None and dense.bound is not None:
                    bx, by = dense.alpha, dense.bound
                else:
                    b = summarise(theory_sub, "success_bound")
                    bx, by = b["alpha"], b["mean"]
                ax.plot(bx, by, "--", color=look.colour, linewidth=THEORY_LINEWIDTH - 0.1,
                        label=f"{label} (bound)")
                drawn["bound"] = drawn["bound"] or bool((np.asarray(by) >= 0).any())
        if label in measured_labels:
            s = summarise(exp_sub, value)
            i = measured_labels.index(label)
            dodge = 10 ** ((i - (k - 1) / 2) * step) if k > 1 else 1.0
            yerr = np.vstack([s["mean"] - s["lower"], s["upper"] - s["mean"]])
            ax.errorbar(s["alpha"] * dodge, s["mean"], yerr=yerr, fmt=look.marker, color=look.colour,
                        label=label, linestyle="none", markeredgecolor="white", markeredgewidth=0.4,
                        elinewidth=DATA_LINEWIDTH, zorder=3)
            drawn["series"][label] = True
            if theory_lines and value == "success":
                dense = theory_for_rows(exp_sub, lo, hi)  # None: the row's theory cannot be rebuilt
                for column, style, what in (("success_theory", "-", "predicted"), ("success_bound", "--", "bound")):
                    if has_data(exp_sub, column):
                        ys = None if dense is None else dense.exact if column == "success_theory" else dense.bound
                        if ys is not None:
                            xs, how = dense.alpha, dense.drawstyle if column == "success_theory" else "default"
                        else:
                            t = summarise(exp_sub, column)
                            xs, ys, how = t["alpha"].to_numpy(), t["mean"].to_numpy(), "default"
                        pending.append((column, style, what, label, look, xs, ys, how))
                        if np.nanmax(np.append(ys, -np.inf)) >= 0:  # visible in [0, 1]
                            drawn["exact" if column == "success_theory" else "bound"] = True
    _draw_theory_curves(ax, pending)
    set_alpha_axis(ax, alphas.tolist(), dodge_decades=step * max(k - 1, 0) / 2)
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, 1.03)
    return drawn


def _theory_width(style: str) -> float:
    """Exact predictions solid, bounds dashed and a little thinner; both thinner than the data."""
    return THEORY_LINEWIDTH if style == "-" else THEORY_LINEWIDTH - 0.1


def _draw_theory_curves(ax, curves: list[tuple]) -> None:
    """Draw experiment-side theory curves (column, style, what, label, look, alphas, values,
    drawstyle); identical curves of several series are drawn once."""
    done = [False] * len(curves)
    for i, (column, style, what, label, look, xs, ys, how) in enumerate(curves):
        if done[i]:
            continue
        same = [j for j in range(i, len(curves)) if not done[j] and curves[j][0] == column
                and np.array_equal(curves[j][5], xs) and np.allclose(curves[j][6], ys, atol=1e-9, equal_nan=True)]
        for j in same:
            done[j] = True
        if len(same) > 1:
            shared = "all curves" if len(same) == len({c[3] for c in curves}) else f"{len(same)} curves"
            ax.plot(xs, ys, style, color=KEY_GREY, linewidth=_theory_width(style), label=f"{shared} ({what})",
                    drawstyle=how, zorder=2)
        else:
            ax.plot(xs, ys, style, color=look.colour, linewidth=_theory_width(style), label=f"{label} ({what})",
                    drawstyle=how, zorder=2)


def agreement_labels(frame: pd.DataFrame) -> pd.Series:
    """Curve labels for panels that pool experiments: each experiment's own labels, with the
    experiment's name (without its claim prefix) added where two experiments share a label."""
    if "experiment" not in frame.columns or frame["experiment"].nunique() < 2:
        return curve_labels(frame)
    parts = {name: curve_labels(sub) for name, sub in frame.groupby(frame["experiment"].astype(str))}
    owners: dict[str, set] = {}
    for name, labels in parts.items():
        for label in labels.unique():
            owners.setdefault(label, set()).add(name)
    out = pd.Series("", index=frame.index, dtype=object)
    for name, labels in parts.items():
        tag = re.sub(r"^c\d+-", "", name)
        out[labels.index] = [f"{lb} [{tag}]" if len(owners[lb]) > 1 else lb for lb in labels]
    return out


def plot_agreement(ax, frame: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str,
                   looks: CurveLooks, log: bool = False) -> None:
    """Predicted (x) against measured (y) per configuration, with the y = x line."""
    frame = frame[numeric(frame, x).notna() & numeric(frame, y).notna()]
    labels = agreement_labels(frame)
    curve_looks(frame, labels, looks)
    lo, hi = math.inf, -math.inf
    for label in sorted(labels.unique()):
        sub = frame[labels == label]
        look = looks[label]
        # one point per configuration: the mean over seeds, with its 95% interval
        configs = sub["config"].fillna("").astype(str) if "config" in sub.columns else pd.Series("", index=sub.index)
        xs, ys, los, his = [], [], [], []
        for _, group in sub.groupby(configs):
            xm = float(numeric(group, x).mean())
            ym, ylo, yhi, _ = interval_95(numeric(group, y).tolist(), numeric(group, f"{y}_se").tolist(),
                                          bounds_for(y))
            xs.append(xm), ys.append(ym), los.append(ym - ylo), his.append(yhi - ym)
        if not xs:
            continue
        ax.errorbar(xs, ys, yerr=[los, his], fmt=look.marker, color=look.colour, label=label, linestyle="none",
                    markeredgecolor="white", markeredgewidth=0.4, elinewidth=DATA_LINEWIDTH, zorder=3)
        lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
    if lo < hi:
        pad = 0.05 * (hi - lo)
        line = [lo / 1.5, hi * 1.5] if log and lo > 0 else [lo - pad, hi + pad]
        ax.plot(line, line, ":", color=KEY_GREY, linewidth=THEORY_LINEWIDTH + 0.2, label="y = x (agreement)", zorder=2)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_formatter(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def success_panel(measured: pd.DataFrame) -> tuple[str, str]:
    """Which success a panel shows, and its label. Rows of the empirical pillar show the attack
    success (test points whose label is not y*, the convention of its published tables); every
    other pillar shows Hardt et al.'s success over x ~ P0, the quantity theory predicts."""
    pillars = set(measured["pillar"].astype(str)) if "pillar" in measured.columns else set()
    if pillars == {"empirical"} and has_data(measured, "attack_success"):
        return "attack_success", r"attack success (test $y \neq y^*$)"
    return "success", r"success $\Pr_{x \sim P_0}[f(g(x)) = y^*]$"


#: Panel kind of each column drawn against alpha.
ALPHA_PANEL_KINDS = {"success": "success", "attack_success": "success", "clean_accuracy": "clean",
                     "worst_group_accuracy": "worst-group"}


def standard_panels(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(panel kind, column, y label) of the panels against alpha that this experiment's rows can fill."""
    measured = frame[~theory_rows(frame)]
    panels = [success_panel(measured)]
    if has_data(measured, "clean_accuracy"):
        panels.append(("clean_accuracy", "clean test accuracy"))
    if has_data(measured, "worst_group_accuracy"):
        panels.append(("worst_group_accuracy", "worst-group test accuracy"))
    return [(ALPHA_PANEL_KINDS[column], column, ylabel) for column, ylabel in panels]


#: A claim's extra panel: its panel name (``KIND`` or ``ROW/KIND``) and the function drawing it
#: into an axes from the whole frame and the row's curve looks.
ExtraPanel = tuple[str, Callable[[object, pd.DataFrame, CurveLooks], None]]


def _facets(name: str, sub: pd.DataFrame, facet: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Split one experiment's rows by ``facet`` (rows without a value go into every facet)."""
    if not facet or facet not in sub.columns:
        return [(name, sub)]
    values = sub[facet]
    measured = sorted(str(v) for v in values[~theory_rows(sub)].dropna().unique())
    if len(measured) < 2:
        return [(name, sub)]
    return [(f"{name}: {value}", sub[values.isna() | (values.astype(str) == value)]) for value in measured]


# ------------------------------------------------------------------------------ legends
#: Height (inches) of one legend line; rows grow when their legend is long.
LEGEND_ENTRY_HEIGHT = 0.15
#: Height (inches) of one line of the figure's title.
TITLE_LINE_HEIGHT = 0.15
#: The figure title's second line: what points, lines and intervals mean.
KEY_POINTS = "Points: mean over seeds with 95% Student-t interval (one seed: $\\pm$1.96 Monte Carlo SE)."
KEY_LINES = "Lines: theory; solid = exact prediction, dashed = Hardt et al.'s lower bound."


def _series_handle(look: Look, has_points: bool):
    from matplotlib.lines import Line2D

    if has_points:
        return Line2D([], [], color=look.colour, marker=look.marker, linestyle="none",
                      markeredgecolor="white", markeredgewidth=0.4, markersize=5)
    return Line2D([], [], color=look.colour, linestyle="-", linewidth=THEORY_LINEWIDTH + 0.4)


def _style_handle(style: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=KEY_GREY, linestyle=style, linewidth=THEORY_LINEWIDTH + 0.2)


def row_legend_entries(drawn: Sequence[dict], looks: CurveLooks) -> tuple[list, list[str], str]:
    """(handles, texts, title) of a row's legend: one entry per curve (short label), then the
    theory line styles once each."""
    series: dict[str, bool] = {}
    for d in drawn:
        for label, has_points in d["series"].items():
            series[label] = series.get(label, False) or has_points
    ordered = sorted(series)
    texts, title = short_labels(ordered)
    handles = [_series_handle(looks[lb], series[lb]) for lb in ordered]
    names = [texts[lb] for lb in ordered]
    if any(d["exact"] for d in drawn):
        handles.append(_style_handle("-")), names.append(EXACT_KEY)
    if any(d["bound"] for d in drawn):
        handles.append(_style_handle("--")), names.append(BOUND_KEY)
    return handles, names, title


def _place_legend(legend_ax, handles: list, names: list[str], title: str, n_cols: int) -> int:
    """Draw a legend into its own (axis-less) axes; returns the number of text lines it takes."""
    legend_ax.set_label(LEGEND_LABEL)
    legend_ax.axis("off")
    if not handles:
        return 0
    legend_ax.legend(handles, names, loc="upper left", ncols=n_cols, borderaxespad=0.0,
                     title=f"all curves: {title}" if title else None, alignment="left")
    return math.ceil(len(handles) / n_cols) + (1 if title else 0)


def chars_per_inch(points: float) -> float:
    """About how many characters of ``points``-pt text fit in an inch (an average glyph is about
    0.6 em wide)."""
    return 72.0 / (0.6 * points)


def _legend_columns(names: Sequence[str], width: float) -> int:
    """How many legend columns fit ``width`` inches of 7 pt text; each entry's marker and spacing
    take about 7 characters more than its text."""
    longest = max((len(n) for n in names), default=1) + 7
    return max(1, min(len(names), int(width * chars_per_inch(7) // longest)))


def wrapped_title(lines: Sequence[str], width: float, points: float = 8.5) -> str:
    """The title's lines, each broken at spaces to fit ``width`` inches of ``points``-pt text."""
    import textwrap

    room = max(20, int(width * chars_per_inch(points)))
    keep = "\x00"  # stands for a space inside $...$ while wrapping: mathtext must stay on one line
    lines = [re.sub(r"\$[^$]*\$", lambda m: m.group(0).replace(" ", keep), line) for line in lines]
    return "\n".join(part.replace(keep, " ") for line in lines
                     for part in textwrap.wrap(line, room, break_on_hyphens=False, break_long_words=False))


# ------------------------------------------------------------------------------ figure
def build_claim_figure(frame: pd.DataFrame, title: str, extra_panels: Sequence[ExtraPanel] = (),
                       with_learner: bool = False, facet: str | None = None, key: str | None = None,
                       panels: Sequence[str] | None = None, size: str | None = None):
    """One row of panels per experiment (success, clean, worst-group) -- or per experiment and
    value of ``facet`` (e.g. ``learner``) -- then the claim's extra panels (drawn from the whole
    frame) in a last row. A row holding more panels than the page size has columns wraps. Every
    row has one legend: in the row's unused panel slots, or in a thin strip below the row when
    its panels fill it. ``size`` is a page size of ``style.SIZES`` (double: 7.2 in, three panel
    columns; single: 3.5 in, one column), ``panels`` the panel kinds to draw (None: all; both
    default to the active drawing options), constrained layout. The title's second line
    (``key``) says what points, lines and intervals are; by default the lines are explained only
    when theory is drawn. Returns the matplotlib Figure; NoPanelSelected when the rows hold
    none of ``panels``."""
    if frame is None or len(frame) == 0:
        raise ValueError(f"{title}: no stored rows to draw")
    page = page_size(size)
    chosen = selected_panels(panels)
    experiments = sorted(frame["experiment"].astype(str).unique()) if "experiment" in frame.columns else [""]
    candidates = []  # (row title, rows, [(kind, column, y label)], looks shared by the experiment's facets)
    for name in experiments:
        sub = frame[frame["experiment"].astype(str) == name] if name else frame
        facets = [(row_name, part) for row_name, part in _facets(name, sub, facet)
                  if has_data(part[numeric(part, "alpha") > 0], "success")]
        looks = experiment_looks([part for _, part in facets], with_learner)
        candidates += [(row_name, part, standard_panels(part), looks) for row_name, part in facets]
    if not candidates and not extra_panels:
        raise ValueError(f"{title}: no rows with alpha and success to draw")
    require_any([kind for _, _, row, _ in candidates for kind, _, _ in row]
                + [kind_of(n) for n, _ in extra_panels], chosen, title)
    layout = [(name, part, [p for p in row if wanted(p[0], chosen)], looks) for name, part, row, looks in candidates]
    layout = [entry for entry in layout if entry[2]]
    extras = [(n, draw) for n, draw in extra_panels if wanted(kind_of(n), chosen)]
    n_cols = page.columns
    sizes = [len(p) for _, _, p, _ in layout] + ([len(extras)] if extras else [])
    # grid rows: each row's panels wrapped into n_cols columns, then a legend strip below a row
    # whose last grid row is full
    starts, chunks, r = [], [], 0
    for size_of_row in sizes:
        parts = wrap(size_of_row, n_cols)
        starts.append(r)
        chunks.append(parts)
        r += len(parts) + (parts[-1] == n_cols)
    with paper_style():
        fig = plt.figure(figsize=(page.width, PANEL_HEIGHT * r), layout="constrained")
        grid = fig.add_gridspec(r, n_cols)
        heights = [PANEL_HEIGHT] * r

        def panel_axes(row: int) -> list:
            return [fig.add_subplot(grid[starts[row] + j, c]) for j, n in enumerate(chunks[row]) for c in range(n)]

        row_legends = []
        any_theory = False
        for row, (name, sub, row_panels, looks) in enumerate(layout):
            axes = panel_axes(row)
            drawn = []
            for ax, (kind, column, ylabel) in zip(axes, row_panels):
                drawn.append(plot_alpha_panel(ax, sub, column, ylabel, looks, with_learner=with_learner))
                name_panel(ax, kind, name)
            axes[0].set_title(name, loc="left")
            row_legends.append(row_legend_entries(drawn, looks))
            any_theory = any_theory or any(d["exact"] or d["bound"] for d in drawn)
        if extras:
            axes = panel_axes(len(layout))
            # every pooled curve's look first, so that no curve takes a registered algorithm's colour
            # before that algorithm is drawn in a later panel of the row
            looks = curve_looks(frame, agreement_labels(frame))
            merged: dict[str, object] = {}
            for ax, (panel, draw_panel) in zip(axes, extras):
                draw_panel(ax, frame, looks)
                ax.set_label(panel)
                for handle, label in zip(*ax.get_legend_handles_labels()):
                    merged.setdefault(label, handle)
                if ax.get_legend() is not None:  # one legend for the row, beside it
                    ax.get_legend().remove()
            reference = [lb for lb in merged if lb.startswith(REFERENCE_KEYS)]
            curves = [lb for lb in merged if lb not in reference]
            texts, common = short_labels(curves)
            row_legends.append(([merged[lb] for lb in curves + reference],
                                [texts[lb] for lb in curves] + reference, common))
        for row, (handles, names, common) in enumerate(row_legends):
            last = starts[row] + len(chunks[row]) - 1
            used = chunks[row][-1]
            if used < n_cols:  # beside the panels, in the free slots
                n = _legend_columns(names, page.panel_width * (n_cols - used))
                lines = _place_legend(fig.add_subplot(grid[last, used:]), handles, names, common, n)
                heights[last] = max(PANEL_HEIGHT, LEGEND_ENTRY_HEIGHT * lines + 0.3)
            else:  # a strip below the row
                n = _legend_columns(names, page.width)
                lines = _place_legend(fig.add_subplot(grid[last + 1, :]), handles, names, common, n)
                heights[last + 1] = LEGEND_ENTRY_HEIGHT * lines + 0.1
        grid.set_height_ratios(heights)
        if key is None:
            key = KEY_POINTS + ("\n" + KEY_LINES if any_theory else "")
        text = wrapped_title([title] + (key.split("\n") if key else []), page.width)
        fig.set_size_inches(page.width, sum(heights) + TITLE_LINE_HEIGHT * (text.count("\n") + 1))
        fig.suptitle(text, x=0.0, ha="left", fontsize=8.5)
    return fig


def data_panels(fig) -> list:
    """The axes of ``fig`` that show data (not the legend-only axes)."""
    return [ax for ax in fig.axes if ax.get_label() != LEGEND_LABEL]


def save_figure(fig, out_dir: str | Path, stem: str, formats: Sequence[str] | None = None) -> list[Path]:
    """Write ``out_dir``/``stem`` in ``formats`` (None: the active drawing options', by default
    PNG and PDF), close the figure; returns the paths."""
    return write_figure(fig, Path(out_dir) / stem, formats)


def draw_selected(build: Callable, frame, out_dir: str | Path, stem: str) -> list[Path]:
    """Build a figure with the active drawing options and save it; [] when it holds none of the
    panels selected (nothing is written)."""
    try:
        fig = build(frame)
    except NoPanelSelected:
        return []
    return save_figure(fig, out_dir, stem)


def figure_module(claim: str):
    """The module drawing ``claim``'s figure (C1 ... C7)."""
    import importlib

    from collective_action.errors import InputError

    key = claim.upper()
    if key not in CLAIM_MODULES:
        raise InputError(f"unknown claim {claim!r}; choose one of: {', '.join(CLAIM_MODULES)}")
    return importlib.import_module(CLAIM_MODULES[key])
