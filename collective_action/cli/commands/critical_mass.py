"""`collective-action critical-mass EXPERIMENT.yaml`: alpha*(target) per group, searched adaptively, with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..compute_options import (ADDRESS_OPTION, ARRAY_BACKEND_OPTION, DEVICE_OPTION, EXECUTOR_OPTION,
                               THREADS_OPTION, WORKERS_OPTION, make_compute)
from ..output import JSON_OPTION, _clean


def register(app: typer.Typer) -> None:
    @app.command("critical-mass")
    def critical_mass_command(
        experiment: Path = typer.Argument(..., help="Experiment file (YAML); its collective.alpha axis sets the range."),
        target: Optional[List[float]] = typer.Option(None, "--target", help="Target success (repeatable; default 0.5)."),
        metric: str = typer.Option("success", "--metric", help="success (over all x ~ P0; theory's) | attack_success (labels != y*)."),
        ratio: float = typer.Option(1.5, "--ratio", help="Stop when alpha*_hi / alpha*_lo <= this."),
        level: float = typer.Option(0.95, "--level", help="Confidence of the interval."),
        alpha_range: Optional[List[float]] = typer.Option(
            None, "--alpha-range", help="LO and HI of the search (give twice; default: the file's alpha axis)."),
        max_rounds: int = typer.Option(16, "--max-rounds", help="Rounds of trainings per search at most."),
        seeds: Optional[int] = typer.Option(
            None, "--seeds", help="Seeds per alpha: the file's first N, extended by the next integers (default: "
            "the file's). A search limited by seeds says about how many would close it; a stored training the "
            "new search asks for again is reused."),
        quick: bool = typer.Option(False, "--quick", help="Apply the file's quick: overrides."),
        out: Path = typer.Option(None, "--out", help="Results folder (default: results/<experiment>-critical-mass)."),
        executor: str = EXECUTOR_OPTION,
        array_backend: str = ARRAY_BACKEND_OPTION,
        device: str = DEVICE_OPTION,
        threads: int = THREADS_OPTION,
        workers: int = WORKERS_OPTION,
        address: str = ADDRESS_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> int:
        """Find the smallest alpha whose success reaches the target, per group of cells differing only in alpha.

        Every training is a cell of the results store (a rerun resumes and trains nothing stored);
        theory's prediction stands next to each measurement where theory has one. Writes
        OUT/critical_mass.csv and the leaderboard figure OUT/critical_mass.png/.pdf.
        """
        import json

        from ...errors import InputError
        from ...experiment import load_experiment
        from ...runs.critical_mass import critical_mass

        if alpha_range is not None and len(alpha_range) != 2:
            raise InputError("--alpha-range takes two values: give it twice (--alpha-range LO --alpha-range HI)")
        if max_rounds < 1:
            raise InputError(f"--max-rounds must be at least 1, got {max_rounds}")
        compute = make_compute(array_backend, device, threads)
        exp = load_experiment(experiment)
        out = out or Path("results") / f"{exp.name}-critical-mass"
        report = (lambda line: None) if as_json else (lambda line: typer.echo(f"  {line}", err=True))
        result = critical_mass(exp, out, targets=tuple(target or (0.5,)), ratio=ratio, level=level,
                               alpha_range=alpha_range, quick=quick, max_rounds=max_rounds, executor=executor,
                               workers=workers, address=address, compute=compute, progress=report, metric=metric,
                               n_seeds=seeds)
        table = result.table
        path = Path(out) / "critical_mass.csv"
        table.to_csv(path, index=False)
        from ...figures.critical_mass import draw_leaderboard

        figures = [str(p) for p in draw_leaderboard(table, Path(out) / "critical_mass")]
        if as_json:
            typer.echo(json.dumps(_clean({"experiment": exp.name, "out": str(out), "table": str(path),
                                          "trainings": result.trainings, "cells": result.cells,
                                          "trained_now": result.ran, "figures": figures,
                                          "rows": table.drop(columns=["evaluated", "config"]).to_dict(orient="records")})))
            return 0
        shared = f" from {result.cells} cells" if result.cells != result.trainings else ""
        typer.echo(f"critical mass of {exp.name}{' (quick)' if quick else ''}: {result.trainings} trainings{shared} "
                   f"({result.ran} cells now) -> {path}, {figures[0]}")
        keep = ["group", "target", "alpha_star", "alpha_star_lo", "alpha_star_hi", "status", "trainings",
                "clean_accuracy_at_hi", "theory_alpha_star", "hardt_alpha_star"]
        typer.echo(table[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        for _, row in table[table["seeds_to_decide"].notna()].iterrows():
            typer.echo(f"{row['group']}, target {row['target']:g}: limited by seeds; about "
                       f"{int(row['seeds_to_decide'])} seeds per alpha (now {int(row['seeds'])}) would close it to "
                       f"the ratio {ratio:g} (rerun with --seeds {int(row['seeds_to_decide'])})")
        return 0
