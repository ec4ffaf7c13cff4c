"""C1: Hardt et al.'s lower bound against the exact Bayes success (docs/theory.md §2-§4).

Lines: the bound and the closed-form/exact success (theory pillar rows, and the experiments'
``success_bound`` / ``success_theory`` columns); points: simulated success with 95% intervals
over seeds. The claim holds when no point lies below the bound by more than its Monte Carlo
error; the figure shows it, the pillars' tests assert it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .common import build_claim_figure, draw_selected

TITLE = "C1. Hardt et al.'s lower bound vs. the exact Bayes success"


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C1 figure; ``panels`` (kinds) and ``size`` as in ``common.build_claim_figure``."""
    return build_claim_figure(frame, TITLE, panels=panels, size=size)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C1 from stored results into ``out_dir``/c1.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c1")
