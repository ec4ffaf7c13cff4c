"""`collective-action train EXPERIMENT.yaml`: real SGD / DRO training of an empirical experiment."""

from __future__ import annotations

from pathlib import Path

import typer

from ..compute_options import (DEVICE_OPTION, SERIAL_EXECUTOR_OPTION, THREADS_OPTION, WORKERS_OPTION,
                               make_compute)
from ..output import JSON_OPTION, _clean, format_intervals, load_pillar_experiment, run_to_store


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML) with pillar: empirical."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        device: str = DEVICE_OPTION,
        executor: str = SERIAL_EXECUTOR_OPTION,
        threads: int = THREADS_OPTION,
        workers: int = WORKERS_OPTION,
        batch_size: int = typer.Option(None, "--batch-size", help="Cells per pillar call (default: automatic)."),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment name>)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Train every (configuration, seed) into the results folder's store; export
        results.parquet and results.csv; print a summary. Rerunning resumes."""
        import json

        from ...empirical.summary import summarise
        from ...empirical.train import pick_device

        exp = load_pillar_experiment(experiment, "empirical")
        compute = make_compute(device=device, threads=threads)  # a missing CUDA device fails here
        dev = pick_device(compute.device)
        frame, folder, report = run_to_store(exp, out, quick=quick, executor=executor, compute=compute,
                                             batch_size=batch_size, workers=workers, progress=progress)
        summary = summarise(frame)
        if as_json:
            payload = {"experiment": exp.name, "device": str(dev), "rows": int(len(frame)), "out": str(folder),
                       "ran": report.n_run, "already_stored": report.n_skipped,
                       "summary": summary.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
        else:
            typer.echo(f"train {exp.name}: {len(frame)} rows on {dev} -> {folder}")
            shown = format_intervals(summary, {col: (col + "_lo", col + "_hi") for col in ("success", "clean_accuracy")})
            keep = ([c for c in ("series", "model", "signal") if c in shown]
                    + ["alpha", "seeds", "success", "clean_accuracy", "alpha_eff_measured", "alpha_eff_predicted"])
            typer.echo(shown[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if report.n_failed:
            raise typer.Exit(1)
        return 0
