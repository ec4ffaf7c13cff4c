"""The stress families of the simulator: worlds and problems where theory's assumptions are pushed.

Two families serve the stress battery (``experiments/stress/*.yaml``), ordinary simulate
experiment files with an ``assess:`` section (:mod:`collective_action.assess`):

* ``discrete-counts`` (section ``counts:``): a random categorical problem whose signal mass
  xi = P0(X*) can be set, training sets drawn as multinomial counts (so n = 10^7 costs one draw and
  collectives down to alpha = 1e-6 are visible), and a counting learner: ``plug-in`` (empirical
  Bayes), or the exact worst eps-suboptimal learner of either definition of docs/theory.md §3
  (``tv-adversary``, ``contamination-adversary``, parameter ``epsilon``). Predictions: exact Bayes /
  worst-case success, Hardt's bound (contamination or TV form), the finite-sample bound of
  docs/theory.md §4 (``bound: finite-sample``), the critical mass.
* ``gaussian-world`` (section ``world:``, :mod:`.stress_worlds`): Gaussian classes with class
  imbalance, label noise, signals on free or class coordinates, a second collective and noisy
  planting (or ``world.collectives``: any number of collectives in the shared vocabulary of
  :mod:`collective_action.several`, each with its noise share and kind), trained by the
  simulator's learners (:data:`collective_action.simulate.learners.LEARNERS`, ``bayes`` being
  the exact Bayes classifier of the world). Predictions: exact Bayes success (Monte Carlo),
  Hardt's bound with the integrated gap at the effective share a = alpha p, the critical mass,
  and for the reweighting learners theory's alpha_eff from the measured shares.

One cell (a configuration and a seed) gives one result row per collective, carrying theory's
prediction next to the measurement (``success_bound``, ``success_theory``, their Monte Carlo
errors, ``exact_applies``, ``converged``); :mod:`collective_action.assess` turns the stored rows
into the stress table and its flags. Theory's formulas are looked up through :data:`FORMULAS`, so
a test can put a wrong one in and check that the battery catches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Optional

import numpy as np
from pydantic import Field, model_serializer

from collective_action import theory
from collective_action.discrete import DiscreteProblem
from collective_action.experiment import StrictModel
from collective_action.algorithms import ALGORITHMS
from collective_action.results import ResultRow
from collective_action.several import CollectiveItem, Resolved, resolve, without_unused
from collective_action.simulate import discrete as fam1
from collective_action.simulate.backend import Backend
from collective_action.simulate.learners import LEARNERS, measured_alpha_eff
from collective_action.simulate.logistic import chunked
from collective_action.simulate.stress_worlds import make_world, sample_world_batch

#: Learners whose training weights are not uniform: Hardt's bound at alpha does not apply to them
#: (they are Bayes-optimal, at best, for a reweighted law); their check is alpha_eff.
REWEIGHTING = tuple(name for name, entry in ALGORITHMS.items() if entry.statistic is not None)


# ------------------------------------------------------------------------------------------
# Theory's formulas, replaceable


@dataclass
class Formulas:
    """The theory functions the stress families call; replace one to test that the battery catches it."""

    hardt_bound: Callable = theory.hardt_bound
    critical_mass: Callable = theory.critical_mass
    finite_sample_bound: Callable = theory.finite_sample_bound


#: The formulas every stress cell uses (a test swaps it for a wrong one, with the serial executor).
FORMULAS = Formulas()


# ------------------------------------------------------------------------------------------
# Configuration sections


class WorldSignal(StrictModel):
    """A collective's signal in a Gaussian world (its target is the collective's)."""

    placement: Literal["free", "class"] = "free"
    offset: int = Field(0, ge=0, description="first coordinate inside the placement's pool")
    n_coords: int = Field(1, ge=1)
    amplitude: float = Field(4.0, ge=0.0, description="norm of the pattern v")
    direction: Literal[1, -1] = Field(1, description="sign of the pattern")
    mode: Literal["additive", "overwrite"] = "additive"
    jitter: float = Field(0.0, ge=0.0, description="overwrite noise std (must be > 0 for overwrite)")
    plant_prob: float = Field(1.0, gt=0.0, le=1.0, description="each member plants with probability p")


class SecondCollective(StrictModel):
    """A second collective with a fixed share, its own signal and target."""

    alpha: float = Field(gt=0.0, lt=1.0)
    target: int = Field(0, ge=0)
    signal: WorldSignal = Field(default_factory=WorldSignal)


class WorldCollectiveItem(CollectiveItem[WorldSignal]):
    """An item of ``world.collectives`` (a named class, so that it pickles to workers)."""


class WorldSection(StrictModel):
    """Family ``gaussian-world``: Gaussian classes with the knobs family ``gaussian`` lacks."""

    n_classes: int = Field(2, ge=2, le=1000)
    d_class: int = Field(2, ge=1)
    separation: float = Field(4.0, ge=0.0)
    sigma: float = Field(1.0, gt=0.0)
    n_free: int = Field(2, ge=0, le=100_000)
    tau: float = Field(1.0, gt=0.0)
    priors: Optional[list[float]] = Field(None, description="class priors (None: uniform)")
    label_noise: float = Field(0.0, ge=0.0, lt=1.0, description="share of base labels flipped uniformly")
    signal: WorldSignal = Field(default_factory=WorldSignal)
    second: Optional[SecondCollective] = None
    collectives: Optional[list[WorldCollectiveItem]] = Field(
        None, description="every collective in the shared vocabulary (collective_action.several), in place of "
                          "signal and second; collective 0's alpha and target come from collective:")
    shares: dict[int, float] = Field(default_factory=dict, description="with collectives: index -> alpha (grid-able)")
    noise: dict[int, float] = Field(default_factory=dict, description="with collectives: index -> noise share (grid-able)")
    success_target: float = Field(0.9, gt=0.0, le=1.0, description="S_t of the critical mass")
    grad_tol: float = Field(0.05, gt=0.0, description="logistic fits with a final gradient norm above this did not converge")
    oscillation_tol: float = Field(0.1, gt=0.0, description="reweighting: relative change of alpha_eff between the last rounds")

    @model_serializer(mode="wrap")
    def _without_unused(self, handler):
        # a world without collectives: keeps the identity (cell id) it had before the field existed
        return without_unused(handler(self))


class CountsSection(StrictModel):
    """Family ``discrete-counts``: a random discrete problem, trained from multinomial counts."""

    n_points: int = Field(8, ge=2, le=100_000)
    n_labels: int = Field(3, ge=2, le=1000)
    concentration: float = Field(1.0, gt=0.0)
    signal_size: int = Field(2, ge=1)
    problem_seed: int = Field(0, ge=0)
    signal_mass: Optional[float] = Field(None, ge=0.0, lt=1.0, description="xi = P0(X*); None keeps the drawn value")
    bound: Literal["hardt", "finite-sample"] = "hardt"
    bound_definition: Optional[Literal["contamination", "tv"]] = Field(
        None, description="which suboptimality the bound assumes (default: the learner's own)")
    confidence_delta: float = Field(0.05, gt=0.0, lt=1.0, description="1 - confidence of the finite-sample bound")
    success_target: float = Field(0.9, gt=0.0, le=1.0)


def world_collectives(cfg) -> list[Resolved]:
    """Every collective of a gaussian-world configuration, collective 0 first.

    Without ``world.collectives``: collective 0 from ``collective:`` and ``world.signal``, the
    ``second`` one where given, noise 1 - plant_prob of kind keep-label.
    """
    c, w = cfg.collective, cfg.world
    if w.collectives is not None:
        return resolve(c, w.collectives, w.shares, w.noise)
    out = [Resolved(0, c.alpha, c.target, c.strategy, w.signal, 1.0 - w.signal.plant_prob, "keep-label")]
    if w.second is not None:
        s = w.second
        out.append(Resolved(1, s.alpha, s.target, "feature-label", s.signal, 1.0 - s.signal.plant_prob, "keep-label"))
    return out


def _check_world_items(cfg) -> None:
    """check_world for ``world.collectives``."""
    w = cfg.world
    if w.second is not None or w.signal != WorldSignal():
        raise ValueError("world.collectives lists every collective with its signal: remove world.signal and world.second")
    for c in world_collectives(cfg):  # alphas, targets and overrides given once; shares below 1
        if c.strategy != "feature-label":
            raise ValueError(f"world.collectives.{c.index}: family 'gaussian-world' plants with the feature-label "
                             "strategy only")
        if c.signal.plant_prob != 1.0:
            raise ValueError(f"world.collectives.{c.index}.signal.plant_prob: write the members who do not plant as "
                             f"noise: {{share: {1 - c.signal.plant_prob:g}, kind: keep-label}}")
        if c.target >= w.n_classes:
            raise ValueError(f"collective {c.index}: target must be a label in [0, {w.n_classes - 1}], got {c.target}")


def check_world(cfg) -> None:
    """ValueError (or InputError) for a gaussian-world configuration that cannot run."""
    c, w = cfg.collective, cfg.world
    if c.strategy != "feature-label":
        raise ValueError("family 'gaussian-world' plants with the feature-label strategy only")
    if w.collectives is not None:
        _check_world_items(cfg)
        world_of(cfg)  # raises InputError on an impossible world
        return
    if w.shares or w.noise:
        raise ValueError("world.shares and world.noise override entries of world.collectives; there is none")
    for name, target in (("collective.target", c.target), ("world.second.target", w.second.target if w.second else 0)):
        if target >= w.n_classes:
            raise ValueError(f"{name} must be a label in [0, {w.n_classes - 1}], got {target}")
    if w.second is not None and c.alpha + w.second.alpha >= 1:
        raise ValueError(f"collective.alpha + world.second.alpha must be below 1, got {c.alpha + w.second.alpha:g}")
    world_of(cfg)  # raises InputError on an impossible world


def check_counts(cfg) -> None:
    """ValueError for a discrete-counts configuration that cannot run."""
    c, s = cfg.collective, cfg.counts
    if c.strategy != "feature-label":
        raise ValueError("family 'discrete-counts' plants with the feature-label strategy only")
    if c.target >= s.n_labels:
        raise ValueError(f"collective.target must be a label in [0, {s.n_labels - 1}], got {c.target}")
    if s.signal_size > s.n_points:
        raise ValueError(f"counts.signal_size must be <= n_points = {s.n_points}")
    if s.signal_mass is not None and s.signal_size == s.n_points and s.signal_mass < 1:
        raise ValueError("counts.signal_mass < 1 needs signal_size < n_points (some x outside X*)")
    if s.bound == "finite-sample" and cfg.learner.name != "plug-in":
        raise ValueError("the finite-sample bound is checked with the plug-in learner")


# ------------------------------------------------------------------------------------------
# discrete-counts


def discrete_problem(cfg) -> DiscreteProblem:
    """A random problem whose signal set carries P0-mass ``counts.signal_mass`` when it is given."""
    s, target = cfg.counts, cfg.collective.target
    prob = fam1.random_problem(s.n_points, s.n_labels, s.concentration, s.signal_size, target, s.problem_seed)
    if s.signal_mass is None:
        return prob
    p0 = np.array(prob.p0)
    in_signal = np.zeros(s.n_points, dtype=bool)
    in_signal[prob.signal_set] = True
    marg = p0.sum(axis=1)
    p0[in_signal] *= s.signal_mass / marg[in_signal].sum()
    p0[~in_signal] *= (1 - s.signal_mass) / marg[~in_signal].sum()
    return DiscreteProblem(p0 / p0.sum(), np.array(prob.g), target)


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


def counts_record(cfg, seed: int, formulas: Formulas) -> tuple[dict, dict]:
    """The record of one discrete-counts cell and what describes its learner and bound."""
    s, problem = cfg.counts, discrete_problem(cfg)
    alpha, n, n_test = cfg.collective.alpha, cfg.n_train, cfg.n_test
    delta, xi = theory.hardt_constants(problem)
    t = problem.target
    name = cfg.learner.name
    learner_def = {"plug-in": None, "tv-adversary": "tv", "contamination-adversary": "contamination"}[name]
    bound_def = s.bound_definition or learner_def or "contamination"
    eps = float(cfg.learner.params.get("epsilon", 0.0)) if learner_def else 0.0
    a_r = round(alpha * n) / n
    ok = 0 < a_r < 1
    exact = exact_label = math.nan
    if ok and learner_def:
        att = theory.attack(problem, a_r, eps, learner_def)
        exact, exact_label = att.success, f"exact worst-case success ({learner_def}, eps={eps:g})"
        labels = theory.bayes_classifier(att.table, against=t)
    elif ok:
        exact, exact_label = float(theory.bayes_success(problem, a_r)), "exact Bayes success"
    pop_bound = float(formulas.hardt_bound(a_r, delta, xi, eps, bound_def)) if ok else math.nan
    crit = float(formulas.critical_mass(delta, xi, s.success_target, eps, bound_def))
    rec = {"alpha": alpha, "alpha_realised": a_r, "seed": seed, "exact": exact, "exact_label": exact_label,
           "delta": delta, "xi": xi, "critical_mass": crit, "population_bound": pop_bound,
           "converged": True, "exact_applies": bool(learner_def)}
    if name == "plug-in" and s.bound == "finite-sample":
        m, succ, clean, (ox, oy, planted) = _plug_in_finite(problem, alpha, seed, n, n_test)
        b = (float(formulas.finite_sample_bound(
            ox, oy, planted, n, n_test, n_points=problem.n_points, n_labels=problem.n_labels,
            target=t, signal_set_size=len(problem.signal_set), delta=s.confidence_delta))
            if 0 < m < n else math.nan)
        rec.update(success=succ, clean=clean, bound=b)
    elif name == "plug-in":
        res = fam1.run_plug_in(problem, [alpha], [seed], n, n_test, "feature-label")
        rec.update(success=float(res.success[0]), clean=float(res.clean_accuracy[0]), bound=pop_bound)
    elif not ok:  # no member at this n: nothing for the adversary to attack
        rec.update(success=math.nan, clean=math.nan, bound=pop_bound)
    else:
        test = np.random.default_rng([seed, 1])
        hits = labels == t
        succ = test.multinomial(n_test, problem.signal_law)[hits].sum() / n_test
        clean_counts = test.multinomial(n_test, problem.p0.ravel()).reshape(problem.p0.shape)
        clean = clean_counts[np.arange(problem.n_points), labels].sum() / n_test
        rec.update(success=float(succ), clean=float(clean), bound=pop_bound)
    succ = rec["success"]
    rec["success_se"] = math.sqrt(succ * (1 - succ) / n_test) if math.isfinite(succ) else math.nan
    learner_text = {"plug-in": f"plug-in (empirical Bayes) learner, n={n:g}",
                    "tv-adversary": f"worst TV-{eps:g}-suboptimal learner",
                    "contamination-adversary": f"worst contamination-{eps:g}-suboptimal learner"}[name]
    bound_name = ("finite-sample bound (Gauthier et al. Thm 3.3)" if s.bound == "finite-sample"
                  else f"Hardt bound ({'Bayes' if eps == 0 else bound_def + ', eps=' + format(eps, 'g')})")
    meta = {"series": learner_text, "bound_name": bound_name,
            "assumption": (f"bound assumes a {bound_def}-suboptimal learner (eps={eps:g}); ran: {learner_text}"
                           if eps else f"bound assumes the Bayes learner of P_alpha; ran: {learner_text}"),
            "backend": "numpy", "device": "cpu"}
    return rec, meta


def run_counts_cells(group, cfg, backend: Backend, bar) -> list[list[ResultRow]]:
    """One result row per discrete-counts cell (each cell is one exact multinomial draw)."""
    out = []
    for cell in group:
        v = cell.validated_config()
        rec, meta = counts_record(v, cell.seed, FORMULAS)
        out.append([_result_row(cell, v, rec, meta)])
        bar.update(1)
    return out


# ------------------------------------------------------------------------------------------
# gaussian-world


def world_of(cfg):
    """The GaussianWorld of a gaussian-world configuration (collective 0 first)."""
    w, c = cfg.world, cfg.collective
    if w.collectives is not None:
        signals = [{**k.signal.model_dump(), "target": k.target, "plant_prob": 1.0 - k.noise, "noise_kind": k.kind}
                   for k in world_collectives(cfg)]
    else:
        signals = [{**w.signal.model_dump(), "target": c.target}]
        if w.second is not None:
            signals.append({**w.second.signal.model_dump(), "target": w.second.target})
    return make_world(n_classes=w.n_classes, d_class=w.d_class, separation=w.separation, sigma=w.sigma,
                      n_free=w.n_free, tau=w.tau, priors=w.priors, label_noise=w.label_noise, signals=signals)


def run_world_cells(group, cfg, backend: Backend, bar) -> list[list[ResultRow]]:
    """One row per collective for every gaussian-world cell; the cells train as one batch.

    The batch is split into consecutive chunks when its data exceed ``memory_budget_mb`` (d = 10,000
    does not fit at once on a small machine). Theory is computed once per distinct vector of
    effective shares.
    """
    validated = [c.validated_config() for c in group]
    world = world_of(cfg)
    J = len(world.plantings)
    collectives = [world_collectives(v) for v in validated]
    alphas = np.array([[k.alpha for k in cols] for cols in collectives])
    seeds = np.array([c.seed for c in group])
    params = [v.learner.validated_params for v in validated]
    per_config = 8 * world.dim * (2 * cfg.n_train + (J + 1) * cfg.n_test) + 8 * 4 * cfg.n_train * world.n_classes
    out: list[list[ResultRow]] = []
    cache: dict = {}
    for sl in chunked(len(group), per_config, int(cfg.memory_budget_mb * 2**20)):
        part = _fit_world_chunk(world, cfg, alphas[sl], seeds[sl], params[sl], backend)
        for k, c in enumerate(range(sl.start, sl.stop)):
            v = validated[c]
            shares = tuple(float(part["nominal"][k, j] * world.plantings[j].plant_prob) for j in range(J))
            deviators = tuple(world.deviator_shares(part["nominal"][k]))
            if (shares, deviators) not in cache:
                cache[shares, deviators] = _world_theory(world, shares, cfg, FORMULAS, deviators)
            th = cache[shares, deviators]
            meta = _world_meta(v, backend)
            rows = []
            for j in range(J):
                blk = part["pred_signal"][k, j * cfg.n_test:(j + 1) * cfg.n_test]
                s = float((blk == world.plantings[j].target).mean())
                rec = {"alpha": collectives[c][j].alpha, "collective": j,
                       "alpha_realised": float(part["nominal"][k, j]), "alpha_planted": float(part["planted"][k, j]),
                       "alpha_effective": shares[j],
                       "success": s, "success_se": math.sqrt(s * (1 - s) / cfg.n_test),
                       "clean": float((part["pred_clean"][k] == part["y_clean"][k]).mean()),
                       "exact": th[j]["exact"], "exact_se": th[j]["exact_se"], "exact_label": "exact Bayes success (MC)",
                       "bound": th[j]["bound"] if v.learner.name not in REWEIGHTING else math.nan,
                       "bound_se": th[j]["bound_se"], "gap": th[j]["gap"], "critical_mass": th[j]["critical_mass"],
                       "population_bound": th[j]["bound"], "exact_applies": v.learner.name == "bayes",
                       "alpha_eff_measured": float(part["measured_eff"][k]) if j == 0 else math.nan,
                       "alpha_eff_predicted": float(part["pred_eff"][k]) if j == 0 else math.nan,
                       "converged": bool(part["converged"][k]),
                       "convergence_note": "" if part["converged"][k] else part["note"],
                       "steps": part["steps"]}
                if v.world.collectives is not None:  # the vocabulary's noise, next to the share it thins
                    rec.update(noise=collectives[c][j].noise, noise_kind=collectives[c][j].kind)
                rows.append(_result_row(group[c], v, rec, meta))
            out.append(rows)
        bar.update(sl.stop - sl.start)
    return out


def _world_meta(v, backend: Backend) -> dict:
    w, name = v.world, v.learner.name
    series = "Bayes (exact densities)" if name == "bayes" else LEARNERS[name].series(v.learner.validated_params)
    lam_c = math.nan
    if name == "jtt" and w.n_classes == 2 and w.label_noise == 0 and w.priors is None:
        lam_c = float(theory.jtt_collapse_upweight(w.separation, w.sigma))
    return {"series": series, "bound_name": "Hardt bound (integrated gap, at alpha p)",
            "assumption": "bound assumes the Bayes learner of P_alpha; ran: " + series,
            "backend": backend.name, "device": backend.device,
            "jtt_lambda_c": lam_c, "jtt_upweight": float(v.learner.params.get("upweight", math.nan))}


def _fit_world_chunk(world, cfg, alphas: np.ndarray, seeds: np.ndarray, params: list, backend: Backend) -> dict:
    """Sample and train one chunk of configurations; predictions and diagnostics on the host."""
    J = len(world.plantings)
    C = len(seeds)
    batch, planted, nominal = sample_world_batch(world, alphas, seeds, cfg.n_train, cfg.n_test)
    name = cfg.learner.name
    w = cfg.world
    converged = np.ones(C, dtype=bool)
    note, steps = "", 0
    weights = trajectory = None
    pred_eff = np.full(C, math.nan)
    if name == "bayes":
        shares = nominal * np.array([p.plant_prob for p in world.plantings])
        deviators = [world.deviator_shares(nominal[c]) for c in range(C)]
        pred_clean = np.stack([world.bayes_predict(batch.X_clean[c], shares[c], world.plantings[0].target,
                                                   deviators[c]) for c in range(C)])
        # the success of collective j scores its own block with its own tie rule
        pred_signal = np.concatenate([np.stack([
            world.bayes_predict(batch.X_signal[c, j * cfg.n_test:(j + 1) * cfg.n_test], shares[c],
                                world.plantings[j].target, deviators[c]) for c in range(C)]) for j in range(J)], axis=1)
    else:
        trained = LEARNERS[name]().fit(batch, params, backend)
        pred_signal, pred_clean = trained.pred_signal, trained.pred_clean
        weights, trajectory = trained.weights, trained.trajectory
        if trained.alpha_eff_predicted is not None:
            pred_eff = np.asarray(trained.alpha_eff_predicted, dtype=float)
        steps = trained.train_steps
        if trained.model is not None and hasattr(trained.model, "grad_norm"):
            gn = np.asarray(trained.model.grad_norm, dtype=float)
            converged = np.isfinite(gn) & (gn <= w.grad_tol)
            note = f"final gradient norm above grad_tol={w.grad_tol:g} (max {np.nanmax(gn):.3g})"
        if trajectory is not None and trajectory.shape[1] >= 2:
            last, prev = trajectory[:, -1], trajectory[:, -2]
            converged &= np.abs(last - prev) <= w.oscillation_tol * np.maximum(np.abs(last), 1e-12)
            note = (f"alpha_eff still moving between the last reweighting rounds "
                    f"(relative change > {w.oscillation_tol:g}): the fixed point oscillates")
        if weights is not None:
            converged &= np.isfinite(weights).all(axis=1)
    measured_eff = measured_alpha_eff(weights, batch.member) if weights is not None else np.full(C, math.nan)
    return {"pred_signal": np.asarray(pred_signal), "pred_clean": np.asarray(pred_clean), "y_clean": batch.y_clean,
            "planted": planted, "nominal": nominal, "converged": converged, "measured_eff": measured_eff,
            "pred_eff": pred_eff, "note": note, "steps": steps}


def _world_theory(world, shares, cfg, formulas: Formulas, deviators=None) -> list[dict]:
    out = []
    for j in range(len(shares)):
        a = shares[j]
        if not (0 < a < 1):
            out.append({"exact": math.nan, "exact_se": math.nan, "bound": math.nan, "bound_se": math.nan,
                        "gap": math.nan, "critical_mass": math.nan})
            continue
        s, s_se = world.bayes_success_mc(shares, j, cfg.theory_mc_samples, deviators=deviators)
        gap, gap_se = world.integrated_gap_mc(shares, j, cfg.theory_mc_samples, deviators=deviators)
        gap = min(max(gap, 0.0), 1.0)
        bound = float(formulas.hardt_bound(a, gap, 1.0))
        # d bound / d gap = -(1 - a) / a: the gap's Monte Carlo error carried into the bound
        bound_se = (1 - a) / a * gap_se
        crit = float(formulas.critical_mass(gap, 1.0, cfg.world.success_target)) / world.plantings[j].plant_prob
        out.append({"exact": s, "exact_se": s_se, "bound": bound, "bound_se": bound_se, "gap": gap,
                    "critical_mass": crit})
    return out


# ------------------------------------------------------------------------------------------
# Rows


def _result_row(cell, cfg, rec: dict, meta: dict) -> ResultRow:
    """A stress record as a result row: theory's predictions beside the measurement, in extra columns."""
    extra = {
        "family": cfg.family, "collective": int(rec.get("collective", 0)), "series": meta["series"],
        "success_se": float(rec["success_se"]),
        "success_theory": float(rec["exact"]), "success_theory_se": float(rec.get("exact_se", 0.0)),
        "success_theory_kind": str(rec["exact_label"]), "exact_applies": bool(rec["exact_applies"]),
        "success_bound": float(rec["bound"]), "success_bound_se": float(rec.get("bound_se", 0.0)),
        "bound_name": meta["bound_name"], "assumption": meta["assumption"],
        "population_bound": float(rec["population_bound"]), "critical_mass": float(rec["critical_mass"]),
        "alpha_realised": float(rec["alpha_realised"]),
        "alpha_effective": float(rec.get("alpha_effective", rec["alpha_realised"])),
        "converged": bool(rec["converged"]), "convergence_note": str(rec.get("convergence_note", "")),
        "jtt_lambda_c": float(meta.get("jtt_lambda_c", math.nan)),
        "jtt_upweight": float(meta.get("jtt_upweight", math.nan)),
        "backend": meta["backend"], "device": meta["device"], "n_train": cfg.n_train, "n_test": cfg.n_test,
    }
    for key in ("delta", "xi", "gap", "alpha_planted", "steps", "noise"):
        if key in rec:
            extra[key] = float(rec[key])
    if "noise_kind" in rec:
        extra["noise_kind"] = str(rec["noise_kind"])
    return ResultRow(experiment=cell.experiment, pillar="simulate", config=cell.config, seed=cell.seed,
                     alpha=float(rec["alpha"]), learner=cfg.learner.name, success=float(rec["success"]),
                     clean_accuracy=float(rec["clean"]),
                     alpha_eff_predicted=float(rec.get("alpha_eff_predicted", math.nan)),
                     alpha_eff_measured=float(rec.get("alpha_eff_measured", math.nan)),
                     cell_id=cell.cell_id, extra=extra)
