"""The stress battery: experiment files with an ``assess:`` section, swept into one store, assessed.

Each scenario is an ordinary experiment file (``experiments/stress/*.yaml`` ship with the package;
a user writes more without Python). :func:`run_stress` sweeps every scenario into one results store
(any executor, resumable like every sweep), then reads the stored rows back and holds them against
theory (:func:`collective_action.assess.assess_experiment`). :func:`write_outputs` writes the
stress table (CSV, Parquet), the per-seed rows (an export of the store), a Markdown summary and the
tightness figure. ``collective-action results OUT`` and ``plot`` read the same store.

Example::

    from collective_action.runs.stress import load_scenarios, run_stress
    run = run_stress(load_scenarios(), "results/stress", quick=True, executor="serial")
    run.table.query("flags != ''")[["scenario", "point", "alpha", "flags", "violation_cause"]]
"""

from __future__ import annotations

import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..assess import flag_counts, scenario_summary, assess_experiment
from ..compute import Compute
from ..errors import InputError
from ..experiment import Experiment, load_experiment
from .compute_check import check_compute
from .executors import WorkerPool, connect_ray, ray_module
from .store import ResultStore, has_store
from .sweep import _store_paths, check_compatible, check_options, check_writable, experiment_fingerprint, run_sweep


def shipped_scenario_files() -> list[Path]:
    """The stress scenarios shipped with the package (experiments/stress/*.yaml)."""
    import collective_action.experiments as pkg

    return sorted((Path(pkg.__file__).parent / "stress").glob("*.yaml"))


def load_scenarios(paths=None, names: list[str] | None = None) -> list[Experiment]:
    """Read and validate scenario files (default: the shipped ones), optionally only ``names``.

    Every file must have an ``assess:`` section; scenario (experiment) names must be unique.
    """
    paths = [Path(p) for p in (paths or shipped_scenario_files())]
    if not paths:
        raise InputError("no stress scenario files found")
    scenarios: list[Experiment] = []
    for path in paths:
        exp = load_experiment(path)
        if exp.spec.assess is None:
            raise InputError(f"{path}: not a stress scenario (no assess: section)")
        if any(s.name == exp.name for s in scenarios):
            raise InputError(f"{path}: duplicate scenario name {exp.name!r}")
        scenarios.append(exp)
    if names:
        known = [s.name for s in scenarios]
        bad = [n for n in names if n not in known]
        if bad:
            raise InputError(f"unknown scenario {bad[0]!r}; choose from: {', '.join(sorted(known))}")
        scenarios = [s for s in scenarios if s.name in names]
    return scenarios


@dataclass
class StressRun:
    table: pd.DataFrame            # one row per (scenario, grid point, swept alpha, collective)
    raw: pd.DataFrame              # the stored rows: one per (cell, collective)
    timings: dict = field(default_factory=dict)   # seconds per scenario
    failed: int = 0


def run_stress(scenarios: list[Experiment], out: str | Path, *, quick: bool = False, executor: str = "pool",
               workers: int | None = None, address: str | None = None, resume: bool = False,
               compute: Compute | None = None, progress=None) -> StressRun:
    """Sweep every scenario into ``out`` (one store), then assess the stored rows.

    Checked before anything is written: the options, the compute settings, ``out`` and (when ``out``
    holds an earlier run) that the scenarios are the same versions. ``progress(line)`` is called
    as each scenario finishes.
    """
    compute = check_compute(compute or Compute())
    n_workers = check_options(executor, workers, address, None)
    out = Path(out)
    check_writable(out)
    for exp in scenarios:
        exp.cells(quick=quick)  # a quick override that breaks the file fails here, before any write
    if has_store(out) and not resume and ResultStore.set_aside_if_damaged(out) is None:
        with ResultStore.open(out) as store:
            for exp in scenarios:
                check_compatible(store, exp, experiment_fingerprint(exp, quick), resume=False, share_store=True,
                                 hint="pass --resume, or choose another --out (quick and full runs need separate folders)")
    timings, ids, failed = {}, [], 0
    with ExitStack() as stack:
        pool = stack.enter_context(WorkerPool(n_workers, compute.threads)) if executor == "pool" else None
        if executor == "ray" and connect_ray(workers, address):
            stack.callback(ray_module().shutdown)
        for exp in scenarios:
            t0 = time.perf_counter()
            report = run_sweep(exp, out, executor=executor, workers=workers, address=address, quick=quick,
                               resume=resume, progress=False, share_store=True, pool=pool, compute=compute)
            timings[exp.name] = time.perf_counter() - t0
            ids += report.cell_ids
            failed += report.n_failed
            if progress:
                progress(f"{exp.name}: {report.n_run} cells run, {report.n_skipped} stored, "
                         f"{report.n_failed} failed, {timings[exp.name]:.1f} s")
    with ResultStore.open(out) as store:
        raw = store.frame(cell_ids=ids)
    table = assess_table(scenarios, raw, quick=quick)
    return StressRun(table, raw, timings, failed)


def assess_table(scenarios: list[Experiment], raw: pd.DataFrame, *, quick: bool = False) -> pd.DataFrame:
    """The stress table of ``scenarios`` from stored rows (no computation)."""
    parts = [assess_experiment(exp, raw, quick=quick) for exp in scenarios]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["scenario", "flags"])


def stored_scenarios(folder: str | Path) -> list[tuple[Experiment, bool]]:
    """The scenarios (experiments with an assess: section) whose specs a store under ``folder`` keeps,
    each with the quick flag it ran with."""
    from ..experiment import ExperimentFile

    out = []
    for path in _store_paths(Path(folder)):
        with ResultStore.open(path) as store:
            for name, saved in store.specs().items():
                if saved["spec"].get("assess") is not None:
                    spec = ExperimentFile.model_validate(saved["spec"])
                    out.append((Experiment(spec=spec, source=f"{path}:{name}"), bool(saved["quick"])))
    return out


def assess_folder(folder: str | Path) -> pd.DataFrame:
    """The stress table of every scenario stored under ``folder``, from the store alone (no computation)."""
    from .sweep import read_results

    scenarios = stored_scenarios(folder)
    if not scenarios:
        raise InputError(f"{folder} holds no stress scenarios (experiments with an assess: section)")
    raw = read_results(folder)
    parts = [assess_experiment(exp, raw, quick=quick) for exp, quick in scenarios]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["scenario", "flags"])


def draw_stored_stress(folder: str | Path, figures_dir: str | Path) -> list[str]:
    """Draw the tightness figure of the scenarios stored under ``folder``; [] when it holds none."""
    from ..figures.stress import draw_tightness

    if not stored_scenarios(folder):
        return []
    table = assess_folder(folder)
    if not len(table):
        return []
    return [str(p) for p in draw_tightness(table, Path(figures_dir) / "stress_tightness")]


def _fmt(v, digits=3) -> str:
    if isinstance(v, (float, np.floating)):
        return "-" if not math.isfinite(v) else f"{v:.{digits}g}"
    return str(v)


def markdown_summary(run: StressRun, *, quick: bool, compute: Compute | None = None) -> str:
    table = run.table
    counts = flag_counts(table)
    per = scenario_summary(table, run.timings)
    where = ""
    if len(table) and "backend" in table:
        where = f" on {', '.join(sorted(set(table['backend'].astype(str))))} ({', '.join(sorted(set(table['device'].astype(str))))})"
    lines = [f"# Stress battery ({'quick' if quick else 'full'})", "",
             f"{len(table)} rows from {len(per)} scenarios{where}, "
             f"{sum(run.timings.values()):.0f} s. Flags: {counts['VIOLATION']} VIOLATION, {counts['LOOSE']} LOOSE, "
             f"{counts['NOT_CONVERGED']} NOT_CONVERGED, {counts['NAN']} NAN.", "",
             "Tightness = bound / measured mean success over seeds (1 = tight; informative bounds only); "
             "reweighting learners are checked by alpha_eff (predicted / measured) instead.", "",
             "| scenario | stresses | rows | tightness min / median / max | vacuous | VIOL | LOOSE | NOT_CONV | NAN | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in per.iterrows():
        lines.append(f"| {r['scenario']} | {r['stresses']} | {r['rows']} | {_fmt(r['tightness_min'])} / "
                     f"{_fmt(r['tightness_median'])} / {_fmt(r['tightness_max'])} | {_fmt(r['vacuous_share'], 2)} | "
                     f"{r['violation']} | {r['loose']} | {r['not_converged']} | {r['nan']} | {_fmt(r['seconds'], 2)} |")
    flagged = table[table["flags"].fillna("") != ""] if len(table) else table
    lines += ["", "## Flagged rows", ""]
    if flagged.empty:
        lines.append("None.")
    for _, r in flagged.iterrows():
        lines.append(f"- **{r['scenario']}** ({r['point']}, alpha={_fmt(r['alpha'])}, collective {r['collective']}): "
                     f"{r['flags']} - {r['violation_cause']}")
    lines += ["", "Columns: see docs/stress.md. Files: stress_table.csv/.parquet (one row per scenario, grid "
              "point, alpha and collective), stress_raw.parquet (the stored rows, one per cell and collective), "
              "stress_tightness.png/.pdf; results.sqlite is the store (`collective-action results`)."]
    return "\n".join(lines) + "\n"


def write_outputs(run: StressRun, out: Path, *, quick: bool) -> dict:
    """Write the table, the per-seed rows, the summary and the figure under ``out``; returns {kind: path}."""
    try:
        return _write_outputs(run, Path(out), quick=quick)
    except OSError as err:  # disk full or access lost after the run: every cell is in the store
        raise InputError(f"cannot write the stress outputs in {out} ({err.strerror or err}); every cell is stored: "
                         f"`collective-action results {out} --assess` rebuilds the table once there is room") from None


def _write_outputs(run: StressRun, out: Path, *, quick: bool) -> dict:
    from ..figures.stress import draw_tightness

    out.mkdir(parents=True, exist_ok=True)
    paths = {"table_csv": out / "stress_table.csv", "table_parquet": out / "stress_table.parquet",
             "raw_parquet": out / "stress_raw.parquet", "summary": out / "stress_summary.md"}
    run.table.to_csv(paths["table_csv"], index=False)
    run.table.to_parquet(paths["table_parquet"], index=False)
    run.raw.to_parquet(paths["raw_parquet"], index=False)
    paths["summary"].write_text(markdown_summary(run, quick=quick))
    if len(run.table):
        png, pdf = draw_tightness(run.table, out / "stress_tightness",
                                  title=f"Stress battery{' (quick)' if quick else ''}: tightness per scenario")
        paths["figure_png"], paths["figure_pdf"] = png, pdf
    return {k: str(v) for k, v in paths.items()}
