"""C2: DRO changes the collective's effective size.

Top rows: success against alpha per learner (ERM, JTT, CVaR, LfF, ...), with clean and
worst-group accuracy beside it. Last row: the effective size alpha_eff the theory predicts from
the measured stage-1 error shares (x) against the training weight the algorithm really gave the
collective (y), with the y = x line -- points on the line mean the theory explains the learner.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .common import build_claim_figure, has_data, numeric, plot_agreement, save_figure

TITLE = "C2. Distributionally robust learners change the collective's effective size"


def alpha_eff_panel(ax, frame: pd.DataFrame, colours: dict) -> None:
    positive = (numeric(frame, "alpha_eff_predicted") > 0) & (numeric(frame, "alpha_eff_measured") > 0)
    plot_agreement(ax, frame[positive], "alpha_eff_predicted", "alpha_eff_measured",
                   r"predicted $\alpha_{\mathrm{eff}}$ (weight share, log)",
                   r"measured $\alpha_{\mathrm{eff}}$ (weight share, log)", colours, log=True)
    ax.set_title("effective size: measured vs predicted", loc="left")


def build(frame: pd.DataFrame):
    extra = [alpha_eff_panel] if has_data(frame, "alpha_eff_predicted") and has_data(frame, "alpha_eff_measured") else []
    return build_claim_figure(frame, TITLE, extra_panels=extra)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C2 from stored results into ``out_dir``/c2.png and .pdf."""
    return save_figure(build(frame), out_dir, "c2")
