"""`collective-action sweep EXPERIMENT.yaml`: run or resume a sweep into a results folder."""

from __future__ import annotations

from pathlib import Path

import typer

from ..compute_options import (ADDRESS_OPTION, ARRAY_BACKEND_OPTION, DEVICE_OPTION, EXECUTOR_OPTION,
                               LEGACY_BACKEND_OPTION, THREADS_OPTION, WORKERS_OPTION, make_compute)
from ..output import JSON_OPTION, emit


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML)."),
        executor: str = EXECUTOR_OPTION,
        array_backend: str = ARRAY_BACKEND_OPTION,
        device: str = DEVICE_OPTION,
        threads: int = THREADS_OPTION,
        address: str = ADDRESS_OPTION,
        workers: int = WORKERS_OPTION,
        batch_size: int = typer.Option(None, "--batch-size", help="Cells per pillar call (default: automatic)."),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment name>)."),
        resume: bool = typer.Option(False, "--resume", help="Allow adding to a folder holding other results."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        as_json: bool = JSON_OPTION,
        backend: str = LEGACY_BACKEND_OPTION,
    ) -> int:
        """Run every cell of EXPERIMENT not yet stored; each finished cell is stored at once."""
        from ...experiment import load_experiment
        from ...runs.sweep import run_sweep

        exp = load_experiment(experiment)
        report = run_sweep(
            exp, out or Path("results") / exp.name, executor=backend or executor, workers=workers, address=address,
            batch_size=batch_size, quick=quick, resume=resume, progress=progress,
            compute=make_compute(array_backend, device, threads),
        )
        payload = report.summary()
        if report.failures:
            payload["first_failure"] = f"{report.failures[0][0]}: {report.failures[0][1]}"
        emit(payload, as_json, title="sweep")
        if report.n_failed:
            typer.echo(f"error: {report.n_failed} cell(s) failed; see `collective-action results {report.out} --failed`",
                       err=True)
            raise typer.Exit(1)
        return 0
