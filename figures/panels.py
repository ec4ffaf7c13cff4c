"""Names of the panels a figure is made of, so they can be chosen, found and restyled.

Every data panel of every figure is a matplotlib Axes whose label is its name: ``ROW/KIND`` where
the figure has rows (the experiment, or what else the row stands for, e.g.
``c2-simulate-dro/success``) or just ``KIND`` (``tightness``). ``KIND`` is one of
``PANEL_KINDS``, the same word wherever that quantity is drawn; selecting panels (``--panel``,
``panels=``) names kinds. ``panels_of(fig)`` reads the names back from any drawn figure.
"""

from __future__ import annotations

from typing import Iterable

from collective_action.errors import check_choices

#: Every panel kind, with what it shows.
PANEL_KINDS = {
    "success": "the collective's success against its size (C6: against n/N)",
    "clean": "clean test accuracy against the collective's size",
    "worst-group": "worst-group test accuracy against the collective's size",
    "amplification": "alpha_eff / alpha against alpha, per experiment with reweighting learners (C2)",
    "success-agreement": "measured success against theory's (C5)",
    "alpha-eff-agreement": "measured alpha_eff against predicted (C2 without reweighting rows, C5)",
    "interaction": "collective 0's success over the grid alpha_0 x alpha_1 (C7)",
    "noise": "collective 0's success against its noise share (C7)",
    "learners": "two collectives' success per learning algorithm (C7: Gaussian and Fashion-MNIST tug of war)",
    "tightness": "bound / measured success per stress scenario",
    "leaderboard": "critical mass alpha* per group, per experiment and target",
}

#: The panels against alpha every claim figure draws when its rows hold the data.
ALPHA_PANELS = ("success", "clean", "worst-group")

#: Figure kind -> the panel kinds it can hold (which ones appear depends on the stored columns).
FIGURE_PANELS = {
    "C1": ALPHA_PANELS,
    "C2": ALPHA_PANELS + ("amplification", "alpha-eff-agreement"),
    "C3": ALPHA_PANELS,
    "C4": ALPHA_PANELS,
    "C5": ALPHA_PANELS + ("success-agreement", "alpha-eff-agreement"),
    "C6": ("success", "clean"),
    "C7": ("interaction", "noise", "learners", "clean"),
    "stress": ("tightness",),
    "critical-mass": ("leaderboard",),
    "results": ALPHA_PANELS,
}

SEPARATOR = "/"


class NoPanelSelected(ValueError):
    """A figure holds none of the panels asked for: nothing to draw."""


def check_panels(names: Iterable[str]) -> tuple[str, ...]:
    """The panel kinds, each once, in the order given; InputError for an unknown one."""
    return check_choices("panel", names, PANEL_KINDS)


def selected_panels(panels: Iterable[str] | None = None) -> tuple[str, ...] | None:
    """The panel kinds to draw: ``panels`` validated, else the active drawing options' (None: all)."""
    if panels is not None:
        return check_panels(panels)
    from .options import current

    return current().panels


def wanted(kind: str, panels: tuple[str, ...] | None) -> bool:
    return panels is None or kind in panels


def require_any(kinds: Iterable[str], panels: tuple[str, ...] | None, figure: str) -> None:
    """NoPanelSelected when ``figure``, made of panels of ``kinds``, holds none of ``panels``."""
    kinds = sorted(set(kinds))
    if panels is not None and kinds and not set(kinds) & set(panels):
        raise NoPanelSelected(f"{figure} has none of the panels {', '.join(panels)}; its panels: {', '.join(kinds)}")


def panel_name(kind: str, row: str | None = None) -> str:
    """``ROW/KIND``, or ``KIND`` for a figure without rows."""
    if kind not in PANEL_KINDS:
        raise ValueError(f"unknown panel kind {kind!r}")
    return f"{row}{SEPARATOR}{kind}" if row else kind


def name_panel(ax, kind: str, row: str | None = None) -> None:
    """Give ``ax`` its panel name (its matplotlib label)."""
    ax.set_label(panel_name(kind, row))


def kind_of(name: str) -> str:
    return name.rsplit(SEPARATOR, 1)[-1]


def panels_of(fig) -> dict:
    """Panel name -> Axes of every named data panel of ``fig``, in drawing order."""
    return {ax.get_label(): ax for ax in fig.axes if kind_of(ax.get_label()) in PANEL_KINDS}
