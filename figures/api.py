"""The plotting API: draw any figure kind from stored results and get its named panels back.

::

    from collective_action.figures import draw, save
    from collective_action.runs.sweep import read_results

    fig, panels = draw(read_results("results/quick/c2"), "C2", panels=["success", "amplification"],
                       size="single")
    panels["c2-simulate-dro/success"].set_ylim(0, 1)   # restyle anything before saving
    save(fig, "figs/c2", formats=["pdf", "svg"])

``draw`` returns a :class:`Drawing`: the matplotlib Figure and a dict panel name -> Axes
(``ROW/KIND`` or ``KIND``, see :mod:`.panels`); nothing is written or closed until ``save``.
The data is what the figure modules read: a results DataFrame (claims C1-C7 and the generic
``results`` figure), a stress table (``stress``) or a critical-mass table (``critical-mass``),
or the path of such a table saved as CSV or Parquet.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd

from collective_action.errors import InputError

from .output import write_figure
from .panels import FIGURE_PANELS, check_panels, kind_of, panels_of

#: Every kind of figure, in the order of the docs' gallery.
FIGURE_KINDS = tuple(FIGURE_PANELS)
#: Title of the generic figure of a sweep whose claim is unknown (success, clean, worst-group).
RESULTS_TITLE = "Results: success and accuracies against the collective's size"


class Drawing(NamedTuple):
    """A drawn figure and its named data panels (``fig, panels = draw(...)``)."""

    figure: object
    panels: dict

    def of_kind(self, kind: str) -> list:
        """The panels of one kind (``success``, ``amplification``, ...), in drawing order."""
        return [ax for name, ax in self.panels.items() if kind_of(name) == kind]

    def save(self, out_stem: str | Path, formats: Sequence[str] | None = None, dpi: float | None = None,
             close: bool = True) -> list[Path]:
        return save(self.figure, out_stem, formats, dpi, close)


def check_kind(kind: str) -> str:
    """The figure kind as written in ``FIGURE_KINDS`` ('c2' -> 'C2'); InputError for an unknown one."""
    by_lower = {k.lower(): k for k in FIGURE_KINDS}
    key = str(kind).strip().lower()
    if key not in by_lower:
        raise InputError(f"unknown figure kind {kind!r}; choose one of: {', '.join(FIGURE_KINDS)}")
    return by_lower[key]


def _table(data) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    path = Path(data)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise InputError(f"{path}: give a DataFrame or a table saved as .csv or .parquet "
                     "(a results folder: collective_action.runs.sweep.read_results(folder))")


def build(data, kind: str, panels: Sequence[str] | None = None, size: str | None = None):
    """The matplotlib Figure of ``kind`` drawn from ``data`` (see :func:`draw`)."""
    kind = check_kind(kind)
    panels = check_panels(panels) if panels is not None else None
    frame = _table(data)
    if kind == "stress":
        from .stress import build_tightness

        return build_tightness(frame, panels=panels, size=size)
    if kind == "critical-mass":
        from .critical_mass import build_leaderboard

        return build_leaderboard(frame, panels=panels, size=size)
    if kind == "results":
        from .common import build_claim_figure

        return build_claim_figure(frame, RESULTS_TITLE, panels=panels, size=size)
    return importlib.import_module(f"{__package__}.{kind.lower()}").build(frame, panels=panels, size=size)


def draw(data, kind: str, panels: Sequence[str] | None = None, size: str | None = None) -> Drawing:
    """Draw the figure ``kind`` (one of ``FIGURE_KINDS``: 'C1' ... 'C7', 'stress',
    'critical-mass', 'results') from ``data``, with only the panel kinds ``panels`` (None: every
    panel the data fills) at page size ``size`` ('single' or 'double'; None: the active drawing
    options', double by default). Returns ``Drawing(figure, panels)``. Raises
    ``panels.NoPanelSelected`` when the data fills none of ``panels``."""
    fig = build(data, kind, panels, size)
    return Drawing(fig, panels_of(fig))


def save(fig, out_stem: str | Path, formats: Sequence[str] | None = None, dpi: float | None = None,
         close: bool = True) -> list[Path]:
    """Write ``out_stem``.png/.pdf/.svg for each of ``formats`` (None: the active drawing
    options', PNG and PDF by default); ``dpi`` sets the PNG resolution. Returns the paths."""
    return write_figure(fig, out_stem, formats, dpi, close)
