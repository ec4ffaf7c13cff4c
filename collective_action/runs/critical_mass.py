"""Critical mass per learning algorithm: the adaptive search run over an experiment's groups.

A *group* is a set of cells that differ only in ``collective.alpha`` (and the seed): one grid point
of every other axis. For each group and target, :class:`collective_action.critical_mass.Search`
chooses the alphas to train; every training is an ordinary cell written to the results store, so a
search killed at any moment resumes without training anything twice (the search makes the same
choices from the same stored measurements), runs on any executor, and `results` reads its rows.

Next to each measured alpha* the table puts theory's prediction where one exists (the pillar's
``predict_critical_mass``: the exact Bayes critical mass and Hardt's alpha*), and for a
reweighting algorithm the alpha at which its predicted effective size alpha_eff(alpha), computed
from the statistics it measured, reaches ERM's measured alpha* in the same experiment.

Example::

    from collective_action.runs.critical_mass import critical_mass
    table = critical_mass("experiments/c2_simulate_dro.yaml", "results/cm", targets=(0.5, 0.9), quick=True)
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..compute import Compute
from ..critical_mass import Point, Search, seeds_to_decide
from ..errors import InputError
from ..experiment import Cell, Experiment, format_validation_error, load_experiment, set_dotted
from .compute_check import check_compute
from .executors import WorkerPool, connect_ray, ray_module
from .schedule import shared_training_key
from .store import ResultStore
from .sweep import check_options, check_writable, run_sweep

ALPHA_AXIS = "collective.alpha"
METRICS = ("success", "attack_success")


@dataclass(frozen=True)
class _GivenCells(Experiment):
    """An experiment whose cells are the search's current requests (run_sweep runs any Experiment)."""

    given: tuple = ()

    def cells(self, quick: bool = False) -> list[Cell]:
        return list(self.given)


@dataclass
class Group:
    values: dict            # the group's value on every axis but alpha
    base: dict              # its configuration, alpha to be set
    label: str
    search: Search
    target: float
    cell_ids: dict = field(default_factory=dict)   # (alpha, seed) -> cell id
    failed: bool = False

    def cell(self, exp: Experiment, alpha: float, seed: int) -> Cell:
        cfg = copy.deepcopy(self.base)
        set_dotted(cfg, ALPHA_AXIS, alpha)
        try:
            validated = exp.pillar.config_model.model_validate(cfg)
        except ValidationError as err:
            raise InputError(format_validation_error(err, f"{exp.source}: config at alpha={alpha:g}")) from None
        return Cell(exp.name, exp.spec.pillar, validated.model_dump(mode="json"), int(seed), validated)


def search_range(axes, alpha_range=None) -> tuple[float, float]:
    """The search's (lo, hi): ``alpha_range`` if given, else the min and max of the file's alpha axis."""
    if alpha_range is not None:
        lo, hi = (float(a) for a in alpha_range)
    else:
        values = dict(axes).get(ALPHA_AXIS)
        if not values or len(values) < 2:
            raise InputError(f"the search needs an alpha range: give --alpha-range LO HI, or a grid axis "
                             f"{ALPHA_AXIS} with at least two values")
        lo, hi = float(min(values)), float(max(values))
    if not (0 < lo < hi < 1):
        raise InputError(f"alpha range must satisfy 0 < LO < HI < 1, got [{lo:g}, {hi:g}]")
    return lo, hi


def _short(v) -> str:
    if isinstance(v, dict) and "name" not in v:
        return "(" + ",".join(f"{k}={_short(x)}" for k, x in v.items()) + ")"
    if isinstance(v, dict):
        params = v.get("params") or v.get("hparams") or {}
        inner = ",".join(f"{k}={_short(x)}" for k, x in params.items())
        return str(v.get("name", json.dumps(v, sort_keys=True))) + (f"({inner})" if inner else "")
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def seed_list(seeds: list[int], n: int | None) -> list[int]:
    """The file's seeds, or ``n`` of them: its first n, extended by the integers after its largest
    (a rerun with more seeds reuses every training it already has)."""
    if n is None:
        return list(seeds)
    if n < 2:
        raise InputError(f"--seeds must be at least 2 (intervals over seeds), got {n}")
    extra = range(max(seeds, default=-1) + 1, max(seeds, default=-1) + 1 + max(0, n - len(seeds)))
    return (list(seeds) + list(extra))[:n]


def plan_groups(exp: Experiment, *, targets, quick: bool, ratio: float, level: float, max_rounds: int,
                alpha_range=None, initial_seeds: int = 2, n_seeds: int | None = None) -> tuple[list[Group], list[int]]:
    """The groups (one per grid point of the other axes and target), each with its search; ``n_seeds``
    replaces the file's seeds by :func:`seed_list`."""
    base, axes, seeds = exp.grid(quick)
    seeds = seed_list(seeds, n_seeds)
    if len(seeds) < 2:
        raise InputError(f"{exp.source}: the search needs at least two seeds (intervals over seeds)")
    lo, hi = search_range(axes, alpha_range)
    others = [(path, values) for path, values in axes if path != ALPHA_AXIS]
    groups = []
    for combo in itertools.product(*[v for _, v in others]):
        cfg = copy.deepcopy(base)
        values = {}
        for (path, _), value in zip(others, combo):
            set_dotted(cfg, path, value)
            values[path] = value
        label = ", ".join(f"{p.split('.')[-1]}={_short(v)}" for p, v in values.items()) or "base"
        for target in targets:
            try:
                search = Search(target, lo, hi, ratio=ratio, level=level, max_rounds=max_rounds,
                                n_seeds=len(seeds), initial_seeds=initial_seeds)
            except ValueError as err:
                raise InputError(str(err)) from None
            group = Group(values, cfg, label, search, target)
            group.cell(exp, lo, seeds[0])  # a configuration that cannot run fails here, before any work
            group.cell(exp, hi, seeds[0])
            groups.append(group)
    return groups, seeds


@dataclass
class SearchReport:
    table: pd.DataFrame
    trainings: int          # distinct trainings the searches used (cells sharing one training count once)
    ran: int                # cells run in this call (the rest were stored)
    out: Path
    cells: int = 0          # distinct cells the searches used


def critical_mass(experiment, out, *, targets=(0.5,), ratio: float = 1.5, level: float = 0.95,
                  alpha_range=None, quick: bool = False, max_rounds: int = 16, initial_seeds: int = 2,
                  executor: str = "pool", workers: int | None = None, address: str | None = None,
                  compute: Compute | None = None, progress=None, metric: str = "success",
                  n_seeds: int | None = None) -> SearchReport:
    """Search alpha*(target) for every group of ``experiment``; see the module docstring.

    ``n_seeds``: how many seeds per alpha (default: the file's), by :func:`seed_list`: more seeds
    narrow a search limited by them. The search's path changes with them (an undecided alpha gets
    every seed), so a stored training is reused where the new search asks for it again: the
    starting alphas always, later ones where the paths agree.
    ``ratio``: stop when alpha*_hi / alpha*_lo <= ratio. ``level``: confidence of the interval.
    ``alpha_range``: (lo, hi), default the file's collective.alpha grid's min and max. ``metric``:
    ``success`` (over all x ~ P0, what theory predicts) or ``attack_success`` (over points whose
    label is not y*: for a binary task, success starts near 1/2 however small the collective).
    """
    from ..errors import check_choice

    check_choice("metric", metric, METRICS)
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    compute = check_compute(compute or Compute())
    n_workers = check_options(executor, workers, address, None)
    if not (0 < level < 1):
        raise InputError(f"level must lie in (0, 1), got {level}")
    targets = tuple(float(t) for t in targets)
    groups, seeds = plan_groups(exp, targets=targets, quick=quick, ratio=ratio, level=level, max_rounds=max_rounds,
                                alpha_range=alpha_range, initial_seeds=initial_seeds, n_seeds=n_seeds)
    out = Path(out)
    check_writable(out)
    ran = 0
    used: dict[str, Cell] = {}
    with ExitStack() as stack:
        pool = stack.enter_context(WorkerPool(n_workers, compute.threads)) if executor == "pool" else None
        if executor == "ray" and connect_ray(workers, address):
            stack.callback(ray_module().shutdown)
        while True:
            wanted: dict[str, Cell] = {}
            requests = {}
            for g in groups:
                if g.failed:
                    continue
                req = g.search.next_requests()
                if req:
                    g.search.rounds += 1
                    requests[id(g)] = req
                for alpha, k in req:
                    for seed in seeds[:k]:
                        cell = g.cell(exp, alpha, seed)
                        g.cell_ids[(alpha, seed)] = cell.cell_id
                        wanted.setdefault(cell.cell_id, cell)
            if not wanted:
                break
            used.update(wanted)
            report = run_sweep(_GivenCells(spec=exp.spec, source=exp.source, given=tuple(wanted.values())), out,
                               executor=executor, workers=workers, address=address, quick=quick, resume=True,
                               progress=False, share_store=True, pool=pool, compute=compute)
            ran += report.n_run
            with ResultStore.open(out) as store:
                rows = store.frame(cell_ids=list(wanted))
            for g in groups:
                for alpha, k in requests.get(id(g), []):
                    point = _point(g, alpha, seeds[:k], rows, metric)
                    if point is None:
                        g.failed = True
                    else:
                        g.search.add(point)
            if progress:
                progress(f"round: {len(requests)} searches asked for {len(wanted)} cells ({report.n_run} trained now)")
    with ResultStore.open(out) as store:
        all_ids = sorted({cid for g in groups for cid in g.cell_ids.values()})
        rows = store.frame(cell_ids=all_ids)
    table = _table(exp, groups, rows, metric)
    # distinct trainings: cells that share one (they differ only in how the model is selected) count once
    trainings = len({shared_training_key(used[cid], compute) or cid for cid in all_ids})
    return SearchReport(table, trainings, ran, out, cells=len(all_ids))


def _point(g: Group, alpha: float, seeds, rows: pd.DataFrame, metric: str) -> Point | None:
    ids = [g.cell_ids[(alpha, s)] for s in seeds]
    part = rows[rows["cell_id"].isin(ids)]
    if "collective" in part:  # stress families: collective 0 is the searched one
        part = part[pd.to_numeric(part["collective"], errors="coerce").fillna(0) == 0]
    if part["cell_id"].nunique() < len(ids):
        return None
    part = part.drop_duplicates("cell_id")
    values = pd.to_numeric(part[metric], errors="coerce").to_numpy(float)
    if not np.isfinite(values).all():
        raise InputError(f"the rows of this experiment have no {metric} (choose another --metric)")
    se = (pd.to_numeric(part["success_se"], errors="coerce") if "success_se" in part and metric == "success"
          else pd.Series(np.nan, index=part.index))
    return Point(alpha, values, se.to_numpy(float),
                 pd.to_numeric(part["clean_accuracy"], errors="coerce").to_numpy(float))


def _table(exp: Experiment, groups: list[Group], rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    from ..assess import mean_se
    from ..algorithms import ALGORITHMS

    records = []
    for g in groups:
        est = g.search.result()
        cfg = g.cell(exp, g.search.alpha_min, 0).validated_config()
        learner = getattr(getattr(cfg, "learner", None), "name", "")
        predictor = exp.pillar.predict_critical_mass
        if metric != "success":
            pred = {"theory_alpha_star": math.nan, "hardt_alpha_star": math.nan,
                    "theory_kind": "none: theory predicts success over all x ~ P0 (--metric success)"}
        elif predictor is None:
            pred = {"theory_alpha_star": math.nan, "hardt_alpha_star": math.nan,
                    "theory_kind": f"none: pillar {exp.spec.pillar!r} has no critical-mass theory"}
        else:
            pred = predictor(cfg, g.target)
        # clean accuracy and success where the collective is confidently successful: at alpha*_hi
        at_hi = g.search.points.get(est.hi) if math.isfinite(est.hi) else None
        clean = mean_se(at_hi.clean, np.zeros(len(at_hi.clean))) if at_hi is not None else (math.nan,) * 4
        succ = at_hi.interval(g.search.level) if at_hi is not None else (math.nan,) * 3  # of the metric
        ids = set(g.cell_ids.values())
        part = rows[rows["cell_id"].isin(ids)]
        series = str(part["series"].iloc[0]) if "series" in part and len(part) else learner
        records.append({
            "experiment": exp.name, "group": g.label, "learner": learner, "series": series,
            "reweighting": bool(learner in ALGORITHMS and ALGORITHMS[learner].statistic is not None),
            "metric": metric, "target": g.target, "alpha_star": est.alpha_star, "alpha_star_lo": est.lo, "alpha_star_hi": est.hi,
            "ratio": est.ratio, "status": "failed" if g.failed else est.status, "level": g.search.level,
            # the search's settings, so that the table alone says how to run it again
            "stop_ratio": g.search.ratio, "alpha_min": g.search.alpha_min, "alpha_max": g.search.alpha_max,
            "max_rounds": g.search.max_rounds,
            "trainings": len(ids), "alphas_evaluated": len(g.search.points), "rounds": g.search.rounds,
            "seeds": g.search.n_seeds, "seeds_to_decide": math.nan if g.failed else seeds_to_decide(g.search),
            "metric_at_hi": succ[0], "clean_accuracy_at_hi": clean[0], "clean_lo": clean[1], "clean_hi": clean[2],
            "theory_alpha_star": pred["theory_alpha_star"], "theory_kind": pred["theory_kind"],
            "hardt_alpha_star": pred["hardt_alpha_star"],
            "alpha_eff_alpha_star": math.nan,
            "evaluated": json.dumps({f"{a:.6g}": round(float(np.mean(p.success)), 4)
                                     for a, p in sorted(g.search.points.items())}),
            "config": json.dumps({k: v for k, v in g.values.items()}, default=str, sort_keys=True),
            "_group": g,
        })
    table = pd.DataFrame(records)
    if len(table):
        _alpha_eff_predictions(table, rows)
        table = table.drop(columns=["_group"])
    return table


def _alpha_eff_predictions(table: pd.DataFrame, rows: pd.DataFrame) -> None:
    """For reweighting groups: the alpha where their predicted alpha_eff reaches ERM's measured alpha*.

    alpha_eff is interpolated in log-log between the evaluated alphas of the group (its statistics
    as measured in each training); ERM's group is the one with the same values on every other axis
    and learner erm. Without such a group, or outside the evaluated range, the cell stays NaN.
    """
    for i, r in table.iterrows():
        if not r["reweighting"]:
            continue
        g: Group = r["_group"]
        others = {k: v for k, v in g.values.items() if not k.startswith("learner")}
        partners = [j for j, s in table.iterrows() if s["learner"] == "erm" and s["target"] == r["target"]
                    and {k: v for k, v in s["_group"].values.items() if not k.startswith("learner")} == others
                    and math.isfinite(float(s["alpha_star"]))]
        if not partners:
            table.at[i, "theory_kind"] = "none: no ERM search with the same other settings to scale by alpha_eff"
            continue
        erm_star = float(table.at[partners[0], "alpha_star"])
        by_alpha = []
        for (alpha, _), cid in g.cell_ids.items():
            v = rows.loc[rows["cell_id"] == cid, "alpha_eff_predicted"]
            if len(v) and np.isfinite(float(v.iloc[0])):
                by_alpha.append((alpha, float(v.iloc[0])))
        if not by_alpha:
            continue
        frame = pd.DataFrame(by_alpha, columns=["alpha", "eff"]).groupby("alpha")["eff"].mean().sort_index()
        a, e = np.log(frame.index.to_numpy(float)), frame.to_numpy(float)
        crossing = np.nonzero((e[:-1] - erm_star) * (e[1:] - erm_star) <= 0)[0]
        table.at[i, "theory_kind"] = "alpha_eff(alpha) = ERM's measured alpha* (docs/theory.md §5)"
        if len(crossing) and np.all(e > 0):
            j = int(crossing[0])
            le, l0, l1 = math.log(erm_star), math.log(e[j]), math.log(e[j + 1])
            t = (le - l0) / (l1 - l0) if l1 != l0 else 0.0
            table.at[i, "alpha_eff_alpha_star"] = float(math.exp(a[j] + t * (a[j + 1] - a[j])))
            table.at[i, "theory_alpha_star"] = table.at[i, "alpha_eff_alpha_star"]
