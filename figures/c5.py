"""C5: theory, simulator and empirical backend agree.

Agreement scatters (predicted on x, measured on y, the y = x line): closed-form/exact success
against measured success (95% intervals over seeds, or +-1.96 Monte Carlo SE for one seed), and
predicted against measured alpha_eff. Success against alpha is drawn above when alpha varies.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .common import build_claim_figure, draw_selected, has_data, plot_agreement, theory_rows
from .looks import CurveLooks

TITLE = "C5. Agreement of theory, simulation and training (dotted y = x: perfect agreement)"


def success_agreement_panel(ax, frame: pd.DataFrame, looks: CurveLooks) -> None:
    plot_agreement(ax, frame[~theory_rows(frame)], "success_theory", "success",
                   "theory's success (probability)", "measured success (probability)", looks)
    ax.set_title("success: measured vs theory", loc="left")


def alpha_eff_agreement_panel(ax, frame: pd.DataFrame, looks: CurveLooks) -> None:
    plot_agreement(ax, frame, "alpha_eff_predicted", "alpha_eff_measured",
                   r"predicted $\alpha_{\mathrm{eff}}$ (weight share)", r"measured $\alpha_{\mathrm{eff}}$ (weight share)",
                   looks)
    ax.set_title("effective size: measured vs predicted", loc="left")


def build(frame: pd.DataFrame, panels=None, size=None):
    """The C5 figure; ``panels`` (kinds) and ``size`` as in ``common.build_claim_figure``."""
    measured = frame[~theory_rows(frame)]
    extra = []
    if has_data(measured, "success_theory"):
        extra.append(("success-agreement", success_agreement_panel))
    if has_data(frame, "alpha_eff_predicted") and has_data(frame, "alpha_eff_measured"):
        extra.append(("alpha-eff-agreement", alpha_eff_agreement_panel))
    return build_claim_figure(frame, TITLE, extra_panels=extra, panels=panels, size=size)


def draw(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Draw C5 from stored results into ``out_dir``/c5.png and .pdf (the active drawing
    options' panels, size and formats; [] when it holds none of the panels selected)."""
    return draw_selected(build, frame, out_dir, "c5")
