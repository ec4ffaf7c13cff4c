"""Writing a drawn figure to files: the one place every figure is saved.

Raster PNG (for screens and HTML reports) and vector PDF and SVG (for papers: text stays text,
PDFs embed TrueType fonts). Every figure is saved with a tight bounding box and the paper's small
padding, in the paper style, then closed. The files carry no date and SVG ids are fixed, so
drawing the same results again writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from collective_action.errors import check_choices

from .style import paper_style

import matplotlib.pyplot as plt  # noqa: E402  (style sets the Agg backend first)

#: The file formats a figure can be written in.
FORMATS = ("png", "pdf", "svg")
#: What every command writes unless asked otherwise.
DEFAULT_FORMATS = ("png", "pdf")
#: Metadata that would make two drawings of the same figure differ (dates), left out.
_NO_DATE = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats, lower-cased, each once, in the order given; InputError for an unknown one."""
    return check_choices("figure format", formats, FORMATS, strip=".")


def write_figure(fig, out_stem: str | Path, formats: Sequence[str] | None = None, dpi: float | None = None,
                 close: bool = True) -> list[Path]:
    """Write ``out_stem``.<format> for every format (None: the active drawing options' formats);
    ``dpi`` sets the PNG resolution (None: the style's 200). Closes the figure unless ``close`` is
    False; returns the paths in the order of the formats."""
    if formats is None:
        from .options import current

        formats = current().formats
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(f"{stem.name}.{fmt}") for fmt in check_formats(formats)]
    with paper_style():
        for path in paths:
            fig.savefig(path, bbox_inches="tight", pad_inches=0.03, metadata=_NO_DATE.get(path.suffix[1:]),
                        **({"dpi": dpi} if dpi else {}))
    if close:
        plt.close(fig)
    return paths
