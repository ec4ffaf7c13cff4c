"""`collective-action stress`: sweep the stress scenarios into one store, assess them, write the table, figure and summary."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..compute_options import (ADDRESS_OPTION, ARRAY_BACKEND_OPTION, DEVICE_OPTION, EXECUTOR_OPTION,
                               LEGACY_BACKEND_OPTION, THREADS_OPTION, WORKERS_OPTION, make_compute)
from ..output import JSON_OPTION, _clean


def register(app: typer.Typer) -> None:
    @app.command("stress")
    def stress(
        quick: bool = typer.Option(False, "--quick", help="Apply each scenario's quick: overrides (seconds on 2 cores)."),
        executor: str = EXECUTOR_OPTION,
        array_backend: str = ARRAY_BACKEND_OPTION,
        device: str = DEVICE_OPTION,
        threads: int = THREADS_OPTION,
        workers: int = WORKERS_OPTION,
        address: str = ADDRESS_OPTION,
        out: Path = typer.Option(Path("results/stress"), "--out", help="Output folder (holds the results store)."),
        resume: bool = typer.Option(False, "--resume", help="Add to a folder holding other versions of the scenarios."),
        scenario: Optional[List[str]] = typer.Option(None, "--scenario", help="Run only this scenario (repeatable)."),
        scenario_file: Optional[List[Path]] = typer.Option(
            None, "--file", help="Scenario file(s): experiment files with an assess: section; default: the shipped experiments/stress/*.yaml."),
        list_only: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
        as_json: bool = JSON_OPTION,
        backend: str = LEGACY_BACKEND_OPTION,
    ) -> int:
        """Train every scenario for real; flag VIOLATION, LOOSE, NOT_CONVERGED and NAN rows."""
        import json
        import sys

        from ...assess import flag_counts, scenario_summary
        from ...runs.stress import load_scenarios, run_stress, write_outputs

        compute = make_compute(backend or array_backend, device, threads)  # bad input fails before any work
        scenarios = load_scenarios(scenario_file or None, scenario or None)
        if list_only:
            rows = [{"scenario": s.name, "family": s.spec.config.get("family", ""),
                     "stresses": s.spec.description.strip(), "cells": len(s.cells(quick=quick))} for s in scenarios]
            if as_json:
                typer.echo(json.dumps({"scenarios": rows}))
            else:
                for r in rows:
                    typer.echo(f"{r['scenario']:<30} {r['family']:<16} {r['cells']:>4} cells  {r['stresses']}")
            return 0
        report = (lambda line: None) if as_json else (lambda line: typer.echo(f"  {line}", err=True))
        run = run_stress(scenarios, out, quick=quick, executor=executor, workers=workers, address=address,
                         resume=resume, compute=compute, progress=report)
        paths = write_outputs(run, out, quick=quick)
        counts = flag_counts(run.table)
        per = scenario_summary(run.table, run.timings)
        if as_json:
            payload = {"quick": quick, "executor": executor, "array_backend": compute.array_backend,
                       "rows": int(len(run.table)), "failed_cells": run.failed, "flags": counts, "out": str(out),
                       "files": paths, "scenarios": per.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
        else:
            typer.echo(f"stress{' (quick)' if quick else ''}: {len(run.table)} rows from {len(scenarios)} scenarios "
                       f"-> {out}")
            typer.echo(f"flags: {counts['VIOLATION']} VIOLATION, {counts['LOOSE']} LOOSE, "
                       f"{counts['NOT_CONVERGED']} NOT_CONVERGED, {counts['NAN']} NAN")
            keep = ["scenario", "rows", "tightness_min", "tightness_median", "vacuous_share", "violation",
                    "loose", "not_converged", "nan", "seconds"]
            if len(per):
                typer.echo(per[keep].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
            sys.stdout.flush()
        if run.failed:
            typer.echo(f"error: {run.failed} cell(s) failed; see `collective-action results {out} --failed`", err=True)
            raise typer.Exit(1)
        return 0
