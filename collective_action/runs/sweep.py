"""The sweep runner: an experiment file in, a results store out, resumable at any moment.

``run_sweep`` expands the experiment into cells (grid x seeds, each with a stable ``cell_id``),
skips the cells already stored as done, runs the rest in batches on a backend (serial, a local
process pool, or Ray), and stores every finished cell at once, in its own transaction. Killing
the process at any moment loses at most the cells in flight; running the same command again
resumes, and the final table equals an uninterrupted run's (apart from timing columns).

Example::

    from collective_action.runs.sweep import run_sweep
    report = run_sweep("experiments/c1_bayes.yaml", "results/c1", backend="pool", quick=True)
    frame = report.frame()          # one pandas DataFrame, rows_to_frame schema
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .._version import __version__
from .executors import BACKENDS, Batch, WorkerPool, run_pool, run_ray, run_serial, utc_now
from .schedule import gather_shared_training, longest_first, split_lone_cells
from ..compute import Compute
from ..errors import InputError, check_choice
from ..experiment import Cell, Experiment, canonical_json, get_pillar, load_experiment
from ..results import rows_to_frame
from .compute_check import check_compute
from .store import ResultStore, StoreWriteError, store_path

#: Cells per batch when the caller does not choose: enough batches to keep every worker busy
#: and to lose little on a kill, capped so one batch never holds a large share of the sweep.
MAX_AUTO_BATCH = 32


@dataclass
class SweepReport:
    """What a sweep did. ``frame()`` reads this experiment's stored rows back."""

    out: Path
    experiment: str
    cell_ids: list[str]
    n_cells: int
    n_skipped: int
    n_run: int
    n_failed: int
    failures: list[tuple[str, str]] = field(default_factory=list)
    wall_s: float = 0.0
    backend: str = "pool"

    def frame(self) -> pd.DataFrame:
        with ResultStore.open(self.out) as store:
            return store.frame(cell_ids=self.cell_ids)

    def summary(self) -> dict:
        return {
            "experiment": self.experiment,
            "out": str(self.out),
            "backend": self.backend,
            "cells": self.n_cells,
            "already_stored": self.n_skipped,
            "ran": self.n_run,
            "failed": self.n_failed,
            "wall_s": round(self.wall_s, 3),
        }


def experiment_fingerprint(experiment: Experiment, quick: bool) -> str:
    """Hash of the validated experiment file and the quick flag: tells 'same sweep' from 'edited'."""
    payload = canonical_json({"spec": experiment.spec.model_dump(mode="json"), "quick": bool(quick)})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_batches(cells: list[Cell], batch_size: int) -> list[Batch]:
    """Consecutive cells of the same pillar, at most ``batch_size`` per batch, in grid order."""
    batches: list[Batch] = []
    for cell in cells:
        if batches and len(batches[-1]) < batch_size and batches[-1][0].pillar == cell.pillar:
            batches[-1].append(cell)
        else:
            batches.append([cell])
    return batches


def auto_batch_size(n_cells: int, workers: int) -> int:
    return max(1, min(MAX_AUTO_BATCH, math.ceil(n_cells / (4 * max(1, workers)))))


def check_options(executor: str, workers: int | None, address: str | None, batch_size: int | None) -> int:
    """Validate runner options (before anything is written); returns the worker count."""
    check_choice("executor", executor, BACKENDS)
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    if address and executor != "ray":
        raise InputError("--address needs --executor ray")
    if executor == "ray":
        from .executors import check_ray_address, ray_module

        ray_module()
        if address:
            check_ray_address(address)
    return workers or os.cpu_count() or 1


def _check_folder_writable(folder: Path, label: str) -> None:
    """InputError unless ``folder`` exists as a writable folder or can be made (its nearest
    existing ancestor is a writable folder)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{label}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{label}: {probe} is not writable")


def check_writable(out: Path, option: str = "--out", store: bool = True) -> None:
    """InputError unless the output location can be created and written, before any work: a
    folder (or, with ``store``, a store file named ``*.sqlite``) that exists or can be made."""
    out = Path(out)
    named_file = store and out.suffix == ".sqlite"
    if out.exists() and not out.is_dir() and not named_file:
        raise InputError(f"{option} {out} exists and is not a folder")
    folder = out if (out.is_dir() or not named_file) else out.parent
    _check_folder_writable(folder, f"{option} {out}")
    if out.exists() and out.is_file() and not os.access(out, os.W_OK):
        raise InputError(f"{option} {out} is not writable")
    if store and store_path(out).is_file() and not os.access(store_path(out), os.R_OK | os.W_OK):
        raise InputError(f"{option} {out}: its results store {store_path(out)} is not writable")


def check_writable_file(path: Path, option: str) -> None:
    """InputError unless the file ``path`` can be written (made, or replaced), before any work."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; name a file")
    _check_folder_writable(path.parent, f"{option} {path}")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path} is not writable")


def check_compatible(store: ResultStore, exp: Experiment, fingerprint: str, *, resume: bool, share_store: bool,
                     hint: str = "pass --resume to keep its stored cells and run the new ones, or choose another --out") -> None:
    """Refuse to mix results of different sweeps in one folder unless asked to (``resume``)."""
    out = store.path.parent
    known = store.experiments()
    others = sorted(set(known) - {exp.name})
    if store.count() and others and not (resume or share_store) and exp.name not in known:
        raise InputError(
            f"{out} holds results of experiment {', '.join(others)}, not {exp.name}; "
            "pass --resume to add to it or choose another --out"
        )
    if exp.name in known and known[exp.name]["fingerprint"] != fingerprint and not resume:
        raise InputError(
            f"{out} holds an earlier version of experiment {exp.name} (the file or --quick changed); {hint}"
        )


def run_sweep(
    experiment: Experiment | str | Path | dict,
    out: str | Path,
    *,
    executor: str = "pool",
    workers: int | None = None,
    address: str | None = None,
    batch_size: int | None = None,
    quick: bool = False,
    resume: bool = False,
    progress: bool = True,
    share_store: bool = False,
    pool: WorkerPool | None = None,
    compute: Compute | None = None,
    backend: str | None = None,
) -> SweepReport:
    """Run (or resume) one experiment's sweep into the results folder ``out``.

    ``resume``: also allowed to add to a store holding other experiments, or an earlier version
    of this one (without it that is an error, so results of different sweeps are not mixed by
    accident). ``share_store``: a store meant to hold several experiments (``reproduce`` puts
    all files of one claim in one folder). ``pool``: a WorkerPool to reuse across sweeps.
    ``compute`` (array library, device, threads) reaches every cell's pillar. ``backend`` is the
    former name of ``executor``. Raises InputError for bad input before writing.
    """
    if backend is not None:
        executor = backend
    compute = compute or Compute()
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    n_workers = check_options(executor, workers, address, batch_size)
    check_compute(compute)
    cells = exp.cells(quick=quick)
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise InputError(f"{exp.source}: two cells have the same configuration and seed (a grid axis repeats a value)")
    out = Path(out)
    check_writable(out)
    fingerprint = experiment_fingerprint(exp, quick)
    for name in sorted({c.pillar for c in cells}):  # configurations that cannot run: before any write
        pillar = get_pillar(name)
        if getattr(pillar, "check_cells", None) is not None:
            pillar.check_cells([c for c in cells if c.pillar == name])

    t_start = time.perf_counter()
    ResultStore.set_aside_if_damaged(out)  # a corrupt store is kept under another name, never overwritten
    store = ResultStore.open(out, create=True)
    try:
        # an incompatible folder is refused before the lock file is made; checked again under the lock
        check_compatible(store, exp, fingerprint, resume=resume, share_store=share_store)
        store.lock()
        check_compatible(store, exp, fingerprint, resume=resume, share_store=share_store)
        store.register_experiment(exp.name, fingerprint, exp.source, quick, utc_now())
        store.save_spec(exp.name, exp.spec.model_dump(mode="json"), quick)
        damaged = store.mark_damaged_failed()
        if damaged:
            sys.stderr.write(f"note: {len(damaged)} stored cell(s) had damaged rows and run again: "
                             f"{', '.join(damaged[:5])}{' ...' if len(damaged) > 5 else ''}\n")

        done = store.done_ids()
        todo = [c for c in cells if c.cell_id not in done]
        size = batch_size or auto_batch_size(len(todo), n_workers)
        batches = make_batches(todo, size)
        if batch_size is None and executor != "serial":  # long unstackable cells: one per batch
            batches = split_lone_cells(batches, compute)
        batches = gather_shared_training(batches, compute)  # cells of one training: one batch, one training
        if executor != "serial":  # several workers: the costliest batches first (runs/schedule.py)
            batches = longest_first(batches)
        if executor == "serial":
            stream = run_serial(batches, compute)
        elif executor == "pool":
            stream = run_pool(batches, n_workers, pool, compute)
        else:
            stream = run_ray(batches, workers, address, compute)

        failures: list[tuple[str, str]] = []
        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=exp.name, unit="cell",
                   file=sys.stderr, disable=not progress, dynamic_ncols=True, leave=True)
        n_ok = 0
        try:
            for outcomes in stream:
                for outcome in outcomes:
                    store.write(outcome, __version__)
                    if outcome.ok:
                        n_ok += 1
                    else:
                        failures.append((outcome.cell_id, outcome.error or "failed"))
                bar.set_postfix(done=len(cells) - len(todo) + n_ok, failed=len(failures),
                                remaining=len(todo) - n_ok - len(failures), refresh=False)
                bar.update(len(outcomes))
        except KeyboardInterrupt:
            bar.close()
            sys.stderr.write(f"interrupted: {len(cells) - len(todo) + n_ok} of {len(cells)} cells stored in {out}; "
                             "run the same command again to resume\n")
            raise
        except StoreWriteError as err:  # disk full, write access lost: what was committed stays
            bar.close()
            raise StoreWriteError(f"{err}; {len(cells) - len(todo) + n_ok + len(failures)} of {len(cells)} cells "
                                  "are stored; make room or restore write access, then run the same command "
                                  "again to resume") from None
        finally:
            bar.close()
            stream.close()
        if n_ok and len(todo) < len(cells):  # resumed: were the earlier cells computed like these?
            _note_mixed_environments(store, exp.name, ids)
    finally:
        store.close()
    return SweepReport(
        out=out, experiment=exp.name, cell_ids=ids, n_cells=len(cells), n_skipped=len(cells) - len(todo),
        n_run=len(todo), n_failed=len(failures), failures=failures,
        wall_s=time.perf_counter() - t_start, backend=executor,
    )


_NOTED_MIXED: set[tuple[str, str]] = set()


def _note_mixed_environments(store: ResultStore, name: str, ids: list[str]) -> None:
    """One note on stderr when the experiment's cells in ``store`` come from more than one environment
    (once per folder and experiment in a process: a critical-mass search resumes its sweep every round)."""
    from .provenance import describe, environments, mixed_environments_note

    key = (str(store.path), name)
    if key in _NOTED_MIXED:
        return
    envs = environments(store.frame(cell_ids=ids))
    if len(envs) > 1:
        _NOTED_MIXED.add(key)
        listed = "; ".join(f"{describe(r)} ({r['cells']} cells)" for _, r in envs.iterrows())
        sys.stderr.write(f"note: {name}: {mixed_environments_note(len(envs))}. Environments: {listed}\n")


def _store_paths(folder: Path) -> list[Path]:
    paths = [store_path(folder)] if store_path(folder).is_file() else sorted(folder.glob("*/results.sqlite"))
    if not paths:
        raise InputError(f"no results store in {folder} (expected {store_path(folder)})")
    return paths


def read_results(folder: str | Path) -> pd.DataFrame:
    """Every done row under ``folder``: its own store, or the stores of its sub-folders
    (``reproduce`` writes one per claim), as one DataFrame."""
    frames = []
    for path in _store_paths(Path(folder)):
        with ResultStore.open(path) as store:
            frames.append(store.frame())
            if store.skipped_damaged:
                ids = store.skipped_damaged
                print(f"note: skipped {len(ids)} cell(s) of {path} whose stored rows are damaged "
                      f"(checksum mismatch): {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}; "
                      "`sweep --resume` recomputes them", file=sys.stderr)
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True, sort=False) if frames else rows_to_frame([])


def read_failures(folder: str | Path) -> pd.DataFrame:
    """The failed cells under ``folder`` (one store or a ``reproduce`` folder) with their errors."""
    frames = []
    for path in _store_paths(Path(folder)):
        with ResultStore.open(path) as store:
            frames.append(store.failures())
    return pd.concat(frames, ignore_index=True)
