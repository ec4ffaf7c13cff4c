"""`collective-action simulate EXPERIMENT.yaml`: run a simulate experiment, store and summarise it."""

from __future__ import annotations

from pathlib import Path

import typer

from ..output import JSON_OPTION, _clean, format_intervals, load_pillar_experiment, write_results


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML) with pillar: simulate."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        backend: str = typer.Option("auto", "--backend", help="auto | numpy | cupy"),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment name>)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Train every configuration (batched), write results.parquet and results.csv, print a summary."""
        import json

        from ...simulate.backend import get_backend
        from ...simulate.runner import run
        from ...simulate.summary import summarise

        exp = load_pillar_experiment(experiment, "simulate")
        bk = get_backend(backend)  # bad input fails here, before anything is written
        frame = run(exp, quick=quick, backend=backend, progress=progress)
        folder = write_results(frame, out, exp.name)
        summary = summarise(frame)
        if as_json:
            payload = {"experiment": exp.name, "backend": bk.name, "device": bk.device,
                       "rows": int(len(frame)), "out": str(folder),
                       "summary": summary.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
            return 0
        typer.echo(f"simulate {exp.name}: {len(frame)} rows on {bk.name} ({bk.device}) -> {folder}")
        shown = format_intervals(summary, {"success": ("success_lo", "success_hi"),
                                           "clean_accuracy": ("clean_lo", "clean_hi")})
        keep = [c for c in ("learner", "series", "alpha", "seeds", "success", "clean_accuracy", "alpha_eff_measured",
                            "alpha_eff_predicted", "success_theory", "success_bound") if c in shown]
        typer.echo(shown[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return 0
