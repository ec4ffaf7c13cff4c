"""Drawing options in force for a block of code: which panels, which page size, which file formats.

Every figure module reads them when a call does not say otherwise, so a caller that draws many
figures through code it does not own (``collective-action plot`` redrawing a whole results folder)
chooses them once::

    with drawing(panels=["success"], size="single", formats=["pdf", "svg"]):
        redraw("results/quick")

Outside such a block: every panel, the double-column size, PNG and PDF (what the commands have
always written). The options are checked when the block starts, so a bad value is an error
before anything is drawn.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterable, Iterator

from .output import DEFAULT_FORMATS, check_formats
from .panels import check_panels
from .style import DEFAULT_SIZE, page_size


@dataclass(frozen=True)
class DrawingOptions:
    """``panels``: the panel names to draw (None: all); ``size``: a key of ``style.SIZES``;
    ``formats``: the file formats written."""

    panels: tuple[str, ...] | None = None
    size: str = DEFAULT_SIZE
    formats: tuple[str, ...] = DEFAULT_FORMATS


_ACTIVE: ContextVar[DrawingOptions] = ContextVar("figure_drawing_options", default=DrawingOptions())


def current() -> DrawingOptions:
    """The options in force (the defaults outside a ``drawing`` block)."""
    return _ACTIVE.get()


def checked(panels: Iterable[str] | None = None, size: str | None = None,
            formats: Iterable[str] | None = None) -> DrawingOptions:
    """Options built from user input, every value validated (InputError naming the valid ones);
    an option left None keeps the value in force."""
    now = current()
    return DrawingOptions(
        panels=check_panels(panels) if panels is not None else now.panels,
        size=page_size(size).name if size is not None else now.size,
        formats=check_formats(formats) if formats is not None else now.formats,
    )


@contextmanager
def drawing(panels: Iterable[str] | None = None, size: str | None = None,
            formats: Iterable[str] | None = None) -> Iterator[DrawingOptions]:
    """Draw with these options inside the block (validated first; None keeps the value in force)."""
    token = _ACTIVE.set(checked(panels, size, formats))
    try:
        yield _ACTIVE.get()
    finally:
        _ACTIVE.reset(token)
