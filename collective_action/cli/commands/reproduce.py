"""`collective-action reproduce CLAIM`: run a claim's shipped experiment files and draw its figure."""

from __future__ import annotations

from pathlib import Path

import typer

from ..compute_options import (ADDRESS_OPTION, ARRAY_BACKEND_OPTION, DEVICE_OPTION, EXECUTOR_OPTION,
                               LEGACY_BACKEND_OPTION, THREADS_OPTION, WORKERS_OPTION, make_compute)
from ..output import JSON_OPTION


def register(app: typer.Typer) -> None:
    @app.command("reproduce")
    def reproduce_cmd(
        claim: str = typer.Argument(..., help="C1 ... C7, or all."),
        quick: bool = typer.Option(False, "--quick", help="Use each file's quick: sizes (minutes on 2 cores)."),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/quick or results/full)."),
        executor: str = EXECUTOR_OPTION,
        array_backend: str = ARRAY_BACKEND_OPTION,
        device: str = DEVICE_OPTION,
        threads: int = THREADS_OPTION,
        address: str = ADDRESS_OPTION,
        workers: int = WORKERS_OPTION,
        batch_size: int = typer.Option(None, "--batch-size", help="Cells per pillar call (default: automatic)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
        as_json: bool = JSON_OPTION,
        backend: str = LEGACY_BACKEND_OPTION,
    ) -> int:
        """Run CLAIM's experiment files through the sweep runner (resuming) and draw its figure."""
        import json
        import time

        from ...runs.reproduce import reproduce

        target = out or Path("results") / ("quick" if quick else "full")

        def show(r) -> None:  # printed as each claim finishes: a long run reports as it goes
            if as_json:
                return
            if r.note and not r.files:
                typer.echo(f"{r.claim}: {r.note}")
                return
            typer.echo(f"{r.claim}: {r.cells} cells ({r.ran} run, {r.failed} failed) from {', '.join(r.files)} "
                       f"in {r.wall_s:.1f} s")
            for path in r.figures:
                typer.echo(f"  figure  {path}")
            if r.note:
                typer.echo(f"  note    {r.note}")

        started = time.perf_counter()
        reports = reproduce(claim, target, quick=quick, executor=backend or executor, workers=workers,
                            address=address, batch_size=batch_size, progress=progress, on_claim=show,
                            compute=make_compute(array_backend, device, threads))
        failed = sum(r.failed for r in reports)
        if as_json:
            typer.echo(json.dumps({"out": str(target), "claims": [r.as_dict() for r in reports]}))
        else:
            # the claims' spans overlap (a claim's figures are drawn while the next one computes)
            typer.echo(f"total {time.perf_counter() - started:.1f} s; figures in {target / 'figures'}")
        if failed:
            typer.echo(f"error: {failed} cell(s) failed; list them with `collective-action results "
                       f"{target}/<claim> --failed`", err=True)
            raise typer.Exit(1)
        return 0
