"""`collective-action plot DIR`: redraw every figure from stored results (no recomputation)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..output import JSON_OPTION, emit


def register(app: typer.Typer) -> None:
    @app.command("plot")
    def plot(
        folder: Path = typer.Argument(..., help="A `reproduce` folder (with c1/ ... c5/) or one sweep's folder."),
        figures: Path = typer.Option(None, "--figures", help="Where to write figures (default: DIR/figures)."),
        claim: str = typer.Option(None, "--claim", help="Claim of a single sweep's folder (default: from its name)."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Draw the figures (PNG and PDF) of every claim stored under DIR."""
        from ...runs.reproduce import redraw

        drawn = redraw(folder, figures, claim)
        emit({claim_key: ", ".join(paths) for claim_key, paths in drawn.items()} if not as_json else drawn,
             as_json, title="figures")
        return 0
