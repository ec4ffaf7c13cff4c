"""`collective-action report DIR`: one self-contained HTML page of a results folder."""

from __future__ import annotations

from pathlib import Path

import typer

from ..output import JSON_OPTION


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        folder: Path = typer.Argument(..., help="A results folder of any command: reproduce, sweep, simulate, "
                                                "train, stress or critical-mass."),
        out: Path = typer.Option(None, "--out", help="The HTML file to write (default: DIR/report.html)."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Write one HTML page (figures inline, tables with intervals over seeds, each experiment's
        configuration, the toolkit version, the command lines that reproduce it); it opens offline."""
        import json

        from ...runs.report import write_report

        path = write_report(folder, out)
        if as_json:
            typer.echo(json.dumps({"folder": str(folder), "report": str(path), "bytes": path.stat().st_size}))
        else:
            typer.echo(f"report of {folder} -> {path}")
        return 0
