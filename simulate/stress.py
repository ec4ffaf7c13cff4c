"""The synthetic stress battery: named scenarios, trained for real, checked against theory.

A battery file (``experiments/stress_*.yaml``) lists scenarios. Each scenario is a grid of
configurations of one of two engines:

* ``discrete`` (family 1): a random categorical problem whose signal mass xi = P0(X*) can be set,
  training sets drawn as multinomial counts (so n = 10^7 costs one draw and collectives down to
  alpha = 1e-6 are visible), and a learner: the plug-in (empirical Bayes) learner, or the exact
  worst eps-suboptimal learner under either definition of docs/theory.md §3. Predictions: exact
  Bayes / worst-case success, Hardt's bound (contamination or TV form), the finite-sample bound of
  docs/theory.md §4, the critical mass.
* ``gaussian`` (family 2, :mod:`.stress_worlds`): Gaussian classes with class imbalance, label
  noise, signals on free or class coordinates, several collectives and noisy planting, trained by
  the simulator's learners (:data:`collective_action.simulate.learners.LEARNERS`) or the exact
  Bayes classifier of the world. Predictions: exact Bayes success (Monte Carlo), Hardt's bound
  with the integrated gap at the effective share a = alpha p, the critical mass, and for the
  reweighting learners theory's alpha_eff from the measured shares.

Every row of the stress table gives theory's prediction, the measured mean over seeds with its
95% interval, tightness = bound / measured, and the flags of :mod:`.stress_flags`. Theory's
formulas are looked up through a :class:`Formulas` object, so a test can inject a wrong one and
check that the battery catches it.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from collective_action import theory
from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError
from collective_action.experiment import (StrictModel, check_alpha_list, format_validation_error, read_yaml_mapping,
                                         set_dotted)
from collective_action.algorithms import ALGORITHMS
from collective_action.results import ResultRow, rows_to_frame
from collective_action.simulate import discrete as fam1
from collective_action.simulate.backend import Backend, get_backend
from collective_action.simulate.experiment import LearnerSpec
from collective_action.simulate.learners import LEARNERS, measured_alpha_eff
from collective_action.simulate.logistic import chunked
from collective_action.simulate.stress_flags import assess, mean_se, tightness
from collective_action.simulate.stress_worlds import make_world, sample_world_batch

#: Learners whose training weights are not uniform: Hardt's bound at alpha does not apply to them
#: (they are Bayes-optimal, at best, for a reweighted law); their check is alpha_eff.
REWEIGHTING = tuple(name for name, entry in ALGORITHMS.items() if entry.statistic is not None)
DISCRETE_LEARNERS = ("plug-in", "tv-adversary", "contamination-adversary")


# ------------------------------------------------------------------------------------------
# Theory's formulas, injectable


@dataclass
class Formulas:
    """The theory functions the battery calls; replace one to test that the battery catches it."""

    hardt_bound: Callable = theory.hardt_bound
    critical_mass: Callable = theory.critical_mass
    finite_sample_bound: Callable = theory.finite_sample_bound


# ------------------------------------------------------------------------------------------
# Scenario files


class StressSignal(StrictModel):
    """A collective's signal in a Gaussian world."""

    placement: Literal["free", "class"] = "free"
    offset: int = Field(0, ge=0, description="first coordinate inside the placement's pool")
    n_coords: int = Field(1, ge=1)
    amplitude: float = Field(4.0, ge=0.0, description="norm of the pattern v")
    direction: Literal[1, -1] = Field(1, description="sign of the pattern")
    mode: Literal["additive", "overwrite"] = "additive"
    jitter: float = Field(0.0, ge=0.0, description="overwrite noise std (must be > 0 for overwrite)")
    target: int = Field(1, ge=0, description="target label y*")
    plant_prob: float = Field(1.0, gt=0.0, le=1.0, description="each member plants with probability p")


class SecondCollective(StrictModel):
    """A second collective with a fixed share and its own signal/target."""

    alpha: float = Field(gt=0.0, lt=1.0)
    signal: StressSignal


class GaussianStress(StrictModel):
    """A Gaussian-world configuration (engine: gaussian)."""

    n_classes: int = Field(2, ge=2, le=1000)
    d_class: int = Field(2, ge=1)
    separation: float = Field(4.0, ge=0.0)
    sigma: float = Field(1.0, gt=0.0)
    n_free: int = Field(2, ge=0, le=100_000)
    tau: float = Field(1.0, gt=0.0)
    priors: Optional[list[float]] = Field(None, description="class priors (None: uniform)")
    label_noise: float = Field(0.0, ge=0.0, lt=1.0, description="share of base labels flipped uniformly")
    signal: StressSignal = Field(default_factory=StressSignal)
    second: Optional[SecondCollective] = None
    alphas: list[float] = Field(min_length=1, description="shares of collective 0 (batched)")
    learner: LearnerSpec = Field(default_factory=LearnerSpec)
    n_train: int = Field(2000, ge=10, le=10**7)
    n_test: int = Field(2000, ge=10, le=10**7)
    theory_mc: int = Field(100_000, ge=1000, description="Monte Carlo size of theory's success and gap")
    success_target: float = Field(0.9, gt=0.0, le=1.0, description="S_t of the critical mass")
    grad_tol: float = Field(0.05, gt=0.0, description="logistic fits with a final gradient norm above this did not converge")
    oscillation_tol: float = Field(0.1, gt=0.0, description="reweighting: relative change of alpha_eff between the last rounds")
    memory_budget_mb: float = Field(1024.0, gt=0.0, description="data of one chunk of configurations must fit this")

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, v):
        return check_alpha_list(v)

    @model_validator(mode="after")
    def _world(self):
        signals = [self.signal.model_dump()] + ([self.second.signal.model_dump()] if self.second else [])
        make_world(n_classes=self.n_classes, d_class=self.d_class, separation=self.separation, sigma=self.sigma,
                   n_free=self.n_free, tau=self.tau, priors=self.priors, label_noise=self.label_noise,
                   signals=signals)  # raises InputError on an impossible world
        if self.learner.name not in set(LEARNERS) | {"bayes"}:
            raise ValueError(f"learner {self.learner.name!r} does not apply to engine 'gaussian'")
        return self


class DiscreteStress(StrictModel):
    """A discrete-problem configuration (engine: discrete)."""

    n_points: int = Field(8, ge=2, le=100_000)
    n_labels: int = Field(3, ge=2, le=1000)
    concentration: float = Field(1.0, gt=0.0)
    signal_size: int = Field(2, ge=1)
    problem_seed: int = Field(0, ge=0)
    signal_mass: Optional[float] = Field(None, ge=0.0, lt=1.0, description="xi = P0(X*); None keeps the drawn value")
    target: int = Field(0, ge=0)
    alphas: list[float] = Field(min_length=1)
    n_train: int = Field(100_000, ge=2, le=10**12)
    n_test: int = Field(10_000, ge=1, le=10**9)
    learner: Literal["plug-in", "tv-adversary", "contamination-adversary"] = "plug-in"
    epsilon: float = Field(0.0, ge=0.0, lt=1.0, description="suboptimality of the adversarial learners")
    bound: Literal["hardt", "finite-sample"] = "hardt"
    bound_definition: Optional[Literal["contamination", "tv"]] = Field(
        None, description="which suboptimality the bound assumes (default: the learner's own)")
    confidence_delta: float = Field(0.05, gt=0.0, lt=1.0, description="1 - confidence of the finite-sample bound")
    success_target: float = Field(0.9, gt=0.0, le=1.0)

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, v):
        return check_alpha_list(v)

    @model_validator(mode="after")
    def _problem(self):
        if self.target >= self.n_labels:
            raise ValueError(f"target must be a label in [0, {self.n_labels - 1}], got {self.target}")
        if self.signal_size > self.n_points:
            raise ValueError(f"signal_size must be <= n_points = {self.n_points}")
        if self.signal_mass is not None and self.signal_size == self.n_points and self.signal_mass < 1:
            raise ValueError("signal_mass < 1 needs signal_size < n_points (some x outside X*)")
        if self.learner == "plug-in" and self.epsilon > 0:
            raise ValueError("epsilon applies to the adversarial learners; the plug-in learner has eps = 0")
        if self.bound == "finite-sample" and self.learner != "plug-in":
            raise ValueError("the finite-sample bound is checked with the plug-in learner")
        return self


ENGINES = {"gaussian": GaussianStress, "discrete": DiscreteStress}


class Scenario(StrictModel):
    """One named scenario: an engine, a base configuration, a grid and quick overrides."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    engine: Literal["gaussian", "discrete"]
    stresses: str = Field("", description="what this scenario stresses (one line)")
    seeds: Union[int, list[int]] = 3
    config: dict[str, Any]
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    quick: dict[str, Any] = Field(default_factory=dict)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        seeds = list(range(v)) if isinstance(v, int) else list(v)
        if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError("seeds: give at least two distinct non-negative seeds (intervals need several)")
        return seeds

    def points(self, quick: bool = False) -> list[tuple[dict, object, list[int]]]:
        """(grid values, validated config, seeds) per grid point, quick overrides applied."""
        base = copy.deepcopy(self.config)
        grid = dict(self.grid)
        seeds = self.seeds
        if quick:
            for path, value in self.quick.items():
                if path == "seeds":
                    try:
                        seeds = Scenario._seeds(value)
                    except ValueError as err:
                        raise InputError(f"scenario {self.name}: quick.seeds: {err}") from None
                elif path in grid:
                    grid[path] = value if isinstance(value, list) else [value]
                else:
                    set_dotted(base, path, value)
        model = ENGINES[self.engine]
        out = []
        for combo in itertools.product(*grid.values()):
            cfg = copy.deepcopy(base)
            for path, value in zip(grid, combo):
                set_dotted(cfg, path, value)
            try:
                validated = model.model_validate(cfg)
            except ValidationError as err:
                raise InputError(format_validation_error(err, f"scenario {self.name}: config")) from None
            out.append((dict(zip(grid, combo)), validated, seeds))
        return out


class BatteryFile(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    scenarios: list[Scenario] = Field(min_length=1)


@dataclass
class Battery:
    name: str
    scenarios: list
    sources: list = field(default_factory=list)


def shipped_battery_files() -> list[Path]:
    """The battery files shipped with the package (experiments/stress_*.yaml)."""
    import collective_action.experiments as pkg

    return sorted(Path(pkg.__file__).parent.glob("stress_*.yaml"))


def load_battery(paths=None) -> Battery:
    """Read and validate battery files (default: the shipped ones); scenario names must be unique."""
    paths = [Path(p) for p in (paths or shipped_battery_files())]
    if not paths:
        raise InputError("no stress battery files found")
    scenarios, names, battery_names = [], [], []
    for path in paths:
        raw = read_yaml_mapping(path, "battery file", "a battery file must be a mapping with 'name' and 'scenarios'")
        try:
            spec = BatteryFile.model_validate(raw)
        except ValidationError as err:
            raise InputError(format_validation_error(err, str(path))) from None
        for sc in spec.scenarios:
            if sc.name in names:
                raise InputError(f"{path}: duplicate scenario name {sc.name!r}")
            names.append(sc.name)
            sc.points(quick=False)
            if sc.quick:
                sc.points(quick=True)
            scenarios.append(sc)
        battery_names.append(spec.name)
    name = battery_names[0] if len(battery_names) == 1 else "stress"
    return Battery(name, scenarios, [str(p) for p in paths])


# ------------------------------------------------------------------------------------------
# Discrete engine


def discrete_problem(cfg: DiscreteStress) -> DiscreteProblem:
    """A random problem whose signal set carries P0-mass ``signal_mass`` when it is given."""
    prob = fam1.random_problem(cfg.n_points, cfg.n_labels, cfg.concentration, cfg.signal_size, cfg.target,
                               cfg.problem_seed)
    if cfg.signal_mass is None:
        return prob
    p0 = np.array(prob.p0)
    in_signal = np.zeros(cfg.n_points, dtype=bool)
    in_signal[prob.signal_set] = True
    marg = p0.sum(axis=1)
    p0[in_signal] *= cfg.signal_mass / marg[in_signal].sum()
    p0[~in_signal] *= (1 - cfg.signal_mass) / marg[~in_signal].sum()
    return DiscreteProblem(p0 / p0.sum(), np.array(prob.g), cfg.target)


def _plug_in_finite(problem: DiscreteProblem, alpha: float, seed: int, n: int, n_test: int):
    """Plug-in training with the members' own points kept (the finite-sample bound needs them)."""
    rng = np.random.default_rng([seed, 0])
    K = problem.n_labels
    m = int(round(alpha * n))
    counts = rng.multinomial(n - m, problem.p0.ravel()).reshape(problem.p0.shape)
    cells = rng.choice(problem.p0.size, size=m, p=problem.p0.ravel())
    ox, oy = cells // K, cells % K
    planted = problem.g[ox]
    np.add.at(counts[:, problem.target], planted, 1)
    labels = fam1.plug_in_labels(counts[None], problem.target)[0]
    test = np.random.default_rng([seed, 1])
    hits = labels == problem.target
    success = test.multinomial(n_test, problem.signal_law)[hits].sum() / n_test
    clean_counts = test.multinomial(n_test, problem.p0.ravel()).reshape(problem.p0.shape)
    clean = clean_counts[np.arange(problem.n_points), labels].sum() / n_test
    return m, success, clean, (ox, oy, planted)


def run_discrete_point(cfg: DiscreteStress, seeds: list[int], formulas: Formulas):
    """Per-(alpha, seed) records of one discrete grid point."""
    problem = discrete_problem(cfg)
    delta, xi = theory.hardt_constants(problem)
    t = problem.target
    learner_def = {"plug-in": None, "tv-adversary": "tv", "contamination-adversary": "contamination"}[cfg.learner]
    bound_def = cfg.bound_definition or learner_def or "contamination"
    eps = cfg.epsilon if learner_def else 0.0
    records = []
    for alpha in cfg.alphas:
        a_r = round(alpha * cfg.n_train) / cfg.n_train
        ok = 0 < a_r < 1
        exact = exact_label = math.nan
        if ok and learner_def:
            att = theory.attack(problem, a_r, eps, learner_def)
            exact, exact_label = att.success, f"exact worst-case success ({learner_def}, eps={eps:g})"
            labels = theory.bayes_classifier(att.table, against=t)
        elif ok:
            exact, exact_label = float(theory.bayes_success(problem, a_r)), "exact Bayes success"
        pop_bound = float(formulas.hardt_bound(a_r, delta, xi, eps, bound_def)) if ok else math.nan
        crit = float(formulas.critical_mass(delta, xi, cfg.success_target, eps, bound_def))
        for seed in seeds:
            rec = {"alpha": alpha, "alpha_realised": a_r, "seed": seed, "exact": exact, "exact_label": exact_label,
                   "delta": delta, "xi": xi, "critical_mass": crit, "population_bound": pop_bound,
                   "converged": True, "exact_applies": bool(learner_def)}
            if cfg.learner == "plug-in" and cfg.bound == "finite-sample":
                m, s, clean, (ox, oy, planted) = _plug_in_finite(problem, alpha, seed, cfg.n_train, cfg.n_test)
                b = (float(formulas.finite_sample_bound(
                    ox, oy, planted, cfg.n_train, cfg.n_test, n_points=problem.n_points, n_labels=problem.n_labels,
                    target=t, signal_set_size=len(problem.signal_set), delta=cfg.confidence_delta))
                    if 0 < m < cfg.n_train else math.nan)
                rec.update(success=s, clean=clean, bound=b)
            elif cfg.learner == "plug-in":
                res = fam1.run_plug_in(problem, [alpha], [seed], cfg.n_train, cfg.n_test, "feature-label")
                rec.update(success=float(res.success[0]), clean=float(res.clean_accuracy[0]), bound=pop_bound)
            elif not ok:  # no member at this n: nothing for the adversary to attack
                rec.update(success=math.nan, clean=math.nan, bound=pop_bound)
            else:
                test = np.random.default_rng([seed, 1])
                hits = labels == t
                s = test.multinomial(cfg.n_test, problem.signal_law)[hits].sum() / cfg.n_test
                clean_counts = test.multinomial(cfg.n_test, problem.p0.ravel()).reshape(problem.p0.shape)
                clean = clean_counts[np.arange(problem.n_points), labels].sum() / cfg.n_test
                rec.update(success=float(s), clean=float(clean), bound=pop_bound)
            s = rec["success"]
            rec["success_se"] = math.sqrt(s * (1 - s) / cfg.n_test) if math.isfinite(s) else math.nan
            records.append(rec)
    learner_text = {"plug-in": f"plug-in (empirical Bayes) learner, n={cfg.n_train:g}",
                    "tv-adversary": f"worst TV-{eps:g}-suboptimal learner",
                    "contamination-adversary": f"worst contamination-{eps:g}-suboptimal learner"}[cfg.learner]
    bound_name = ("finite-sample bound (Gauthier et al. Thm 3.3)" if cfg.bound == "finite-sample"
                  else f"Hardt bound ({'Bayes' if eps == 0 else bound_def + ', eps=' + format(eps, 'g')})")
    meta = {"learner": cfg.learner, "series": learner_text, "bound_name": bound_name,
            "assumption": (f"bound assumes a {bound_def}-suboptimal learner (eps={eps:g}); ran: {learner_text}"
                           if eps else f"bound assumes the Bayes learner of P_alpha; ran: {learner_text}"),
            "n_train": cfg.n_train, "n_test": cfg.n_test, "backend": "numpy", "device": "cpu"}
    return records, meta


# ------------------------------------------------------------------------------------------
# Gaussian engine


def _world(cfg: GaussianStress):
    signals = [cfg.signal.model_dump()] + ([cfg.second.signal.model_dump()] if cfg.second else [])
    return make_world(n_classes=cfg.n_classes, d_class=cfg.d_class, separation=cfg.separation, sigma=cfg.sigma,
                      n_free=cfg.n_free, tau=cfg.tau, priors=cfg.priors, label_noise=cfg.label_noise,
                      signals=signals)


def run_gaussian_point(cfg: GaussianStress, seeds: list[int], formulas: Formulas, backend: Backend):
    """Per-(alpha, seed, collective) records of one Gaussian grid point.

    All (alpha, seed) configurations train as one batch, split into consecutive chunks when
    their data exceed ``memory_budget_mb`` (d = 10,000 does not fit at once on a small machine).
    """
    world = _world(cfg)
    J = len(world.plantings)
    pairs = [(a, s) for a in cfg.alphas for s in seeds]
    alphas = np.array([[a] + ([cfg.second.alpha] if cfg.second else []) for a, _ in pairs])
    seed_arr = np.array([s for _, s in pairs])
    per_config = 8 * world.dim * (2 * cfg.n_train + (J + 1) * cfg.n_test) + 8 * 4 * cfg.n_train * world.n_classes
    chunks = chunked(len(pairs), per_config, int(cfg.memory_budget_mb * 2**20))
    parts = [_fit_gaussian_chunk(world, cfg, alphas[sl], seed_arr[sl], backend) for sl in chunks]
    pred_signal = np.concatenate([p["pred_signal"] for p in parts])
    pred_clean = np.concatenate([p["pred_clean"] for p in parts])
    y_clean = np.concatenate([p["y_clean"] for p in parts])
    planted = np.concatenate([p["planted"] for p in parts])
    nominal = np.concatenate([p["nominal"] for p in parts])
    converged = np.concatenate([p["converged"] for p in parts])
    measured_eff = np.concatenate([p["measured_eff"] for p in parts])
    pred_eff = np.concatenate([p["pred_eff"] for p in parts])
    note, steps = parts[0]["note"], parts[0]["steps"]
    name = cfg.learner.name
    # theory per distinct effective share vector
    cache: dict = {}
    records = []
    for c, (alpha, seed) in enumerate(pairs):
        shares = tuple(float(nominal[c, j] * world.plantings[j].plant_prob) for j in range(J))
        if shares not in cache:
            cache[shares] = _gaussian_theory(world, shares, cfg, formulas)
        th = cache[shares]
        for j in range(J):
            blk = pred_signal[c, j * cfg.n_test:(j + 1) * cfg.n_test]
            s = float((blk == world.plantings[j].target).mean())
            records.append({
                "alpha": alpha if j == 0 else cfg.second.alpha, "sweep_alpha": alpha, "collective": j, "seed": seed,
                "alpha_realised": float(nominal[c, j]), "alpha_planted": float(planted[c, j]),
                "alpha_effective": shares[j],
                "success": s, "success_se": math.sqrt(s * (1 - s) / cfg.n_test),
                "clean": float((pred_clean[c] == y_clean[c]).mean()),
                "exact": th[j]["exact"], "exact_se": th[j]["exact_se"], "exact_label": "exact Bayes success (MC)",
                "bound": th[j]["bound"] if name not in REWEIGHTING else math.nan,
                "bound_se": th[j]["bound_se"], "gap": th[j]["gap"], "critical_mass": th[j]["critical_mass"],
                "population_bound": th[j]["bound"],
                "exact_applies": name == "bayes",
                "alpha_eff_measured": float(measured_eff[c]) if j == 0 else math.nan,
                "alpha_eff_predicted": float(pred_eff[c]) if j == 0 else math.nan,
                "converged": bool(converged[c]), "convergence_note": note, "steps": steps,
            })
    series = "Bayes (exact densities)" if name == "bayes" else LEARNERS[name].series(
        LEARNERS[name].Params.model_validate(cfg.learner.params))
    lam_c = math.nan
    if name == "jtt" and cfg.n_classes == 2 and cfg.label_noise == 0 and cfg.priors is None:
        lam_c = float(theory.jtt_collapse_upweight(cfg.separation, cfg.sigma))
    meta = {"learner": name, "series": series, "bound_name": "Hardt bound (integrated gap, at alpha p)",
            "assumption": ("bound assumes the Bayes learner of P_alpha; ran: " + series),
            "n_train": cfg.n_train, "n_test": cfg.n_test, "backend": backend.name, "device": backend.device,
            "jtt_lambda_c": lam_c, "jtt_upweight": float(cfg.learner.params.get("upweight", math.nan))}
    return records, meta


def _fit_gaussian_chunk(world, cfg: GaussianStress, alphas: np.ndarray, seeds: np.ndarray, backend: Backend) -> dict:
    """Sample and train one chunk of configurations; predictions and diagnostics on the host."""
    J = len(world.plantings)
    C = len(seeds)
    batch, planted, nominal = sample_world_batch(world, alphas, seeds, cfg.n_train, cfg.n_test)
    name = cfg.learner.name
    converged = np.ones(C, dtype=bool)
    note, steps = "", 0
    weights = trajectory = None
    pred_eff = np.full(C, math.nan)
    if name == "bayes":
        shares = nominal * np.array([p.plant_prob for p in world.plantings])
        pred_clean = np.stack([world.bayes_predict(batch.X_clean[c], shares[c], world.plantings[0].target)
                               for c in range(C)])
        # the success of collective j scores its own block with its own tie rule
        pred_signal = np.concatenate([np.stack([
            world.bayes_predict(batch.X_signal[c, j * cfg.n_test:(j + 1) * cfg.n_test], shares[c],
                                world.plantings[j].target) for c in range(C)]) for j in range(J)], axis=1)
    else:
        cls = LEARNERS[name]
        params = [cls.Params.model_validate(cfg.learner.params)] * C
        trained = cls().fit(batch, params, backend)
        pred_signal, pred_clean = trained.pred_signal, trained.pred_clean
        weights, trajectory = trained.weights, trained.trajectory
        if trained.alpha_eff_predicted is not None:
            pred_eff = np.asarray(trained.alpha_eff_predicted, dtype=float)
        steps = trained.train_steps
        if trained.model is not None and hasattr(trained.model, "grad_norm"):
            gn = np.asarray(trained.model.grad_norm, dtype=float)
            converged = np.isfinite(gn) & (gn <= cfg.grad_tol)
            note = f"final gradient norm above grad_tol={cfg.grad_tol:g} (max {np.nanmax(gn):.3g})"
        if trajectory is not None and trajectory.shape[1] >= 2:
            last, prev = trajectory[:, -1], trajectory[:, -2]
            converged &= np.abs(last - prev) <= cfg.oscillation_tol * np.maximum(np.abs(last), 1e-12)
            note = (f"alpha_eff still moving between the last reweighting rounds "
                    f"(relative change > {cfg.oscillation_tol:g}): the fixed point oscillates")
        if weights is not None:
            converged &= np.isfinite(weights).all(axis=1)
    measured_eff = measured_alpha_eff(weights, batch.member) if weights is not None else np.full(C, math.nan)
    return {"pred_signal": np.asarray(pred_signal), "pred_clean": np.asarray(pred_clean), "y_clean": batch.y_clean,
            "planted": planted, "nominal": nominal, "converged": converged, "measured_eff": measured_eff,
            "pred_eff": pred_eff, "note": note, "steps": steps}


def _gaussian_theory(world, shares, cfg: GaussianStress, formulas: Formulas) -> list[dict]:
    out = []
    for j in range(len(shares)):
        a = shares[j]
        if not (0 < a < 1):
            out.append({"exact": math.nan, "exact_se": math.nan, "bound": math.nan, "bound_se": math.nan,
                        "gap": math.nan, "critical_mass": math.nan})
            continue
        s, s_se = world.bayes_success_mc(shares, j, cfg.theory_mc)
        gap, gap_se = world.integrated_gap_mc(shares, j, cfg.theory_mc)
        gap = min(max(gap, 0.0), 1.0)
        bound = float(formulas.hardt_bound(a, gap, 1.0))
        # d bound / d gap = -(1 - a) / a: the gap's Monte Carlo error carried into the bound
        bound_se = (1 - a) / a * gap_se
        crit = float(formulas.critical_mass(gap, 1.0, cfg.success_target)) / world.plantings[j].plant_prob
        out.append({"exact": s, "exact_se": s_se, "bound": bound, "bound_se": bound_se, "gap": gap,
                    "critical_mass": crit})
    return out


# ------------------------------------------------------------------------------------------
# Aggregation into the stress table


def _aggregate(scenario: Scenario, point_values: dict, cfg, records: list, meta: dict) -> list[dict]:
    rows = []
    frame = pd.DataFrame.from_records(records)
    if "collective" not in frame:
        frame["collective"] = 0
    if "sweep_alpha" not in frame:
        frame["sweep_alpha"] = frame["alpha"]
    point = ", ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in point_values.items()) or "base"
    for (sweep, j), part in frame.groupby(["sweep_alpha", "collective"], sort=True):
        alpha = float(part["alpha"].iloc[0])
        s, lo, hi, se = mean_se(part["success"], part["success_se"])
        c, c_lo, c_hi, _ = mean_se(part["clean"], np.zeros(len(part)))
        bound = float(part["bound"].mean())
        bound_se = float(part["bound_se"].mean()) if "bound_se" in part else 0.0
        exact = float(part["exact"].mean())
        exact_se = float(part["exact_se"].mean()) if "exact_se" in part else 0.0
        eff_p = float(part["alpha_eff_predicted"].mean()) if "alpha_eff_predicted" in part else math.nan
        eff_m = float(part["alpha_eff_measured"].mean()) if "alpha_eff_measured" in part else math.nan
        nc = float(1.0 - part["converged"].astype(float).mean())
        collapse_pred, collapsed = math.nan, math.nan
        lam_c, lam = meta.get("jtt_lambda_c", math.nan), meta.get("jtt_upweight", math.nan)
        if math.isfinite(lam_c) and math.isfinite(c):
            # docs/theory.md §5: the second stage flips a binary classifier exactly when lambda > lambda_c;
            # flipped, clean accuracy falls to about the stage-1 error (below 1/2)
            collapse_pred, collapsed = float(lam > lam_c), float(c < 0.5)
        reweighting = meta["learner"] in REWEIGHTING
        expected = ("success", "alpha_eff_measured") if reweighting else ("success", "bound")
        a = assess(success=s, success_se=se, bound=bound, bound_se=bound_se, exact=exact, exact_se=exact_se,
                   exact_applies=bool(part["exact_applies"].iloc[0]), exact_label=str(part["exact_label"].iloc[0]),
                   assumption=meta["assumption"], alpha_eff_predicted=eff_p, alpha_eff_measured=eff_m,
                   not_converged_share=nc,
                   convergence_note=str(part["convergence_note"].iloc[0]) if "convergence_note" in part else "",
                   expected=expected)
        if math.isfinite(collapse_pred) and collapse_pred != collapsed:
            if "VIOLATION" not in a.flags:
                a.flags.append("VIOLATION")
            a.causes.append(f"JTT collapse: theory's lambda_c = {lam_c:.4g} predicts "
                            f"{'a collapse' if collapse_pred else 'no collapse'} at lambda = {lam:g}, "
                            f"measured clean accuracy {c:.3f} (stage 1 not at the Bayes boundary, finite n)")
        rows.append({
            "scenario": scenario.name, "engine": scenario.engine, "stresses": scenario.stresses,
            "point": point, "series": meta["series"], "learner": meta["learner"], "collective": int(j),
            "alpha": float(alpha), "alpha_collective0": float(sweep), "alpha_realised": float(part["alpha_realised"].mean()),
            "alpha_effective": float(part["alpha_effective"].mean()) if "alpha_effective" in part else float(part["alpha_realised"].mean()),
            "seeds": int(len(part)),
            "prediction": "alpha_eff" if reweighting else "bound",
            "bound_name": ("not evaluated: reweighting learner (Bayes-optimal at best for P_w; check alpha_eff)"
                           if reweighting else meta["bound_name"]),
            "success_bound": bound, "success_bound_se": bound_se,
            "vacuous": bool(math.isfinite(bound) and bound <= 0),
            "population_bound": float(part["population_bound"].mean()),
            "success_theory": exact, "success_theory_se": exact_se, "success_theory_kind": str(part["exact_label"].iloc[0]),
            "success": s, "success_lo": lo, "success_hi": hi, "success_se": se,
            "clean_accuracy": c, "clean_lo": c_lo, "clean_hi": c_hi,
            "tightness": tightness(bound, s) if not reweighting else tightness(eff_p, eff_m),
            "critical_mass": float(part["critical_mass"].mean()),
            "alpha_eff_predicted": eff_p, "alpha_eff_measured": eff_m,
            "jtt_lambda_c": lam_c, "jtt_collapse_predicted": collapse_pred, "jtt_collapsed": collapsed,
            "not_converged_share": nc,
            "flags": a.flag_text, "violation_cause": a.cause_text,
            "n_train": meta["n_train"], "n_test": meta["n_test"], "backend": meta["backend"], "device": meta["device"],
            "config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True),
        })
    return rows


def _short(v) -> str:
    if isinstance(v, dict):
        return v.get("name", json.dumps(v, sort_keys=True)) + (
            "(" + ",".join(f"{k}={_short(x)}" for k, x in v.get("params", {}).items() if k in
                           ("upweight", "beta", "rho", "q", "eta_q")) + ")" if v.get("params") else "")
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def _raw_rows(battery: str, scenario: Scenario, cfg, records: list, meta: dict) -> list[ResultRow]:
    out = []
    config = {"scenario": scenario.name, "engine": scenario.engine, **cfg.model_dump(mode="json")}
    for r in records:
        out.append(ResultRow(
            experiment=battery, pillar="simulate", config=config, seed=int(r["seed"]), alpha=float(r["alpha"]),
            learner=meta["learner"], success=float(r["success"]), clean_accuracy=float(r["clean"]),
            alpha_eff_predicted=float(r.get("alpha_eff_predicted", math.nan)),
            alpha_eff_measured=float(r.get("alpha_eff_measured", math.nan)),
            extra={"scenario": scenario.name, "collective": int(r.get("collective", 0)), "series": meta["series"],
                   "success_se": float(r["success_se"]), "success_theory": float(r["exact"]),
                   "success_bound": float(r["bound"]), "alpha_realised": float(r["alpha_realised"]),
                   "backend": meta["backend"], "device": meta["device"], "n_train": meta["n_train"],
                   "n_test": meta["n_test"]}))
    return out


@dataclass
class StressResult:
    table: pd.DataFrame      # one row per (scenario, grid point, alpha, collective)
    raw: pd.DataFrame        # one ResultRow per (scenario, grid point, alpha, seed, collective)
    timings: dict            # seconds per scenario


def run_battery(battery: Battery | None = None, *, quick: bool = False, backend: str = "auto",
                scenarios: list[str] | None = None, formulas: Formulas | None = None,
                progress: Callable[[str], None] | None = None) -> StressResult:
    """Run every (selected) scenario of the battery; returns the stress table and the raw rows."""
    battery = battery or load_battery()
    formulas = formulas or Formulas()
    bk = get_backend(backend)
    chosen = battery.scenarios
    if scenarios:
        known = {s.name for s in battery.scenarios}
        unknown = [n for n in scenarios if n not in known]
        if unknown:
            raise InputError(f"unknown scenario {unknown[0]!r}; choose from: {', '.join(sorted(known))}")
        chosen = [s for s in battery.scenarios if s.name in scenarios]
    table, raw, timings = [], [], {}
    for sc in chosen:
        start = time.perf_counter()
        for values, cfg, seeds in sc.points(quick=quick):
            if sc.engine == "discrete":
                records, meta = run_discrete_point(cfg, seeds, formulas)
            else:
                records, meta = run_gaussian_point(cfg, seeds, formulas, bk)
            table += _aggregate(sc, values, cfg, records, meta)
            raw += _raw_rows(battery.name, sc, cfg, records, meta)
        timings[sc.name] = time.perf_counter() - start
        if progress:
            progress(f"{sc.name}: {timings[sc.name]:.1f} s")
    return StressResult(pd.DataFrame.from_records(table), rows_to_frame(raw), timings)
