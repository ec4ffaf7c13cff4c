"""`collective-action train EXPERIMENT.yaml`: real SGD / DRO training of an empirical experiment."""

from __future__ import annotations

from pathlib import Path

import typer

from ..output import JSON_OPTION, _clean, format_intervals, load_pillar_experiment, write_results


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML) with pillar: empirical."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment name>)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="One line per finished run on stderr."),
        batch: bool = typer.Option(True, "--batch/--no-batch",
                                   help="Train ERM MLP cells that differ only in alpha and seed as one stacked model."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Train every (configuration, seed), write results.parquet and results.csv, print a summary."""
        import json

        from ...empirical.experiment import run_cells
        from ...empirical.summary import summarise
        from ...empirical.train import resolve_device
        from ...results import rows_to_frame

        exp = load_pillar_experiment(experiment, "empirical")
        dev = resolve_device(device)  # bad input fails here, before anything runs or is written
        cells = exp.cells(quick=quick)

        def report(i, n, row):
            if progress:
                typer.echo(f"[{i}/{n}] {row.extra['series']} alpha={row.alpha:g} seed={row.seed}: "
                           f"success {row.success:.3f}, clean {row.clean_accuracy:.3f}", err=True)

        rows = run_cells(cells, device=device, progress=report, batched=batch)
        frame = rows_to_frame([r for cell_rows in rows for r in cell_rows])
        folder = write_results(frame, out, exp.name)
        summary = summarise(frame)
        if as_json:
            payload = {"experiment": exp.name, "device": str(dev), "rows": int(len(frame)), "out": str(folder),
                       "summary": summary.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
            return 0
        typer.echo(f"train {exp.name}: {len(frame)} rows on {dev} -> {folder}")
        shown = format_intervals(summary, {col: (col + "_lo", col + "_hi") for col in ("success", "clean_accuracy")})
        keep = [c for c in ("series", "model", "signal") if c in shown] + ["alpha", "seeds", "success", "clean_accuracy", "alpha_eff_measured", "alpha_eff_predicted"]
        typer.echo(shown[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return 0
