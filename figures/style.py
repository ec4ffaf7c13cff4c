"""The paper style shared by every figure: readable fonts, Okabe-Ito colours, thin spines.

Figures are laid out for a DOUBLE-COLUMN page: 7 in wide, three panels per row (about 2.3 in
each), 8 pt text and 7 pt legends, so they are readable printed at 100% (no shrinking needed).

Okabe & Ito's eight colours stay distinguishable under the common forms of colour blindness.
They are ordered strongest first (black, blue, vermillion, bluish green, orange, reddish purple,
sky blue); yellow (#F0E442) is listed last and never used for markers or lines because it is
unreadable on white. Markers differ too, so a figure still reads in black and white.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # figures are files; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

#: Okabe-Ito palette, strong colours first; yellow last (kept for completeness, never drawn).
OKABE_ITO = ("#000000", "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
#: The colours curves cycle through: every Okabe-Ito colour but yellow.
CURVE_COLOURS = OKABE_ITO[:7]
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: Double-column figure width (inches) and the panel grid it holds.
FIGURE_WIDTH = 7.0
N_COLUMNS = 3
PANEL_WIDTH = FIGURE_WIDTH / N_COLUMNS
PANEL_HEIGHT = 1.9
#: Theory curves are thinner than the data's error bars so the measurements stay in front.
THEORY_LINEWIDTH = 0.9
DATA_LINEWIDTH = 1.2
#: Colour of legend keys that explain line styles rather than name a curve.
KEY_GREY = "0.35"

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "figure.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": DATA_LINEWIDTH,
    "lines.markersize": 4.0,
    "errorbar.capsize": 1.5,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.columnspacing": 1.2,
    "savefig.dpi": 200,
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by publishers
    "ps.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=list(CURVE_COLOURS)),
}


@contextmanager
def paper_style():
    """Apply the paper style inside a ``with`` block (leaves the caller's settings alone)."""
    with plt.rc_context(RC):
        yield


def colour(i: int) -> str:
    """Colour of curve ``i``: strong colours first, yellow never."""
    return CURVE_COLOURS[i % len(CURVE_COLOURS)]


def marker(i: int) -> str:
    # 7 colours and 8 markers are coprime cycles: (colour, marker) pairs repeat only after 56 curves
    return MARKERS[i % len(MARKERS)]


def save_png_pdf(fig, out_stem) -> list:
    """Write ``out_stem``.png and .pdf (tight bounding box, the paper's small padding), close the
    figure, and return the two paths."""
    from pathlib import Path

    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, bbox_inches="tight", pad_inches=0.03)
    plt.close(fig)
    return paths
