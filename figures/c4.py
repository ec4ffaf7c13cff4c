"""C4: simplicity bias decides which signals work.

Success against alpha with one curve per signal placement (``series``: simple block, complex
block, free coordinates; neutral or aligned patterns), one row of panels per learner (linear
vs network, GD vs max-margin). Theory's prediction for the linear case is drawn as lines.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .common import build_claim_figure, draw_selected

TITLE = "C4. Simplicity bias decides which signals work: success per signal placement"


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C4 figure; ``panels`` (kinds) and ``size`` as in ``common.build_claim_figure``."""
    return build_claim_figure(frame, TITLE, facet="learner", panels=panels, size=size)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C4 from stored results into ``out_dir``/c4.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c4")
