"""`collective-action simulate EXPERIMENT.yaml`: run a simulate experiment, store and summarise it."""

from __future__ import annotations

from pathlib import Path

import typer

from ..compute_options import (ARRAY_BACKEND_OPTION, LEGACY_BACKEND_OPTION, SERIAL_EXECUTOR_OPTION,
                               THREADS_OPTION, WORKERS_OPTION, make_compute)
from ..output import JSON_OPTION, _clean, format_intervals, load_pillar_experiment, run_to_store


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML) with pillar: simulate."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        array_backend: str = ARRAY_BACKEND_OPTION,
        executor: str = SERIAL_EXECUTOR_OPTION,
        threads: int = THREADS_OPTION,
        workers: int = WORKERS_OPTION,
        batch_size: int = typer.Option(None, "--batch-size",
                                       help="Cells per batched call (default: every cell in one call when serial)."),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment name>)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        as_json: bool = JSON_OPTION,
        backend: str = LEGACY_BACKEND_OPTION,
    ) -> int:
        """Train every configuration (batched) into the results folder's store; export
        results.parquet and results.csv; print a summary. Rerunning resumes."""
        import json

        from ...limits import limit
        from ...simulate.backend import get_backend
        from ...simulate.summary import summarise

        exp = load_pillar_experiment(experiment, "simulate")
        compute = make_compute(array_backend=backend or array_backend, device="cpu", threads=threads)
        bk = get_backend(compute.array_backend)  # bad input fails here, before anything is written
        if batch_size is None and executor == "serial":
            batch_size = limit("cells")  # no experiment has more cells: one vectorised call
        frame, folder, report = run_to_store(exp, out, quick=quick, executor=executor, compute=compute,
                                             batch_size=batch_size, workers=workers, progress=progress)
        summary = summarise(frame)
        if as_json:
            payload = {"experiment": exp.name, "backend": bk.name, "device": bk.device,
                       "rows": int(len(frame)), "out": str(folder), "ran": report.n_run,
                       "already_stored": report.n_skipped, "summary": summary.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
        else:
            typer.echo(f"simulate {exp.name}: {len(frame)} rows on {bk.name} ({bk.device}) -> {folder}")
            shown = format_intervals(summary, {"success": ("success_lo", "success_hi"),
                                               "clean_accuracy": ("clean_lo", "clean_hi")})
            keep = [c for c in ("learner", "series", "alpha", "seeds", "success", "clean_accuracy", "alpha_eff_measured",
                                "alpha_eff_predicted", "success_theory", "success_bound") if c in shown]
            typer.echo(shown[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if report.n_failed:
            raise typer.Exit(1)
        return 0
