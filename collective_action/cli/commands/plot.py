"""`collective-action plot DIR`: redraw every figure from stored results (no recomputation)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..output import JSON_OPTION, emit


def register(app: typer.Typer) -> None:
    @app.command("plot")
    def plot(
        folder: Path = typer.Argument(..., help="A `reproduce` folder (with c1/ ... c7/), one sweep's folder, a "
                                      "`critical-mass` folder or its critical_mass.csv."),
        figures: Path = typer.Option(None, "--figures", help="Where to write figures (default: DIR/figures)."),
        claim: str = typer.Option(None, "--claim", help="Claim of a single sweep's folder (default: from its name)."),
        panel: Optional[List[str]] = typer.Option(
            None, "--panel", help="Draw only panels of this kind (repeatable): success, clean, worst-group, "
            "amplification, success-agreement, alpha-eff-agreement, interaction, noise, learners, tightness, "
            "leaderboard. Default: every panel."),
        size: str = typer.Option("double", "--size", help="single (one column, 3.5 in wide) | double (two "
                                 "columns, 7.2 in wide)."),
        fmt: Optional[List[str]] = typer.Option(None, "--format", help="png | pdf | svg (repeatable; default: png "
                                                "and pdf)."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Draw the figures of every claim stored under DIR (PNG and PDF unless --format says otherwise)."""
        from ...errors import InputError
        from ...figures.options import drawing
        from ...runs.reproduce import redraw

        with drawing(panels=panel or None, size=size, formats=fmt or None) as options:  # checked before any work
            drawn = redraw(folder, figures, claim)
        empty = [key for key, paths in drawn.items() if not paths]
        drawn = {key: paths for key, paths in drawn.items() if paths}
        if options.panels is not None and not drawn:
            raise InputError(f"no figure under {folder} has a panel of kind {', '.join(options.panels)}")
        for key in empty:
            print(f"note: {key} has no panel of kind {', '.join(options.panels or ())}; not drawn", file=sys.stderr)
        emit({claim_key: ", ".join(paths) for claim_key, paths in drawn.items()} if not as_json else drawn,
             as_json, title="figures")
        return 0
