"""The ``empirical`` pillar: experiment files -> real training runs -> result rows.

Registers :class:`~.config.EmpiricalConfig` and a batch runner with the shared experiment
machinery, and offers :func:`run` for Python users::

    from collective_action import empirical
    frame = empirical.run("experiments/c2_empirical_fmnist_erm_dro.yaml", quick=True)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from collective_action.experiment import Cell, Pillar, load_experiment, register_pillar
from collective_action.results import rows_to_frame

from .config import EmpiricalConfig
from .runner import batch_key, build_dataset, group_size_limit, train_and_select, train_erm_mlps_batched

#: Device used by run_cells (set by :func:`run` and the CLI; the pillar interface has no device).
_DEVICE = {"name": "cpu"}


def run_cells(cells: list[Cell], device: str | None = None, progress=None, batched: bool = True) -> list[list]:
    """Train every cell (one row per validation policy), results in cell order.

    With ``batched``, cells whose configurations differ only in alpha and seed and train an
    ERM MLP without selection are trained together as one stacked model (same numbers up to
    float rounding, several times faster); every other cell trains alone.
    ``progress(i, n, row)`` is called for every finished row.
    """
    device = device or _DEVICE["name"]
    configs = [EmpiricalConfig.model_validate(cell.config) for cell in cells]
    out: list[list | None] = [None] * len(cells)
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(configs):
        key = batch_key(cfg) if batched else None
        groups.setdefault(key if key is not None else f"alone-{i}", []).append(i)
    done = 0
    for key, members in groups.items():
        if key.startswith("alone-") or len(members) == 1:
            chunks = [[i] for i in members]
        else:
            n_inputs = _input_size(configs[members[0]])
            size = group_size_limit(configs[members[0]], n_inputs)
            chunks = [members[j:j + size] for j in range(0, len(members), size)]
        for chunk in chunks:
            if len(chunk) == 1:
                i = chunk[0]
                results = [train_and_select(configs[i], cells[i].seed, device, experiment=cells[i].experiment,
                                            cell_id=cells[i].cell_id)]
            else:
                jobs = [(configs[i], cells[i].seed, cells[i].experiment, cells[i].cell_id) for i in chunk]
                results = train_erm_mlps_batched(jobs, device)
            for i, rows in zip(chunk, results):
                out[i] = rows
                done += 1
                if progress is not None:
                    for row in rows:
                        progress(done, len(cells), row)
    return out


def _input_size(cfg: EmpiricalConfig) -> int:
    import math

    return int(math.prod(build_dataset(cfg).input_shape))


register_pillar(Pillar("empirical", EmpiricalConfig, run_cells))


def run(spec: str | Path | dict, quick: bool = False, device: str = "cpu", progress=None,
        batched: bool = True) -> pd.DataFrame:
    """Run an empirical experiment file (path or mapping) and return one row per (config, seed)."""
    from .train import resolve_device

    resolve_device(device)  # fail before any work when CUDA is asked for but absent
    exp = load_experiment(spec)
    if exp.spec.pillar != "empirical":
        from collective_action.errors import InputError

        raise InputError(f"{exp.source}: pillar is {exp.spec.pillar!r}, not 'empirical'")
    rows = run_cells(exp.cells(quick=quick), device=device, progress=progress, batched=batched)
    return rows_to_frame([r for cell_rows in rows for r in cell_rows])
