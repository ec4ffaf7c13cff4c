"""Running simulate cells: group them into batches, train each batch at once, emit result rows.

Cells whose configurations differ only in ``collective.alpha``, the seed, or a learner's batched
hyper-parameters (``Learner.batched``, e.g. JTT's lambda) form one batch: their training sets are
stacked on a configuration axis C and every learner trains the whole stack as one computation.
A batch larger than the memory budget runs in consecutive chunks of C.

The array backend (NumPy or CuPy) is chosen per run by :func:`run` (or the CLI's ``--backend``);
``run_cells`` — the pillar entry point other tools call — reads it from a context variable whose
default is 'auto'.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from collective_action import theory
from collective_action.collective import get_strategy
from collective_action.discrete import DiscreteProblem
from collective_action.compute import Compute
from collective_action.errors import InputError
from collective_action.experiment import Cell, Experiment, canonical_json, load_experiment
from collective_action.results import ResultRow, rows_to_frame
from collective_action.simulate import discrete as fam1
from collective_action.simulate import gaussian as fam2
from collective_action.simulate import car, several, stress
from collective_action.simulate.backend import Backend, get_backend
from collective_action.simulate.learners import LEARNERS, measured_alpha_eff
from collective_action.simulate.logistic import chunked, logistic_working_set_bytes
from collective_action.theory import gaussian as gauss_theory
from collective_action.theory import hardt_goals

_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("simulate_progress", default=False)


# ------------------------------------------------------------------------------------------
# Problems from configs


def discrete_problem(cfg) -> DiscreteProblem:
    spec, target = cfg.discrete, cfg.collective.target
    if spec.p0 is not None or spec.g is not None:
        if spec.p0 is None or spec.g is None:
            raise InputError("discrete: give both p0 and g, or neither")
        return DiscreteProblem(np.asarray(spec.p0, dtype=float), np.asarray(spec.g, dtype=np.int64), target)
    if target >= spec.n_labels:
        raise InputError(f"collective.target must be a label in [0, {spec.n_labels - 1}], got {target}")
    return fam1.random_problem(spec.n_points, spec.n_labels, spec.concentration, spec.signal_size,
                               target, spec.problem_seed, idempotent=spec.idempotent)


def gaussian_problem(cfg) -> gauss_theory.GaussianProblem:
    g, s, c = cfg.gaussian, cfg.gaussian.signal, cfg.collective
    if c.target >= g.n_classes:
        raise InputError(f"collective.target must be a label in [0, {g.n_classes - 1}], got {c.target}")
    return fam2.make_problem(n_classes=g.n_classes, d_class=g.d_class, separation=g.separation,
                             sigma=g.sigma, n_free=g.n_free, tau=g.tau, placement=s.placement,
                             n_coords=s.n_coords, amplitude=s.amplitude, mode=s.mode, jitter=s.jitter,
                             target=c.target, strategy=c.strategy)


# ------------------------------------------------------------------------------------------
# Grouping cells into batches


def batch_key(config: dict) -> str:
    """The part of a configuration that must agree within a batch."""
    cfg = copy.deepcopy(config)
    if cfg.get("collective"):
        cfg["collective"].pop("alpha", None)
    learner = cfg.get("learner", {})
    cls = LEARNERS.get(learner.get("name"))
    for key in getattr(cls, "batched", ()):
        learner.get("params", {}).pop(key, None)
    return canonical_json(cfg)


def run_cells(cells: list[Cell], compute: Compute | None = None) -> list[list[ResultRow]]:
    """The pillar entry point: one list of ResultRow per cell, in order, on ``compute``'s array library."""
    compute = compute or Compute()
    backend = get_backend(compute.array_backend)
    if compute.threads:  # --threads: the batched fits may spread their chunks over that many threads
        backend = dataclasses.replace(backend, threads=int(compute.threads))
    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(batch_key(cell.config), []).append(i)
    out: list[list[ResultRow]] = [[] for _ in cells]
    bar = tqdm(total=len(cells), desc="simulate", unit="cfg", file=sys.stderr,
               disable=not _PROGRESS.get(), leave=False)
    try:
        for indices in groups.values():
            group = [cells[i] for i in indices]
            cfg = group[0].validated_config()
            runner = {"discrete": _run_discrete, "gaussian": _run_gaussian, "simplicity": _run_simplicity,
                      "discrete-counts": stress.run_counts_cells, "gaussian-world": stress.run_world_cells,
                      "car": car.run_car_cells, "discrete-several": several.run_several_cells}[cfg.family]
            for i, rows in zip(indices, runner(group, cfg, backend, bar)):
                out[i] = rows
    finally:
        bar.close()
    return out


def _configs(group: list[Cell]):
    validated = [c.validated_config() for c in group]
    alphas = np.asarray([v.collective.alpha for v in validated])
    seeds = np.asarray([c.seed for c in group])
    return validated, alphas, seeds


def _row(cell: Cell, cfg, *, learner: str, success: float, clean: float, extra: dict,
         worst_group=math.nan, predicted=math.nan, measured=math.nan, attack=math.nan) -> ResultRow:
    return ResultRow(experiment=cell.experiment, pillar="simulate", config=cell.config, seed=cell.seed,
                     alpha=float(cfg.collective.alpha), learner=learner, success=float(success),
                     clean_accuracy=float(clean), worst_group_accuracy=float(worst_group),
                     alpha_eff_predicted=float(predicted), alpha_eff_measured=float(measured),
                     attack_success=float(attack), cell_id=cell.cell_id, extra=extra)


def attack_success(pred_signal: np.ndarray, labels: np.ndarray, target: int) -> np.ndarray:
    """Pr[f(g(x)) = y*] over the signal points whose own label is not y* (C,); NaN without labels."""
    if labels is None:
        return np.full(pred_signal.shape[0], np.nan)
    keep = labels != target
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((pred_signal == target) & keep).sum(axis=1) / keep.sum(axis=1)


def _hardt(alpha_r: np.ndarray, delta: float, xi: float, strategy: str) -> np.ndarray:
    """Hardt's bound at the realised alpha (feature-label only; NaN where it does not apply)."""
    out = np.full(alpha_r.shape, np.nan)
    ok = (alpha_r > 0) & (alpha_r < 1)
    if strategy == "feature-label" and ok.any():
        out[ok] = theory.hardt_bound(alpha_r[ok], float(min(max(delta, 0.0), 1.0)), float(xi))
    return out


# ------------------------------------------------------------------------------------------
# Family 1


def _run_discrete(group, cfg, backend: Backend, bar):
    validated, alphas, seeds = _configs(group)
    problem = discrete_problem(cfg)
    strategy, spec = cfg.collective.strategy, cfg.discrete
    n_est = None
    if strategy == "unplanting":  # default: half of the members estimate y^, the other half the gap
        n_est = [spec.n_est if spec.n_est is not None else int(round(a * cfg.n_train)) // 2 for a in alphas]
    res = fam1.run_plug_in(problem, alphas, seeds, cfg.n_train, cfg.n_test, strategy, n_est=n_est)
    delta, xi = theory.hardt_constants(problem)
    exact = np.full(len(group), np.nan)
    bound = np.full(len(group), np.nan)
    ok = (res.alpha_realised > 0) & (res.alpha_realised < 1)
    if ok.any():
        exact[ok] = theory.bayes_success(problem, res.alpha_realised[ok], strategy)
        bound[ok] = hardt_goals.population_bound(problem, res.alpha_realised[ok], strategy)
    population_labels = problem.collective_labels(strategy)
    bar.update(len(group))
    goal = get_strategy(strategy).goal
    # attack success (planting): Pr[f(g(x)) = y* | y != y*], exact for each trained classifier
    not_target = problem.p0.sum(axis=1) - problem.p0[:, problem.target]
    hits = (res.labels == problem.target)[:, problem.g]
    attack = (hits * not_target).sum(axis=1) / not_target.sum() if not_target.sum() > 0 and goal.name == "plant" \
        else np.full(len(group), np.nan)
    rows = []
    for i, (cell, v) in enumerate(zip(group, validated)):
        extra = {"series": _discrete_series(cfg), "success_theory": float(exact[i]),
                 "success_bound": float(bound[i]), "success_se": float(res.success_se[i]),
                 "success_bound_finite": fam1.finite_sample_bound(problem, strategy, res, i, cfg.n_train,
                                                                  cfg.n_test, spec.delta),
                 "bound_finite_name": fam1.BOUND_NAMES[strategy], "goal": goal.name, "delta_confidence": spec.delta,
                 "success_population": float(res.success_population[i]),
                 "alpha_realised": float(res.alpha_realised[i]), "delta": float(delta), "xi": float(xi),
                 "backend": "numpy", "device": "cpu", "n_train": cfg.n_train, "n_test": cfg.n_test,
                 "family": "discrete"}
        if res.played is not None:
            # the labels the collective estimated, and theory's exact success had it played them
            a = float(res.alpha_realised[i])
            extra.update({
                "n_est": float(n_est[i]) if n_est is not None else math.nan,
                "labels_played": ",".join(str(int(y)) for y in res.played[i]),
                # only the labels at the signal points are ever played
                "labels_as_population": float(np.array_equal(res.played[i][problem.signal_set],
                                                             population_labels[problem.signal_set])),
                "success_theory_played": (float(theory.bayes_success(problem, a, strategy, labels=res.played[i]))
                                          if 0 < a < 1 else math.nan),
            })
        rows.append([_row(cell, v, learner="plug-in", success=res.success[i],
                          clean=res.clean_accuracy[i], attack=attack[i], extra=extra)])
    return rows


def _discrete_series(cfg) -> str:
    spec = cfg.discrete
    problem = "explicit problem" if spec.p0 is not None else f"problem {spec.problem_seed}"
    # the default strategy keeps the label it always had; the others name themselves
    strategy = "" if cfg.collective.strategy == "feature-label" else f", {cfg.collective.strategy}"
    return f"plug-in ({problem}, n={cfg.n_train}{strategy})"


# ------------------------------------------------------------------------------------------
# Family 2


def _run_gaussian(group, cfg, backend: Backend, bar):
    validated, alphas, seeds = _configs(group)
    problem = gaussian_problem(cfg)
    learner_cls = LEARNERS[cfg.learner.name]
    params = [v.learner.validated_params for v in validated]  # validated once, when the file was loaded
    per_config = (logistic_working_set_bytes(cfg.n_train, problem.dim, problem.n_classes)
                  + 8 * 3 * cfg.n_test * problem.dim)
    budget = int(cfg.memory_budget_mb * 2**20)
    delta_bar, xi = gauss_theory.hardt_constants_gaussian(problem, n_mc=cfg.theory_mc_samples)
    theory_cache: dict[float, tuple] = {}
    rows = []
    for sl in chunked(len(group), per_config, budget):
        batch = fam2.sample_batch(problem, alphas[sl], seeds[sl], cfg.n_train, cfg.n_test)
        learner = learner_cls()
        if cfg.learner.name == "bayes":
            learner.problem = problem
        trained = learner.fit(batch, params[sl], backend)
        alpha_r = batch.alpha_realised
        theory_s, theory_se, method = _gaussian_theory(problem, alpha_r, cfg, theory_cache)
        bound = _hardt(alpha_r, delta_bar, xi, problem.strategy)
        success = (trained.pred_signal == problem.target).mean(axis=1)
        attack = attack_success(trained.pred_signal, batch.y_signal, problem.target)
        correct = trained.pred_clean == batch.y_clean
        clean = correct.mean(axis=1)
        worst = np.min(np.stack([_class_acc(correct, batch.y_clean, k) for k in range(problem.n_classes)]), axis=0)
        measured = (measured_alpha_eff(trained.weights, batch.member) if trained.weights is not None
                    else np.full(len(alpha_r), np.nan))
        predicted = (trained.alpha_eff_predicted if trained.alpha_eff_predicted is not None
                     else np.full(len(alpha_r), np.nan))
        for j, idx in enumerate(range(sl.start, sl.stop)):
            extra = {
                "series": learner_cls.series(params[idx]),
                "success_theory": float(theory_s[j]), "success_theory_se": float(theory_se[j]),
                "success_theory_method": method[j],
                "success_bound": float(bound[j]),
                "success_se": float(math.sqrt(success[j] * (1 - success[j]) / cfg.n_test)),
                "alpha_realised": float(alpha_r[j]),
                "e_star": _pick(trained.measured, "e_star", j),
                "e0": _pick(trained.measured, "e0", j),
                "tail_share": _pick(trained.measured, "tail_share", j),
                "alpha_eff_trajectory": (json.dumps([round(float(a), 6) for a in trained.trajectory[j]])
                                         if trained.trajectory is not None else ""),
                "backend": backend.name, "device": backend.device, "n_train": cfg.n_train,
                "n_test": cfg.n_test, "steps": int(trained.train_steps), "family": "gaussian",
            }
            for key, values in trained.measured.items():
                if key not in ("e_star", "e0", "tail_share"):
                    extra[key] = float(values[j])
            rows.append([_row(group[idx], validated[idx], learner=cfg.learner.name, success=success[j],
                              clean=clean[j], worst_group=worst[j], predicted=predicted[j],
                              measured=measured[j], attack=attack[j], extra=extra)])
        bar.update(sl.stop - sl.start)
    return rows


def _pick(measured: dict, key: str, j: int) -> float:
    return float(measured[key][j]) if key in measured else math.nan


def _class_acc(correct: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    mask = y == k
    with np.errstate(invalid="ignore", divide="ignore"):
        return (correct * mask).sum(axis=1) / mask.sum(axis=1)


def _gaussian_theory(problem, alpha_r: np.ndarray, cfg, cache: dict):
    """Exact Bayes success at each realised alpha (closed form, else Monte Carlo), cached per alpha."""
    todo = sorted({float(a) for a in alpha_r if 0 < a < 1 and float(a) not in cache})
    if todo:
        s, se, method = gauss_theory.bayes_success(problem, np.asarray(todo), n_mc=cfg.theory_mc_samples)
        for a, si, sei in zip(todo, np.atleast_1d(s), np.atleast_1d(se)):
            cache[a] = (float(si), float(sei), method)
    vals = [cache.get(float(a), (math.nan, math.nan, "")) for a in alpha_r]
    return [v[0] for v in vals], [v[1] for v in vals], [v[2] for v in vals]


# ------------------------------------------------------------------------------------------
# Family 3 (delegated)


def _run_simplicity(group, cfg, backend: Backend, bar):
    """The cells of one group differ only in alpha and seed: per seed, every alpha's training sets
    (for every signal) are trained in one batched call, and each row goes to its alpha's cell."""
    from collective_action.simulate import simplicity as fam3

    by_seed: dict[int, list[int]] = {}
    for i, cell in enumerate(group):
        by_seed.setdefault(cell.seed, []).append(i)
    rows: list[list] = [[] for _ in group]
    for seed, members in by_seed.items():
        alphas = list(dict.fromkeys(float(group[i].validated_config().collective.alpha) for i in members))
        section = group[members[0]].validated_config().simplicity_config.model_copy(update={"alphas": alphas})
        result = fam3.run_simplicity(section, [seed], backend)
        cell_of = {float(group[i].validated_config().collective.alpha): i for i in members}
        for r in result:
            i = cell_of[float(r.alpha)]
            cell = group[i]
            r.experiment, r.pillar, r.config, r.cell_id = cell.experiment, "simulate", cell.config, cell.cell_id
            rows[i].append(r)
        bar.update(len(members))
    return rows


# ------------------------------------------------------------------------------------------
# Public entry point


def run(spec, quick: bool = False, backend: "str | Backend | Compute" = "auto", progress: bool = False) -> pd.DataFrame:
    """Run a simulate experiment: a path, a parsed mapping or an :class:`Experiment`.

    ``backend`` is a name ('auto', 'numpy', 'cupy'), a :class:`Backend` built on any array-API
    namespace (the tests run the whole pillar on ``array_api_strict`` this way), or a
    :class:`~collective_action.compute.Compute`.

    Returns one row per (configuration, seed) in the shared result schema
    (:func:`collective_action.results.rows_to_frame`), plus the columns ``success_theory``,
    ``success_bound``, ``success_se``, ``series``, ``backend``, ``device`` and the learner's
    measurements.
    """
    exp = spec if isinstance(spec, Experiment) else load_experiment(
        spec if isinstance(spec, (dict, Path)) else Path(spec))
    if exp.spec.pillar != "simulate":
        raise InputError(f"{exp.source}: pillar is {exp.spec.pillar!r}, not 'simulate'")
    compute = backend if isinstance(backend, Compute) else Compute(array_backend=get_backend(backend))
    get_backend(compute.array_backend)  # a bad or unusable backend fails before anything runs
    cells = exp.cells(quick=quick)
    token_p = _PROGRESS.set(progress)
    try:
        rows = run_cells(cells, compute)
    finally:
        _PROGRESS.reset(token_p)
    return rows_to_frame([r for cell_rows in rows for r in cell_rows])
