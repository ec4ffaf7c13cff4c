"""`collective-action stress`: run the synthetic stress battery and write its table, figure and summary."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..compute_options import ARRAY_BACKEND_OPTION, LEGACY_BACKEND_OPTION
from ..output import JSON_OPTION, _clean


def register(app: typer.Typer) -> None:
    @app.command("stress")
    def stress(
        quick: bool = typer.Option(False, "--quick", help="Apply each scenario's quick: overrides (minutes on 2 cores)."),
        array_backend: str = ARRAY_BACKEND_OPTION,
        out: Path = typer.Option(Path("results/stress"), "--out", help="Output folder."),
        scenario: Optional[List[str]] = typer.Option(None, "--scenario", help="Run only this scenario (repeatable)."),
        battery_file: Optional[List[Path]] = typer.Option(
            None, "--file", help="Battery file(s) (YAML); default: the shipped experiments/stress_*.yaml."),
        list_only: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
        as_json: bool = JSON_OPTION,
        backend: str = LEGACY_BACKEND_OPTION,
    ) -> int:
        """Train every scenario of the battery for real; flag VIOLATION, NOT_CONVERGED and NAN rows."""
        import json
        import sys

        from ...simulate.backend import get_backend
        from ...simulate.stress import load_battery, run_battery
        from ...simulate.stress_report import flag_counts, scenario_summary, write_outputs

        backend = backend or array_backend
        bk = get_backend(backend)  # bad input fails here, before anything runs or is written
        battery = load_battery(battery_file or None)
        if list_only:
            rows = [{"scenario": s.name, "engine": s.engine, "stresses": s.stresses,
                     "points": len(s.points(quick=quick))} for s in battery.scenarios]
            if as_json:
                typer.echo(json.dumps({"battery": battery.name, "scenarios": rows}))
            else:
                for r in rows:
                    typer.echo(f"{r['scenario']:<30} {r['engine']:<9} {r['points']:>3} points  {r['stresses']}")
            return 0
        if scenario:
            known = {s.name for s in battery.scenarios}
            from ...errors import InputError

            bad = [n for n in scenario if n not in known]
            if bad:
                raise InputError(f"unknown scenario {bad[0]!r}; choose from: {', '.join(sorted(known))}")
        from ...runs.sweep import check_writable

        check_writable(out)  # before the battery runs: its outputs must have somewhere to go
        report = (lambda line: None) if as_json else (lambda line: typer.echo(f"  {line}", err=True))
        result = run_battery(battery, quick=quick, backend=backend, scenarios=scenario or None, progress=report)
        paths = write_outputs(result, out, battery=battery.name, quick=quick, backend=bk.name, device=bk.device)
        counts = flag_counts(result.table)
        per = scenario_summary(result.table, result.timings)
        if as_json:
            payload = {"battery": battery.name, "quick": quick, "backend": bk.name, "device": bk.device,
                       "rows": int(len(result.table)), "flags": counts, "out": str(out), "files": paths,
                       "scenarios": per.to_dict(orient="records")}
            typer.echo(json.dumps(_clean(payload)))
            return 0
        typer.echo(f"stress {battery.name}{' (quick)' if quick else ''}: {len(result.table)} rows on "
                   f"{bk.name} ({bk.device}) -> {out}")
        typer.echo(f"flags: {counts['VIOLATION']} VIOLATION, {counts['NOT_CONVERGED']} NOT_CONVERGED, {counts['NAN']} NAN")
        keep = ["scenario", "rows", "tightness_min", "tightness_median", "vacuous_share", "violation",
                "not_converged", "nan", "seconds"]
        typer.echo(per[keep].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        sys.stdout.flush()
        return 0
