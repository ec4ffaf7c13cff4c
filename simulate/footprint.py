"""What one simulate cell asks of the machine, estimated when the file is loaded (docs/reliability.md).

Families that sample points hold them in memory (a configuration larger than the memory budget
runs alone, so its own size is what matters); counting families hold tables. The estimates are
deliberate over-estimates of the arrays a cell creates, checked against the limits
``points`` (training plus test points of one cell) and ``memory_mb`` (estimated memory of one
cell), each raisable through its environment variable.
"""

from __future__ import annotations

from collective_action import limits
from collective_action.simulate.logistic import logistic_working_set_bytes


def footprint(cfg) -> tuple[int, int]:
    """(points held in memory, estimated bytes) of one cell of a validated simulate configuration."""
    fam = cfg.family
    if fam == "gaussian":
        g = cfg.gaussian
        dim = g.d_class + g.n_free
        return (cfg.n_train + 3 * cfg.n_test,
                logistic_working_set_bytes(cfg.n_train, dim, g.n_classes) + 8 * 3 * cfg.n_test * dim)
    if fam == "gaussian-world":
        w = cfg.world
        dim = w.d_class + w.n_free
        if w.collectives is not None:  # the shared list: any number of collectives, one signal test set each
            J = len(w.collectives)
        else:
            J = 2 if w.second is not None else 1
        return (2 * cfg.n_train + (J + 1) * cfg.n_test,
                8 * dim * (2 * cfg.n_train + (J + 1) * cfg.n_test) + 8 * 4 * cfg.n_train * w.n_classes)
    if fam == "simplicity":
        s = cfg.simplicity_config
        dim = 2 + s.n_free
        return s.n_train + 2 * s.n_test, 8 * dim * 4 * (s.n_train + 2 * s.n_test)
    if fam == "discrete-counts":
        c = cfg.counts
        members = int(round(cfg.collective.alpha * cfg.n_train)) if c.bound == "finite-sample" else 0
        return members, 8 * 4 * members + 8 * 4 * c.n_points * c.n_labels
    d = cfg.discrete  # family 1: count tables only
    return 0, 8 * 4 * d.n_points * d.n_labels


def check_cells(cells) -> None:
    """InputError naming the limit when one cell would exceed the points or memory limit."""
    seen = set()
    for cell in cells:
        cfg = cell.validated_config()
        key = id(cfg)
        if key in seen:
            continue
        seen.add(key)
        points, nbytes = footprint(cfg)
        where = f"{cell.experiment}: one cell ({cfg.family}, n_train={cfg.n_train:,})"
        limits.check("points", points, where)
        limits.check("memory_mb", -(-nbytes // 2**20), where)
