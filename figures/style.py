"""The paper style shared by every figure: page sizes, readable fonts, Okabe-Ito colours, thin spines.

Figures are drawn at the width they are printed at, so their text prints at its nominal size
(8 pt axis text, 9 pt titles, 7 pt ticks and legends) with no shrinking. Two page sizes
(``SIZES``): ``double`` (the default) spans both columns of a two-column paper, 7.2 in wide with
three panels per row (2.4 in each); ``single`` fits one column, 3.5 in wide with one panel per
row. A row holding more panels than the size's columns wraps onto further rows.

Okabe & Ito's eight colours stay distinguishable under the common forms of colour blindness.
They are ordered strongest first (black, blue, vermillion, bluish green, orange, reddish purple,
sky blue); yellow (#F0E442) is listed last and never used for markers or lines because it is
unreadable on white. Markers differ too, so a figure still reads in black and white.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # figures are files; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

#: Okabe-Ito palette, strong colours first; yellow last (kept for completeness, never drawn).
OKABE_ITO = ("#000000", "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
#: The colours curves cycle through: every Okabe-Ito colour but yellow.
CURVE_COLOURS = OKABE_ITO[:7]
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")



@dataclass(frozen=True)
class PageSize:
    """A figure's printed width (inches) and the panel columns that fit it."""

    name: str
    width: float
    columns: int

    @property
    def panel_width(self) -> float:
        return self.width / self.columns


#: The page sizes a figure is drawn at: one column or both columns of a two-column paper.
SIZES = {"single": PageSize("single", 3.5, 1), "double": PageSize("double", 7.2, 3)}
DEFAULT_SIZE = "double"

#: The default (double-column) figure width (inches) and the panel grid it holds.
FIGURE_WIDTH = SIZES[DEFAULT_SIZE].width
N_COLUMNS = SIZES[DEFAULT_SIZE].columns
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
    "svg.hashsalt": "collective-action",  # fixed SVG element ids: the same figure, the same file
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


def page_size(name: str | None = None) -> PageSize:
    """The page size called ``name`` (None: the active drawing options' size, else double)."""
    from collective_action.errors import check_choice

    if name is None:
        from .options import current

        name = current().size
    return SIZES[check_choice("figure size", name, SIZES)]
