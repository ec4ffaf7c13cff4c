"""The ``empirical`` pillar: experiment files -> real training runs -> result rows.

Registers :class:`~.config.EmpiricalConfig` and a batch runner with the shared experiment
machinery, and offers :func:`run` for Python users::

    from collective_action import empirical
    frame = empirical.run("experiments/c2_empirical_fmnist_erm_dro.yaml", quick=True)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from collective_action.compute import Compute
from collective_action.errors import InputError
from collective_action.experiment import Cell, Pillar, load_experiment, register_pillar
from collective_action.results import rows_to_frame

from .config import EmpiricalConfig
from .cost import estimate_cost
from .runner import (batch_key, build_dataset, group_size_limit, train_and_select_each, train_mlps_batched,
                     training_key)

def run_cells(cells: list[Cell], compute: Compute | None = None, progress=None, batched: bool = True,
              device: str | None = None) -> list[list]:
    """Train every cell (one row per validation policy), results in cell order.

    With ``batched``, cells whose configurations differ only in alpha and seed and train an
    MLP, by ERM or a one-model reweighting algorithm (JTT, CVaR, chi-square DRO,
    group DRO; runner.batch_key), are trained together as one stacked model (same numbers up to
    float rounding, faster for small models); every other cell trains alone, except that cells
    which differ only in ``selection.metric`` (and not in seed) share one training and are each
    selected from it (runner.train_and_select_each: the same rows as training them one by one).
    On the CPU only small models are stacked (runner.CPU_STACK_MAX_FLOPS: larger ones gain
    nothing). ``batched=False`` trains every cell by itself (the reference path).
    ``progress(i, n, row)`` is called for every finished row. The torch device and thread count
    come from ``compute`` (``device`` overrides its device).
    """
    from .train import pick_device

    compute = compute or Compute()
    device = pick_device(device or compute.device)
    if compute.threads:
        import torch

        torch.set_num_threads(int(compute.threads))
    configs = [cell.validated_config() for cell in cells]  # validated once, when the file was loaded
    out: list[list | None] = [None] * len(cells)
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(configs):
        key = batch_key(cfg, device) if batched else None
        if key is not None:
            key = f"stack-{key}"
        elif batched:  # trained alone: cells that differ only in selection.metric share the training
            key = f"alone-{_training_of(cells[i])}"
        else:
            key = f"alone-{i}"
        groups.setdefault(key, []).append(i)
    done = 0
    for key, members in groups.items():
        if key.startswith("alone-") or len(members) == 1:
            chunks = [members]
        else:
            n_inputs = _input_size(configs[members[0]])
            size = group_size_limit(configs[members[0]], n_inputs)
            chunks = [members[j:j + size] for j in range(0, len(members), size)]
        for chunk in chunks:
            if key.startswith("alone-") or len(chunk) == 1:
                results = train_and_select_each([configs[i] for i in chunk], cells[chunk[0]].seed, device,
                                                experiment=cells[chunk[0]].experiment,
                                                cell_ids=[cells[i].cell_id for i in chunk])
            else:
                jobs = [(configs[i], cells[i].seed, cells[i].experiment, cells[i].cell_id) for i in chunk]
                results = train_mlps_batched(jobs, device)
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


def check_cells(cells: list[Cell]) -> None:
    """Before anything runs: every distinct (data, signal, target) of ``cells`` can be built, and
    every adaptive collective has the members its label estimate needs.

    Loads each distinct data set once and builds its signal; a signal place the data set lacks,
    a patch that does not fit, a target that is not a class, or an unplanting collective without
    1 <= n_est < members (erasing: without a member) is an InputError naming it.
    """
    from .estimate import check_estimation
    from .runner import build_signal
    from .several import check_targets, collectives_of
    from .splits import training_size

    seen: set[str] = set()
    datasets: dict[str, object] = {}
    for cell in cells:
        cfg = cell.validated_config()
        data_key = cfg.data.model_dump_json()
        if data_key not in datasets:
            datasets[data_key] = build_dataset(cfg)
        ds = datasets[data_key]
        check_estimation(cfg.collective.strategy, cfg.collective.alpha,
                         training_size(ds, cfg.data.train_size, cfg.data.val_size), cfg.estimator.n_est)
        key = cfg.model_dump_json(include={"data", "signal", "collective", "collectives"},
                                  exclude={"collective": {"alpha"}})
        if key in seen:
            continue
        seen.add(key)
        build_signal(cfg, ds)
        if cfg.collective.target >= ds.n_classes:
            raise InputError(f"collective.target {cfg.collective.target} is not a class of {ds.name} "
                             f"(0..{ds.n_classes - 1})")
        if cfg.collectives is not None:  # every collective's signal fits the data, every target is a class
            specs = collectives_of(cfg)
            for c in specs:
                build_signal(cfg, ds, c.signal)
            check_targets(specs, ds)


def trains_alone(cell: Cell, compute: Compute | None = None) -> bool:
    """True when ``run_cells`` would train this cell by itself (runner.batch_key is None on the run's
    device): batching it with others gains nothing."""
    from .train import pick_device

    return batch_key(cell.validated_config(), pick_device((compute or Compute()).device)) is None


def shared_training(cell: Cell, compute: Compute | None = None) -> str | None:
    """For a cell trained alone, the key of the training it shares with the cells that differ from it
    only in ``selection.metric`` (runner.training_key); None for a stacked cell."""
    return _training_of(cell) if trains_alone(cell, compute) else None


def _training_of(cell: Cell) -> str:
    return f"{cell.experiment}-{training_key(cell.validated_config(), cell.seed)}"


register_pillar(Pillar("empirical", EmpiricalConfig, run_cells, check_cells, estimate_cost=estimate_cost,
                       trains_alone=trains_alone, shared_training=shared_training))


def run(spec: str | Path | dict, quick: bool = False, device: str = "auto", progress=None,
        batched: bool = True) -> pd.DataFrame:
    """Run an empirical experiment file (path or mapping) and return one row per (config, seed).

    ``device``: auto (CUDA when torch sees one, else the CPU), cpu or cuda."""
    from .train import pick_device

    device = pick_device(device)  # fails before any work when CUDA is asked for but absent
    exp = load_experiment(spec)
    if exp.spec.pillar != "empirical":
        from collective_action.errors import InputError

        raise InputError(f"{exp.source}: pillar is {exp.spec.pillar!r}, not 'empirical'")
    rows = run_cells(exp.cells(quick=quick), Compute(device=device), progress=progress, batched=batched)
    return rows_to_frame([r for cell_rows in rows for r in cell_rows])
