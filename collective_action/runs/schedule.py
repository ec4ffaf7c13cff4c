"""The order a sweep's batches start in on a pool or a cluster: the longest first.

Workers take batches in submission order. Started in grid order, a sweep whose costly cells come
last (the CNN after the MLPs, the largest alpha's JTT after the rest) ends with one worker busy
and the others idle; started longest first, the short batches fill the gaps at the end
(longest-processing-time-first, within 4/3 of the best possible makespan). A pillar that can
estimate a cell's cost says so (``Pillar.estimate_cost``); without one every cell counts the same
and the grid order stays. Only the order changes, never what a cell computes.
"""

from __future__ import annotations

from typing import Callable

from ..experiment import Cell, get_pillar

Batch = list[Cell]


def batch_cost(batch: Batch) -> float:
    """The summed cost estimate of a batch's cells (its cell count when the pillar has no estimate)."""
    estimate: Callable[[Cell], float] | None = get_pillar(batch[0].pillar).estimate_cost
    return float(len(batch)) if estimate is None else float(sum(_cost(estimate, c) for c in batch))


def _cost(estimate: Callable[[Cell], float], cell: Cell) -> float:
    try:
        return float(estimate(cell))
    except Exception:  # noqa: BLE001 - a cell that cannot even be sized fails when it runs, as before
        return 0.0


def split_lone_cells(batches: list[Batch], compute) -> list[Batch]:
    """``batches`` with every cell its pillar trains alone (``Pillar.trains_alone``) in a batch of its
    own, in place of its grid position; the other cells keep their batches. Batching such a cell
    only delays its storing until its batch mates finish (a kill loses them all) and leaves one
    worker with a long batch at the end."""
    out: list[Batch] = []
    for batch in batches:
        alone = get_pillar(batch[0].pillar).trains_alone
        if alone is None or len(batch) == 1:
            out.append(batch)
            continue
        rest: Batch = []
        for cell in batch:
            if _alone(alone, cell, compute):
                out.append([cell])
            else:
                rest.append(cell)
        if rest:
            out.append(rest)
    return out


def gather_shared_training(batches: list[Batch], compute) -> list[Batch]:
    """``batches`` with the cells that share one training (``Pillar.shared_training``: they differ
    only in how the trained model is selected) moved into the batch of the first of them, wherever
    the grid or the batch size put the others, so that their pillar trains once for all of them.
    Batches left empty are dropped; every other cell keeps its batch and order."""
    first: dict[str, Batch] = {}
    out: list[Batch] = []
    for batch in batches:
        if get_pillar(batch[0].pillar).shared_training is None:
            out.append(batch)
            continue
        kept: Batch = []
        for cell in batch:
            key = shared_training_key(cell, compute)
            if key is not None and key in first:
                first[key].append(cell)
                continue
            if key is not None:
                first[key] = kept
            kept.append(cell)
        if kept:
            out.append(kept)
    return out


def shared_training_key(cell: Cell, compute) -> str | None:
    """The key of the training ``cell`` shares with others (``Pillar.shared_training``), or None."""
    shared = get_pillar(cell.pillar).shared_training
    if shared is None:
        return None
    try:
        return shared(cell, compute)
    except Exception:  # noqa: BLE001 - a cell that cannot even be inspected fails when it runs, alone
        return None


def _alone(alone, cell, compute) -> bool:
    try:
        return bool(alone(cell, compute))
    except Exception:  # noqa: BLE001 - a cell that cannot even be inspected fails when it runs, alone
        return True


def longest_first(batches: list[Batch]) -> list[Batch]:
    """``batches`` by decreasing cost; equal costs keep their grid order (a stable sort)."""
    costs = [batch_cost(b) for b in batches]
    return [batches[i] for i in sorted(range(len(batches)), key=lambda i: -costs[i])]
