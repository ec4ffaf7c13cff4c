"""Printing numbers for people (a small table) or for programs (--json)."""

from __future__ import annotations

import json
import math
from typing import Any

import typer


def _clean(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit(payload: dict[str, Any], as_json: bool, title: str | None = None) -> None:
    """Print ``payload`` as one JSON object (``as_json``) or as aligned ``key  value`` lines."""
    if as_json:
        typer.echo(json.dumps(_clean(payload), sort_keys=False))
        return
    if title:
        typer.echo(title)
    width = max((len(k) for k in payload), default=0)
    for key, value in payload.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        typer.echo(f"  {key.ljust(width)}  {value}")


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object instead of text.")
LATEX_OPTION = typer.Option(False, "--latex", help="Print the formula (LaTeX) instead of a number.")


def load_pillar_experiment(path, pillar: str):
    """Load an experiment file and check it belongs to ``pillar`` (InputError otherwise)."""
    from ..errors import InputError
    from ..experiment import load_experiment

    exp = load_experiment(path)
    if exp.spec.pillar != pillar:
        raise InputError(f"{path}: pillar is {exp.spec.pillar!r}, not {pillar!r}")
    return exp


def write_results(frame, out, experiment_name: str):
    """Write ``frame`` as results.parquet and results.csv under ``out`` (default results/<name>)."""
    from pathlib import Path

    folder = Path(out) if out else Path("results") / experiment_name
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "results.parquet", index=False)
    frame.to_csv(folder / "results.csv", index=False)
    return folder


def format_intervals(summary, columns: dict[str, tuple[str, str]]):
    """A copy of ``summary`` whose ``columns`` read 'mean [low, high]' (bounds named per column)."""
    shown = summary.copy()
    for col, (lo, hi) in columns.items():
        shown[col] = [f"{m:.3f} [{a:.3f}, {b:.3f}]" for m, a, b in zip(shown[col], shown[lo], shown[hi])]
    return shown


def run_to_store(exp, out, *, quick: bool, executor: str, compute, batch_size, workers, progress: bool):
    """Run ``exp`` through the sweep runner into the results folder ``out`` (default
    results/<name>): every finished cell in its store, so `results` and `plot` read it and a
    rerun resumes; results.parquet and results.csv are exports of this experiment's rows.
    Returns (frame, folder, report); failed cells end the command with exit 1 after the export."""
    from pathlib import Path

    from ..runs.store import store_path
    from ..runs.sweep import run_sweep

    target = Path(out) if out else Path("results") / exp.name
    report = run_sweep(exp, target, executor=executor, workers=workers, batch_size=batch_size, quick=quick,
                       progress=progress, compute=compute)
    folder = store_path(target).parent  # the exports sit beside the store
    frame = report.frame()
    try:
        frame.to_parquet(folder / "results.parquet", index=False)
        frame.to_csv(folder / "results.csv", index=False)
    except OSError as err:  # disk full or write access lost after the run: the store holds every cell
        from ..errors import InputError

        raise InputError(f"cannot write {err.filename or folder} ({err.strerror or err}); every cell is "
                         f"stored in {store_path(target)}: make room or restore write access and run the same "
                         "command again (it reruns nothing) or export with `collective-action results`") from None
    if report.n_failed:
        typer.echo(f"error: {report.n_failed} cell(s) failed; see `collective-action results {folder} --failed`",
                   err=True)
    return frame, folder, report
