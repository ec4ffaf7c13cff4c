"""`collective-action results DIR`: export a results folder (or its stress table) as CSV, Parquet or JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ...errors import InputError, check_choice

FORMATS = ("csv", "parquet", "json")


def register(app: typer.Typer) -> None:
    @app.command("results")
    def results(
        folder: Path = typer.Argument(..., help="Results folder (of `sweep` or `reproduce`)."),
        fmt: str = typer.Option("csv", "--format", help="csv | parquet | json"),
        output: Path = typer.Option(None, "--output", "-o", help="File to write (default: stdout; needed for parquet)."),
        failed: bool = typer.Option(False, "--failed", help="List the failed cells and their errors instead."),
        assess: bool = typer.Option(False, "--assess", help="The stress table instead: stored scenarios (assess: "
                                    "sections) held against theory, one row per grid point, alpha and collective."),
    ) -> int:
        """Read every stored row back as one table (the store is checked first)."""
        from ...runs.sweep import check_writable_file, read_failures, read_results

        check_choice("format", fmt, FORMATS)
        if fmt == "parquet" and output is None:
            raise InputError("--format parquet needs --output FILE (it is a binary format)")
        if failed and assess:
            raise InputError("choose one of --failed and --assess")
        if output is not None:
            check_writable_file(output, "--output")  # before the store is read, not after
        if assess:
            from ...runs.stress import assess_folder

            frame = assess_folder(folder)
        else:
            frame = read_failures(folder) if failed else read_results(folder)
        if fmt == "csv":
            text = frame.to_csv(index=False)
        elif fmt == "json":
            text = frame.to_json(orient="records", lines=False, double_precision=15)
        if output is None:
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
            return 0
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            _write_parquet(frame, output)
        else:
            output.write_text(text)
        typer.echo(f"wrote {len(frame)} rows to {output}", err=True)
        return 0


def _write_parquet(frame, output: Path) -> None:
    """Parquet needs one type per column: a column mixing lists and numbers (a trajectory in
    some rows, NaN in others) is written as JSON text instead."""
    import json

    try:
        frame.to_parquet(output, index=False)
        return
    except Exception:  # noqa: BLE001 - pyarrow raises several types for mixed columns
        pass
    frame = frame.copy()
    for column in frame.columns[frame.dtypes == object]:
        frame[column] = [v if isinstance(v, str) or v is None else json.dumps(v, default=str) for v in frame[column]]
    frame.to_parquet(output, index=False)
