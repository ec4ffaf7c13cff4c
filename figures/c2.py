"""C2: DRO changes the collective's effective size.

Top rows: success against alpha per learner (ERM, JTT, CVaR, LfF, ...), with clean and
worst-group accuracy beside it. Last row: amplification, one panel per experiment with
reweighting learners (registry entries whose ``statistic`` is not None): alpha_eff / alpha
against alpha (log-log), measured (the collective's share of the training weight, points with a
95% interval over seeds) and predicted by theory from the measured statistics (thin lines), with
the line ratio = 1 (no amplification) and theory's crossover marked where the predicted ratio
crosses 1 (for JTT that is e* = e0: its gain alpha(1-alpha)(lambda-1)(e*-e0)/Z changes sign
there). The ratio's denominator is the realised collective share where the row stores one.

The former measured-vs-predicted scatter lies on y = x by construction for the reweighting
bookkeeping, so it is drawn only when no row belongs to a reweighting algorithm of the registry
(rows whose learner the registry does not name).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd

from collective_action.intervals import mean_interval

from .common import (_tick_text, build_claim_figure, curve_labels, draw_selected, experiment_looks, has_data, numeric,
                     plot_agreement, set_alpha_axis)
from .looks import CurveLooks
from .panels import panel_name
from .style import DATA_LINEWIDTH, KEY_GREY, THEORY_LINEWIDTH
from .theory_curves import crossings

from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402  (after the style's backend)

TITLE = "C2. Distributionally robust learners change the collective's effective size"
RATIO_LABEL = r"amplification $\alpha_{\mathrm{eff}} / \alpha$ (log)"
#: Legend keys of the amplification panel (drawn after the curves, in grey).
ONE_KEY = "ratio 1: no amplification"
PREDICTED_KEY = "theory: predicted ratio"
CROSSOVER_KEY = "theory: crossover (ratio = 1)"
#: Labels (hidden from legends) of the drawn lines, so they can be read back from the axes.
PREDICTED_PREFIX = "_predicted: "
CROSSOVER_PREFIX = "_crossover: "


def reweighting_learners() -> set[str]:
    """Registry names of the algorithms that reweight points (their ``statistic`` is not None)."""
    from collective_action.algorithms import ALGORITHMS

    return {name for name, cls in ALGORITHMS.items() if cls.statistic is not None}


def amplification_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of reweighting learners with both alpha_eff columns and a positive alpha."""
    if "learner" not in frame.columns or not len(frame):
        return frame.iloc[0:0]
    keep = (frame["learner"].astype(str).isin(reweighting_learners()) & (numeric(frame, "alpha") > 0)
            & numeric(frame, "alpha_eff_measured").notna() & numeric(frame, "alpha_eff_predicted").notna())
    return frame[keep]


def _ratios(rows: pd.DataFrame, column: str) -> pd.Series:
    """alpha_eff / alpha per row, alpha being the realised share where the row stores one."""
    alpha = numeric(rows, "alpha")
    realised = numeric(rows, "alpha_realised")
    denominator = realised.where((realised > 0) & realised.notna(), alpha)
    return numeric(rows, column) / denominator


def ratio_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per alpha: measured ratio (mean, 95% interval over seeds) and mean predicted ratio."""
    measured, predicted, alphas = _ratios(rows, "alpha_eff_measured"), _ratios(rows, "alpha_eff_predicted"), \
        numeric(rows, "alpha")
    out = []
    for a in sorted(alphas.unique()):
        at = alphas == a
        mean, lower, upper = mean_interval(measured[at].tolist())
        out.append({"alpha": a, "mean": mean, "lower": mean if lower != lower else lower,
                    "upper": mean if upper != upper else upper,
                    "predicted": float(predicted[at].mean())})
    return pd.DataFrame(out, columns=["alpha", "mean", "lower", "upper", "predicted"])


def amplification_panel(ax, frame: pd.DataFrame, looks: CurveLooks, experiment: str | None = None) -> None:
    """alpha_eff / alpha against alpha for one experiment's reweighting learners (see the module doc).

    Curves keep the labels, colours and markers of the experiment's own rows of panels (``looks``,
    the extra row's shared map, is not used), so a learner looks the same here as in its success
    panel -- and, being a registered algorithm, as in every other figure."""
    if experiment is not None and "experiment" in frame.columns:
        frame = frame[frame["experiment"].astype(str) == experiment]
    frame = frame[numeric(frame, "alpha") > 0]
    # the experiment's own curve labels and looks: the same as in its success panel above
    all_labels = curve_labels(frame)
    own = experiment_looks(frame)
    rows = amplification_rows(frame)
    labels = all_labels[rows.index]
    ordered = sorted(labels.unique())
    span = math.log10(rows["alpha"].max() / rows["alpha"].min()) if len(rows) else 0.0
    step = max(0.025, 0.02 * span) if span > 0 else 0.05
    k = len(ordered)
    ys = []
    for i, label in enumerate(ordered):
        look = own[label]
        s = ratio_summary(rows[labels == label])
        dodge = 10 ** ((i - (k - 1) / 2) * step) if k > 1 else 1.0
        yerr = np.vstack([s["mean"] - s["lower"], s["upper"] - s["mean"]])
        ax.errorbar(s["alpha"] * dodge, s["mean"], yerr=yerr, fmt=look.marker, color=look.colour, label=label,
                    linestyle="none", markeredgecolor="white", markeredgewidth=0.4, elinewidth=DATA_LINEWIDTH,
                    zorder=3)
        ax.plot(s["alpha"], s["predicted"], "-", color=look.colour, linewidth=THEORY_LINEWIDTH,
                label=PREDICTED_PREFIX + label, zorder=2)
        for x in crossings(s["alpha"], s["predicted"]):
            ax.axvline(x, linestyle="-.", color=look.colour, linewidth=THEORY_LINEWIDTH - 0.1,
                       label=CROSSOVER_PREFIX + label, zorder=1)
        ys += [v for v in np.concatenate([s["lower"], s["upper"], s["predicted"]]) if v == v and v > 0]
    ax.axhline(1.0, linestyle=":", color=KEY_GREY, linewidth=THEORY_LINEWIDTH + 0.2, label=ONE_KEY, zorder=1)
    ax.plot([], [], "-", color=KEY_GREY, linewidth=THEORY_LINEWIDTH + 0.2, label=PREDICTED_KEY)
    if any(line.get_label().startswith(CROSSOVER_PREFIX) for line in ax.get_lines()):
        ax.plot([], [], "-.", color=KEY_GREY, linewidth=THEORY_LINEWIDTH + 0.2, label=CROSSOVER_KEY)
    set_alpha_axis(ax, rows["alpha"].tolist(), dodge_decades=step * max(k - 1, 0) / 2)
    ax.set_yscale("log")
    if ys:
        lo, hi = min(min(ys), 1.0), max(max(ys), 1.0)
        ax.set_ylim(lo / 1.4, hi * 1.4)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v) if v > 0 else ""))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"collective size $\alpha$")
    ax.set_ylabel(RATIO_LABEL)
    title = experiment.split("-", 1)[1] if experiment and experiment.startswith("c2-") else (experiment or "")
    ax.set_title(title or "amplification", loc="left")


def alpha_eff_panel(ax, frame: pd.DataFrame, looks: CurveLooks) -> None:
    """Measured against predicted alpha_eff (log-log, y = x): drawn only without reweighting rows."""
    positive = (numeric(frame, "alpha_eff_predicted") > 0) & (numeric(frame, "alpha_eff_measured") > 0)
    plot_agreement(ax, frame[positive], "alpha_eff_predicted", "alpha_eff_measured",
                   r"predicted $\alpha_{\mathrm{eff}}$ (weight share, log)",
                   r"measured $\alpha_{\mathrm{eff}}$ (weight share, log)", looks, log=True)
    ax.set_title("effective size: measured vs predicted", loc="left")


def extra_panels(frame: pd.DataFrame) -> list:
    """(panel name, draw) of one amplification panel per experiment with reweighting rows
    (``EXPERIMENT/amplification``); else of the agreement scatter (``alpha-eff-agreement``)."""
    if not (has_data(frame, "alpha_eff_predicted") and has_data(frame, "alpha_eff_measured")):
        return []
    rows = amplification_rows(frame)
    if len(rows):
        names = sorted(rows["experiment"].astype(str).unique()) if "experiment" in rows.columns else [None]
        return [(panel_name("amplification", name), functools.partial(amplification_panel, experiment=name))
                for name in names]
    return [("alpha-eff-agreement", alpha_eff_panel)]


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C2 figure; ``panels`` (kinds) and ``size`` as in ``common.build_claim_figure``."""
    return build_claim_figure(frame, TITLE, extra_panels=extra_panels(frame), panels=panels, size=size)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C2 from stored results into ``out_dir``/c2.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c2")
