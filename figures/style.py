"""The paper style shared by every figure: readable fonts, Okabe-Ito colours, thin spines.

Okabe & Ito's eight colours stay distinguishable under the common forms of colour blindness;
markers differ too, so a figure still reads in black and white.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # figures are files; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

#: Okabe-Ito palette; yellow last because thin yellow lines are hard to see on white.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: Width of one panel in inches (a two-column paper's column is about 3.3 in).
PANEL_WIDTH = 3.2
PANEL_HEIGHT = 2.6

RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
    "errorbar.capsize": 2.0,
    "legend.frameon": False,
    "savefig.bbox": "tight",
    "savefig.dpi": 200,
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by publishers
    "ps.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=list(OKABE_ITO)),
}


@contextmanager
def paper_style():
    """Apply the paper style inside a ``with`` block (leaves the caller's settings alone)."""
    with plt.rc_context(RC):
        yield


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def marker(i: int) -> str:
    # shifted once per pass through the colours, so (colour, marker) pairs stay distinct
    return MARKERS[(i + i // len(OKABE_ITO)) % len(MARKERS)]
