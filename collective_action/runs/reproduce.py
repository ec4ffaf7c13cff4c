"""Reproduce a claim end to end: its shipped experiment files -> sweeps -> its figure.

Layout of a reproduction folder ``OUT``::

    OUT/c1/results.sqlite      every cell of every C1 experiment file (one store per claim)
    OUT/c2/results.sqlite
    OUT/figures/c1.png, c1.pdf one figure per claim, drawn from the stores only

``redraw(OUT)`` draws the figures again from the stores without recomputing anything.
"""

from __future__ import annotations

import concurrent.futures as cf
import re
import sys
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..compute import Compute
from .compute_check import check_compute
from .executors import WorkerPool, connect_ray, ray_module
from ..errors import InputError
from ..experiment import load_experiment
from ..experiments import experiment_files
from .store import ResultStore, has_store, store_path
from .sweep import check_compatible, check_options, check_writable, experiment_fingerprint, run_sweep

CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C6", "C7")


def parse_claims(claim: str) -> list[str]:
    """'all' -> every claim; 'c2' or 'C2' -> ['C2']; anything else is an InputError."""
    key = claim.strip().upper()
    if key == "ALL":
        return list(CLAIMS)
    if key not in CLAIMS:
        raise InputError(f"unknown claim {claim!r}; choose one of: {', '.join(CLAIMS)}, all")
    return [key]


@dataclass
class ClaimReport:
    """What one claim's reproduction did; ``wall_s`` runs from its first cell to its figures written
    (a claim's figures are drawn while the next claim computes, so the spans overlap)."""

    claim: str
    files: list[str] = field(default_factory=list)
    cells: int = 0
    ran: int = 0
    failed: int = 0
    wall_s: float = 0.0
    figures: list[str] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "claim": self.claim, "files": self.files, "cells": self.cells, "ran": self.ran,
            "failed": self.failed, "wall_s": round(self.wall_s, 2), "figures": self.figures, "note": self.note,
        }


def draw_claim(claim: str, frame: pd.DataFrame, figures_dir: Path) -> list[Path]:
    from ..figures.common import figure_module

    return figure_module(claim).draw(frame, figures_dir)


def _draw_claim_with(options, claim: str, frame: pd.DataFrame, figures_dir: Path) -> list[Path]:
    """``draw_claim`` under the caller's drawing options (a pool worker does not share its context)."""
    from ..figures.options import drawing

    with drawing(options.panels, options.size, options.formats):
        return draw_claim(claim, frame, figures_dir)


class _ClaimFigures:
    """Draws each finished claim's figures while the next claims compute.

    Drawing a claim's figures takes seconds of one core (layout, then PNG and PDF). Done in the
    parent, it left the pool's workers idle; on a pool it runs on a worker, queued ahead of the
    next claim's cells, so the other workers keep training. Without a pool the parent draws at
    once. Claims are reported (``on_claim``) in order, each once its figures are written.
    """

    def __init__(self, pool: WorkerPool | None, figures_dir: Path, on_claim):
        from ..figures.options import current

        self.pool, self.figures_dir, self.on_claim = pool, figures_dir, on_claim
        self.options = current()
        self.waiting: deque[tuple[ClaimReport, float, pd.DataFrame | None, cf.Future | None, list[float]]] = deque()

    def add(self, report: ClaimReport, started: float, frame: pd.DataFrame | None) -> None:
        """Queue ``report``'s figures (none when ``frame`` is None), started at ``started``."""
        future, done_at = None, []
        if frame is not None and self.pool is not None:
            try:
                future = self.pool.executor().submit(_draw_claim_with, self.options, report.claim, frame,
                                                     self.figures_dir)
            except (cf.process.BrokenProcessPool, RuntimeError):  # a broken or closed pool: draw here
                future = None
            else:
                future.add_done_callback(lambda _f: done_at.append(time.perf_counter()))
        self.waiting.append((report, started, frame, future, done_at))
        self.report_finished()

    def report_finished(self, wait: bool = False) -> None:
        """Report the claims, in order, whose figures are written (``wait``: every claim)."""
        while self.waiting:
            report, started, frame, future, done_at = self.waiting[0]
            if future is not None and not wait and not future.done():
                return
            self.waiting.popleft()
            if frame is not None:
                self._finish(report, frame, future)
                report.wall_s = (done_at[0] if done_at else time.perf_counter()) - started
            if self.on_claim:
                self.on_claim(report)

    def _finish(self, report: ClaimReport, frame: pd.DataFrame, future: cf.Future | None) -> None:
        try:
            try:
                paths = future.result() if future is not None else _draw_claim_with(
                    self.options, report.claim, frame, self.figures_dir)
            except (cf.process.BrokenProcessPool, cf.CancelledError):  # the worker died: draw here
                paths = _draw_claim_with(self.options, report.claim, frame, self.figures_dir)
            report.figures = [str(p) for p in paths]
        except ValueError as err:  # nothing drawable (e.g. every cell failed)
            report.note = f"no figure: {err}"


def reproduce(
    claim: str,
    out: str | Path,
    *,
    quick: bool = False,
    executor: str = "pool",
    workers: int | None = None,
    address: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    on_claim=None,
    compute: Compute | None = None,
    backend: str | None = None,
) -> list[ClaimReport]:
    """Run the shipped experiment files of ``claim`` ('C1'..'C7' or 'all') and draw the figures.

    Every file is validated before anything runs or is written. A claim without files is
    skipped with a note; a failing cell is counted (its claim's figure is drawn from the rest).
    ``on_claim(report)`` is called as each claim finishes (the CLI prints it at once). ``compute``
    (array library, device, threads) reaches every cell; ``backend`` is the former name of ``executor``.
    """
    executor = backend or executor
    compute = check_compute(compute or Compute())
    claims = parse_claims(claim)
    n_workers = check_options(executor, workers, address, batch_size)
    plan = {c: [load_experiment(f) for f in experiment_files(c)] for c in claims}  # validate all first
    out = Path(out)
    check_writable(out, store=False)  # before the workers start
    for c, experiments in plan.items():  # refuse a folder of an edited or other-size run before any work
        if has_store(out / c.lower()) and ResultStore.set_aside_if_damaged(out / c.lower()) is None:
            with ResultStore.open(out / c.lower()) as store:
                for exp in experiments:
                    check_compatible(store, exp, experiment_fingerprint(exp, quick), resume=False, share_store=True,
                                     hint="choose another --out (quick and full runs need separate folders)")
    # Start workers once for every file: spawning and importing costs seconds per sweep.
    with ExitStack() as stack:
        pool = stack.enter_context(WorkerPool(n_workers, compute.threads)) if executor == "pool" else None
        if executor == "ray" and connect_ray(workers, address):
            stack.callback(ray_module().shutdown)
        return _run_claims(claims, plan, out, quick, executor, workers, address, batch_size, progress, pool,
                           on_claim, compute)


def _run_claims(claims, plan, out, quick, executor, workers, address, batch_size, progress, pool,
                on_claim, compute) -> list[ClaimReport]:
    figures = _ClaimFigures(pool, out / "figures", on_claim)
    reports = []
    for c in claims:
        report = ClaimReport(c)
        reports.append(report)
        if not plan[c]:
            report.note = "no experiment files shipped for this claim; skipped"
            figures.add(report, time.perf_counter(), None)
            continue
        t0 = time.perf_counter()
        folder = out / c.lower()
        cell_ids: list[str] = []
        for exp in plan[c]:
            sweep = run_sweep(exp, folder, executor=executor, workers=workers, address=address,
                              batch_size=batch_size, quick=quick, progress=progress, share_store=True, pool=pool,
                              compute=compute)
            report.files.append(Path(exp.source).name)
            report.cells += sweep.n_cells
            report.ran += sweep.n_run
            report.failed += sweep.n_failed
            cell_ids += sweep.cell_ids
            figures.report_finished()
        with ResultStore.open(folder) as store:
            frame = store.frame(cell_ids=cell_ids)
        figures.add(report, t0, frame)
    figures.report_finished(wait=True)
    return reports


def infer_claim(frame: pd.DataFrame) -> str | None:
    """The claim of a plain sweep's results from its experiment names ('c2-...' -> 'C2')."""
    names = set(frame["experiment"].astype(str)) if "experiment" in frame.columns else set()
    found = {m.group(1) for n in names if (m := re.match(r"^[cC]([1-7])(?:[-_.]|$)", n))}
    return f"C{found.pop()}" if len(found) == 1 else None


def redraw(folder: str | Path, figures_dir: str | Path | None = None, claim: str | None = None) -> dict[str, list[str]]:
    """Draw every figure again from the stores under ``folder`` (no computation).

    ``folder`` is a reproduction folder (``folder/c1`` ...), a single sweep's folder, whose
    claim is ``claim`` or inferred from its experiment names, or a ``critical-mass`` folder (its
    leaderboard is drawn from the ``critical_mass.csv`` the search wrote), or such a table itself.
    """
    folder = Path(folder)
    if folder.suffix == ".csv":  # a critical-mass table itself (a copy kept beside a paper's figures, say)
        if not folder.is_file():
            raise InputError(f"no critical-mass table at {folder}")
        leaderboard, folder = folder, folder.parent
    else:
        leaderboard = folder / "critical_mass.csv"
    check_writable(Path(figures_dir) if figures_dir else folder / "figures",
                   "--figures" if figures_dir else "figures folder", store=False)  # before drawing anything
    figures_dir = Path(figures_dir) if figures_dir else folder / "figures"
    drawn: dict[str, list[str]] = {}
    if leaderboard.is_file() and claim is None:
        from ..figures.critical_mass import LEADERBOARD_COLUMNS, draw_leaderboard

        try:
            table = pd.read_csv(leaderboard)
        except (OSError, ValueError) as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise InputError(f"{leaderboard} cannot be read as a critical-mass table ({reason})") from None
        missing = [c for c in LEADERBOARD_COLUMNS if c not in table.columns]
        if missing:
            raise InputError(f"{leaderboard} is not a critical-mass table (no column {', '.join(missing)})")
        drawn["critical-mass"] = [str(p) for p in draw_leaderboard(table, figures_dir / "critical_mass")]
        return drawn
    if has_store(folder):
        from .stress import draw_stored_stress

        with ResultStore.open(folder) as store:
            frame = store.frame()
        stress = draw_stored_stress(folder, figures_dir)
        if stress:
            drawn["stress"] = stress
        key = parse_claims(claim)[0] if claim else infer_claim(frame)
        if key is None and stress:
            return drawn
        if key is None:
            raise InputError(f"cannot tell which claim {folder} belongs to; pass --claim C1..C7")
        drawn[key] = [str(p) for p in draw_claim(key, frame, figures_dir)]
        return drawn
    claim_folders = [(c, folder / c.lower()) for c in CLAIMS if has_store(folder / c.lower())]
    if not claim_folders:
        raise InputError(f"no results store in {folder} (expected {store_path(folder)} or {folder}/c1 ... c7)")
    for c, sub in claim_folders:
        with ResultStore.open(sub) as store:
            frame = store.frame()
        if len(frame):
            drawn[c] = [str(p) for p in draw_claim(c, frame, figures_dir)]
        else:
            print(f"note: {sub} holds no finished cells; no figure for {c}", file=sys.stderr)
    return drawn
