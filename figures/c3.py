"""C3: the validation set is a lever.

Success against alpha for each learner with a clean validation set and with one that holds the
collective's points (the ``series`` label names which), with clean accuracy beside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .common import build_claim_figure, draw_selected

TITLE = "C3. The validation set is a lever: clean validation vs. validation holding the collective"


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C3 figure; ``panels`` (kinds) and ``size`` as in ``common.build_claim_figure``."""
    return build_claim_figure(frame, TITLE, with_learner=True, panels=panels, size=size)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C3 from stored results into ``out_dir``/c3.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c3")
