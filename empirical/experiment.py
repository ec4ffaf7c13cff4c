"""The ``empirical`` pillar: experiment files -> real training runs -> result rows.

Registers :class:`~.config.EmpiricalConfig` and a batch runner with the shared experiment
machinery, and offers :func:`run` for Python users::

    from collective_action import empirical
    frame = empirical.run("experiments/c2_empirical_fmnist_erm_dro.yaml", quick=True)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from collective_action.experiment import Cell, Pillar, load_experiment, register_pillar
from collective_action.results import rows_to_frame

from .config import EmpiricalConfig
from .runner import train_and_select

#: Device used by run_cells (set by :func:`run` and the CLI; the pillar interface has no device).
_DEVICE = {"name": "cpu"}


def run_cells(cells: list[Cell], device: str | None = None, progress=None) -> list[list]:
    """Train every cell (one row per validation policy), in order; ``progress(i, n, row)`` is called after each."""
    device = device or _DEVICE["name"]
    out = []
    for i, cell in enumerate(cells):
        cfg = EmpiricalConfig.model_validate(cell.config)
        rows = train_and_select(cfg, cell.seed, device, experiment=cell.experiment, cell_id=cell.cell_id)
        out.append(rows)
        if progress is not None:
            for row in rows:
                progress(i + 1, len(cells), row)
    return out


register_pillar(Pillar("empirical", EmpiricalConfig, run_cells))


def run(spec: str | Path | dict, quick: bool = False, device: str = "cpu", progress=None) -> pd.DataFrame:
    """Run an empirical experiment file (path or mapping) and return one row per (config, seed)."""
    from .train import resolve_device

    resolve_device(device)  # fail before any work when CUDA is asked for but absent
    exp = load_experiment(spec)
    if exp.spec.pillar != "empirical":
        from collective_action.errors import InputError

        raise InputError(f"{exp.source}: pillar is {exp.spec.pillar!r}, not 'empirical'")
    threads = torch.get_num_threads()
    rows = run_cells(exp.cells(quick=quick), device=device, progress=progress)
    torch.set_num_threads(threads)
    return rows_to_frame([r for cell_rows in rows for r in cell_rows])
