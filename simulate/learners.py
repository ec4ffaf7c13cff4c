"""Learners of the simulator, trained for real on C sampled training sets at once.

A DomainBed-style registry: each learner is a small class whose hyper-parameters live in one
strict pydantic model (``Params``), with their defaults, in one place. ``LEARNERS[name]`` is the
class; :func:`get_learner` validates a name. Every learner works on a
:class:`~collective_action.simulate.gaussian.SampleBatch` (C training sets of the same shape) and
returns a :class:`Trained`: predictions on the test points, the training weights it used, and the
measured quantities that theory's alpha_eff formula needs.

Hyper-parameters named in a learner's ``batched`` tuple may differ between the configurations of
one batch (they are (C,) arrays inside the learner); the others must agree within a batch.

The reweighting learners (docs/theory.md §5) are built on the batched logistic regression of
:mod:`collective_action.simulate.logistic`. Their weights depend on a model that they train, so
they proceed in rounds: fit, recompute the weights from the fitted model's per-point losses, refit
from scratch with the new weights (iterated best response). Each round's measured alpha_eff is kept
in the trajectory.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

import numpy as np
from pydantic import Field, model_validator

from collective_action.errors import InputError, check_choice
from collective_action.experiment import StrictModel
from collective_action.simulate.backend import Backend, get_backend
from collective_action.simulate.gaussian import SampleBatch
from collective_action.simulate import fused_scoring
from collective_action.simulate.logistic import LogisticFit, fit_logistic, take_rows
from collective_action.algorithms import ALGORITHMS, RENAMED, Algorithm, Start


@dataclass
class Trained:
    """What a learner hands back for C configurations (NumPy arrays on the host).

    ``weights`` (C, n) are the training weights of the final fit (None: uniform, plain ERM).
    ``alpha_eff_predicted`` (C,) comes from theory's formula with the measured quantities in
    ``measured`` (e.g. e_star, e0, tail_share); ``trajectory`` holds per-round alpha_eff (C, R).
    """

    pred_signal: np.ndarray
    pred_clean: np.ndarray
    weights: Optional[np.ndarray] = None
    alpha_eff_predicted: Optional[np.ndarray] = None
    measured: dict = field(default_factory=dict)
    trajectory: Optional[np.ndarray] = None
    train_steps: int = 0
    model: Any = None  # the final fitted model (a LogisticFit for the logistic family)


class Learner:
    """Base class: ``fit(batch, params, backend) -> Trained`` with ``params`` one Params per config."""

    name: ClassVar[str]
    label: ClassVar[str]
    Params: ClassVar[type[StrictModel]]
    batched: ClassVar[tuple[str, ...]] = ()

    def fit(self, batch: SampleBatch, params: list, backend: Backend) -> Trained:
        raise NotImplementedError

    @classmethod
    def series(cls, params) -> str:
        """Human label of the curve, e.g. 'JTT (lambda=20)'."""
        return cls.label


# ------------------------------------------------------------------------------------------
# Helpers


def _shared(params: list, key: str):
    """The value of a non-batched hyper-parameter, which all configurations must share."""
    values = {getattr(p, key) for p in params}
    if len(values) != 1:
        raise InputError(f"learner parameter {key!r} must be the same for every configuration of a batch")
    return values.pop()


def _batched(params: list, key: str) -> np.ndarray:
    return np.asarray([float(getattr(p, key)) for p in params])


def _fit(batch: SampleBatch, backend: Backend, p, weights=None) -> LogisticFit:
    return fit_logistic(batch.X, batch.y, n_classes=batch.n_classes, sample_weight=weights,
                        steps=p["steps"], lr=p["lr"], l2=p["l2"], batch_size=p.get("batch_size"),
                        seed=p.get("sgd_seed", 0), backend=backend, tol=p.get("tol", 1e-6),
                        solver=p.get("solver", "gd"))


def _logistic_settings(params: list) -> dict:
    keys = [k for k in ("steps", "lr", "l2", "batch_size", "sgd_seed", "tol", "solver")
            if k in type(params[0]).model_fields]
    return {k: _shared(params, k) for k in keys}


def _predict(fit: LogisticFit, batch: SampleBatch):
    """Predicted labels on the signal and clean points (C, m): each evaluation set is scored once,
    under the models of the configurations that share it."""
    bk = fit.backend
    if fused_scoring.applies(fit, batch.tests):   # two classes on the CPU: one compiled pass
        return (fused_scoring.predict_sets(fit, batch.tests, "X_signal", bk.threads),
                fused_scoring.predict_sets(fit, batch.tests, "X_clean", bk.threads))

    def predict(rows, points):
        return bk.to_numpy(fit.rows(rows).predict(points))

    return batch.tests.score(predict, "X_signal"), batch.tests.score(predict, "X_clean")


def _train_losses(fit: LogisticFit, batch: SampleBatch) -> np.ndarray:
    """Per-point cross-entropy of the fitted models on their own training sets (C, n)."""
    bk = fit.backend
    xp = bk.xp
    logits = fit.decision_function(batch.X)
    top = xp.max(logits, axis=-1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(logits - top), axis=-1)) + top[..., 0]
    y = xp.asarray(batch.y)
    onehot = xp.astype(y[..., None] == xp.arange(batch.n_classes)[None, None, :], logits.dtype)
    true_logit = xp.sum(logits * onehot, axis=-1)
    return bk.to_numpy(lse - true_logit)


def _train_proba_true(fit: LogisticFit, batch: SampleBatch) -> np.ndarray:
    return np.exp(-_train_losses(fit, batch))


def measured_alpha_eff(weights: np.ndarray, member: np.ndarray) -> np.ndarray:
    """The collective's share of the total training weight (C,)."""
    return (weights * member).sum(axis=1) / weights.sum(axis=1)


def _group_means(values: np.ndarray, member: np.ndarray):
    """Mean of ``values`` over collective rows and over base rows (NaN where a group is empty)."""
    n_m = member.sum(axis=1)
    n_b = (~member).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values * member).sum(axis=1) / n_m, (values * ~member).sum(axis=1) / n_b


# ------------------------------------------------------------------------------------------
# Plain learners


class LDAParams(StrictModel):
    shrinkage: float = Field(1e-6, ge=0.0, description="ridge added to the pooled covariance (times its mean variance)")


class LDA(Learner):
    """Plug-in Bayes for shared-covariance Gaussians: class means, class priors, pooled covariance.

    Batched: the C covariance matrices are solved in one batched linear solve.
    """

    name = "lda"
    label = "LDA (plug-in)"
    Params = LDAParams

    def fit(self, batch, params, backend):
        xp = backend.xp
        shrink = _shared(params, "shrinkage")
        X = xp.asarray(batch.X)
        y = xp.asarray(batch.y)
        C, n, d = X.shape
        K = batch.n_classes
        onehot = xp.astype(y[..., None] == xp.arange(K)[None, None, :], X.dtype)  # (C, n, K)
        counts = xp.sum(onehot, axis=1)  # (C, K)
        safe = xp.where(counts > 0, counts, xp.ones_like(counts))
        means = xp.matmul(xp.permute_dims(onehot, (0, 2, 1)), X) / safe[..., None]  # (C, K, d)
        resid = X - xp.matmul(onehot, means)
        cov = xp.matmul(xp.permute_dims(resid, (0, 2, 1)), resid) / max(n - K, 1)
        scale = xp.sum(xp.linalg.diagonal(cov), axis=-1) / d  # mean variance (C,)
        eye = xp.eye(d, dtype=X.dtype)[None, ...]
        cov = cov + (shrink * scale + 1e-12)[:, None, None] * eye
        coef = xp.linalg.solve(cov, xp.permute_dims(means, (0, 2, 1)))  # (C, d, K)
        with np.errstate(divide="ignore"):
            log_prior = xp.log(counts / n)
        intercept = -0.5 * xp.sum(xp.permute_dims(means, (0, 2, 1)) * coef, axis=1) + log_prior
        # an empty class can never be predicted
        intercept = xp.where(counts > 0, intercept, xp.full_like(intercept, -math.inf))

        def predict(rows, Z):
            scores = xp.matmul(xp.asarray(Z), take_rows(xp, coef, rows)) + take_rows(xp, intercept, rows)[:, None, :]
            return backend.to_numpy(xp.argmax(scores, axis=-1))

        return Trained(batch.tests.score(predict, "X_signal"), batch.tests.score(predict, "X_clean"))


class LogisticParams(StrictModel):
    steps: int = Field(300, ge=1, description="gradient steps")
    lr: float = Field(0.5, gt=0, description="step size")
    l2: float = Field(0.0, ge=0, description="ridge penalty (l2/2)||W||^2")
    batch_size: Optional[int] = Field(None, ge=1, description="None: full-batch GD; an int: minibatch SGD")
    sgd_seed: int = Field(0, ge=0, description="seed of the minibatch order (shared by the batch)")
    solver: Literal["gd", "newton"] = Field(
        "gd", description="gd: (stochastic) gradient descent for `steps` steps; newton: Newton's method "
        "to the penalised optimum (two classes, full batch, l2 > 0; `steps` caps the Newton steps)")


class Logistic(Learner):
    """Multinomial logistic regression (ERM) by full-batch GD, minibatch SGD or Newton's method."""

    name = "erm"
    label = "ERM (logistic)"
    Params = LogisticParams

    @classmethod
    def series(cls, params):
        if params.solver == "newton":
            return "ERM (logistic, Newton)"
        return "ERM (logistic, SGD)" if params.batch_size else "ERM (logistic, GD)"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        fit = _fit(batch, backend, s)
        return Trained(*_predict(fit, batch), train_steps=s["steps"], model=fit)


class MaxMarginParams(StrictModel):
    steps: int = Field(5000, ge=1, description="GD steps (the direction converges like 1/log t)")
    lr: float = Field(1.0, gt=0)


class MaxMargin(Learner):
    """The max-margin direction, reached as the limit of unregularised GD on the logistic loss."""

    name = "max-margin"
    label = "max-margin (long GD)"
    Params = MaxMarginParams

    def fit(self, batch, params, backend):
        s = {"steps": _shared(params, "steps"), "lr": _shared(params, "lr"), "l2": 0.0, "tol": 0.0}
        fit = _fit(batch, backend, s)
        return Trained(*_predict(fit, batch), train_steps=s["steps"], model=fit)


# ------------------------------------------------------------------------------------------
# The registry's learning algorithms (collective_action.algorithms), trained as logistic models


class TrainSettings(LogisticParams):
    """How the simulator trains a registry algorithm's logistic models (not the algorithm itself)."""

    rounds: int = Field(3, ge=1, description="reweight-and-refit rounds after the ERM start (adaptive rules)")
    schedule: Literal["rounds", "steps"] = Field(
        "rounds", description="rounds: fit, reweigh from the fit's losses, refit (iterated best response); "
        "steps: the rule reweighs the full-batch losses at every gradient step, as the empirical "
        "pillar does per mini-batch (full-batch GD only)")

    @model_validator(mode="after")
    def _steps_are_full_batch_gd(self):
        if self.schedule == "steps" and (self.batch_size or self.solver == "newton"):
            raise ValueError("schedule 'steps' runs full-batch GD: drop batch_size and solver newton")
        return self


def _params_model(entry) -> type[StrictModel]:
    """The simulator's parameter model of a registry entry: its Params plus TrainSettings."""
    name = f"{entry.__name__}SimulateParams"

    def body(ns):
        ns.update({"__doc__": entry.__doc__, "__module__": __name__, "__qualname__": name})
        if entry.changes_loss:  # the rounds route (fit_logistic) knows only weights
            def _steps_only(self):
                if self.schedule != "steps":
                    raise ValueError(f"{entry.name} changes the loss; the simulator runs it with schedule: steps")
                return self

            ns["_steps_only"] = model_validator(mode="after")(_steps_only)

    cls = types.new_class(name, (TrainSettings, entry.Params), exec_body=body)
    globals()[name] = cls  # importable by name: cells carrying these parameters pickle to workers
    return cls


def _group_stats(stat, member):
    return _group_means(np.asarray(stat, dtype=float), member)


class RegistryLearner(Learner):
    """A registry algorithm (JTT, CVaR, chi2, LfF, group DRO) on the simulator's logistic models.

    ``schedule: rounds`` fits, applies the rule to the fit's full-batch training losses, refits
    from scratch with the new weights, ``rounds`` times (weights that do not depend on the model,
    JTT's, need one fit). ``schedule: steps`` runs full-batch GD and applies the rule at every step.
    The per-point statistic of the last weighting gives theory's predicted alpha_eff.
    """

    entry: ClassVar[type[Algorithm]]

    @classmethod
    def _entry_params(cls, params):
        """The algorithm's own fields of a simulator parameter set (validated with the file)."""
        return cls.entry.Params.model_construct(**{k: getattr(params, k) for k in cls.entry.Params.model_fields})

    @classmethod
    def series(cls, params):
        return cls.entry(cls._entry_params(params)).series()

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        if self.entry.private:
            return self._fit_private(batch, params, s)
        alg = self.entry([self._entry_params(p) for p in params])
        if _shared(params, "schedule") == "steps":  # the parameter models checked it is full-batch GD
            from collective_action.simulate.online import fit_online

            run = fit_online(alg, batch.X, batch.y, batch.member, n_classes=batch.n_classes, steps=s["steps"],
                             lr=s["lr"], backend=backend)
            weights, stat, fit, traj = run.weights, run.statistic, run.model, run.trajectory
        else:
            fit, weights, stat, traj = self._rounds(alg, batch, backend, s, _shared(params, "rounds"))
        measured, pred = {}, None
        if alg.statistic is not None:
            coll, base = _group_stats(stat, batch.member)
            pred = alg.predict_alpha_eff(batch.alpha_realised, coll, base)
            names = alg.stat_columns
            measured[names[0]] = coll
            if names[1]:
                measured[names[1]] = base
        return Trained(*_predict(fit, batch), weights=weights, alpha_eff_predicted=pred, measured=measured,
                       trajectory=traj, train_steps=s["steps"])

    def _fit_private(self, batch, params, s):
        """DP-SGD (simulate/private.py): Poisson batches, per-point clipping, noise; the privacy spent
        from Opacus's accountant, per distinct (noise, sampling rate, steps, delta)."""
        from collective_action.algorithms.privacy import privacy_spent
        from collective_action.simulate.private import fit_dp_sgd

        if batch.seeds is None:
            raise InputError(f"learner {self.name!r} needs each configuration's seed (family gaussian)")
        if s.get("batch_size") is None:
            raise InputError(f"learner {self.name!r} needs params.batch_size (the expected Poisson batch size)")
        run = fit_dp_sgd(batch.X, batch.y, batch.seeds, n_classes=batch.n_classes, steps=s["steps"], lr=s["lr"],
                         batch_size=s["batch_size"], max_grad_norm=_batched(params, "max_grad_norm"),
                         noise_multiplier=_batched(params, "noise_multiplier"))
        bk = get_backend("numpy")
        C = batch.n_configs
        nan = np.full(C, np.nan)
        fit = LogisticFit(W=run.W, b=run.b, backend=bk, steps=run.steps, final_loss=nan,
                          converged=np.zeros(C, dtype=bool), grad_norm=nan, steps_run=np.full(C, run.steps))
        spent = {}
        for p in params:
            key = (p.noise_multiplier, p.delta)
            if key not in spent:
                spent[key] = privacy_spent(noise_multiplier=p.noise_multiplier, sample_rate=run.sample_rate,
                                           steps=run.steps, delta=p.delta)
        measured = {
            "dp_epsilon": np.asarray([spent[(p.noise_multiplier, p.delta)] for p in params]),
            "dp_delta": _batched(params, "delta"), "dp_sample_rate": np.full(C, run.sample_rate),
            "dp_steps": np.full(C, float(run.steps)), "dp_noise_multiplier": _batched(params, "noise_multiplier"),
            "dp_max_grad_norm": _batched(params, "max_grad_norm"),
            "dp_largest_point_step": run.largest_clipped_norm * s["lr"] / (run.sample_rate * batch.X.shape[1]),
        }
        return Trained(*_predict(fit, batch), measured=measured, train_steps=s["steps"], model=fit)

    def _rounds(self, alg, batch, backend, s, rounds):
        errors = None
        if alg.stage1_length():
            stage1 = _fit(batch, backend, {**s, "steps": alg.stage1_length()})
            errors = stage1.backend.to_numpy(stage1.predict(batch.X)) != batch.y
        state = alg.start(Start(labels=batch.y, dtype=np.float64, n_groups=batch.n_classes, stage1_errors=errors))
        if not alg.adaptive:
            weights, stat = alg.weigh(state, {})
            w = weights["main"]
            return _fit(batch, backend, s, w), w, stat, measured_alpha_eff(w, batch.member)[:, None]
        erm = _fit(batch, backend, s)
        fits = {m: erm for m in alg.models}
        traj = []
        for _ in range(rounds):
            weights, stat = alg.weigh(state, {m: _train_losses(f, batch) for m, f in fits.items()})
            traj.append(measured_alpha_eff(weights["main"], batch.member))
            fits = {m: _fit(batch, backend, s, weights[m]) for m in alg.models}
        return fits["main"], weights["main"], stat, np.stack(traj, axis=1)


def _registry_learner(entry) -> type[RegistryLearner]:
    name = f"Simulate{entry.__name__}"
    cls = globals()[name] = type(name, (RegistryLearner,), {
        "__module__": __name__, "__qualname__": name, "entry": entry, "name": entry.name, "label": entry.label,
        "Params": _params_model(entry), "__doc__": entry.__doc__,
        "batched": tuple(k for k in entry.Params.model_fields if k not in entry.shared)})
    return cls


class BayesParams(StrictModel):
    pass


class BayesOracle(Learner):
    """The exact Bayes classifier of the mixture (knows every density; nothing is trained).

    Its success on the sampled test points is a Monte Carlo estimate of theory's exact success.
    """

    name = "bayes"
    label = "Bayes (exact densities)"
    Params = BayesParams
    problem: Any = None  # set by the runner: the GaussianProblem of the batch

    def fit(self, batch, params, backend):
        from collective_action.theory.gaussian import bayes_predict

        if self.problem is None:
            raise InputError("learner 'bayes' needs the family's exact densities (family: gaussian)")
        alphas = batch.alpha_realised
        tests = batch.tests
        sig = np.stack([bayes_predict(self.problem, a, tests.of("X_signal", c))[0] for c, a in enumerate(alphas)])
        clean = np.stack([bayes_predict(self.problem, a, tests.of("X_clean", c))[0] for c, a in enumerate(alphas)])
        return Trained(sig, clean)


class PlugInParams(StrictModel):
    pass


class AdversaryParams(StrictModel):
    """The exact worst eps-suboptimal learner of a discrete problem (docs/theory.md §3)."""

    epsilon: float = Field(0.0, ge=0.0, lt=1.0, description="how far from Bayes-optimal the learner may be")


#: Counting learners of discrete problems: the plug-in (empirical Bayes) learner and the exact
#: worst eps-suboptimal learners under either definition of suboptimality (docs/theory.md §3).
COUNT_LEARNERS = {"plug-in": PlugInParams, "tv-adversary": AdversaryParams,
                  "contamination-adversary": AdversaryParams}


class CountTableParams(StrictModel):
    """Family car's frequency-count platform (simulate/car.py): no hyper-parameters."""


#: The car family's platform: argmax of the training counts, ties in the label order Good,
#: Average, Poor, Excellent, an unseen point predicted Good.
CAR_LEARNERS = {"count-table": CountTableParams}


#: Learners for sampled feature vectors (families 2 and 3), by name.
LEARNERS: dict[str, type[Learner]] = {cls.name: cls for cls in (LDA, Logistic, MaxMargin, BayesOracle)}
LEARNERS.update({name: _registry_learner(entry) for name, entry in ALGORITHMS.items() if "simulate" in entry.pillars and name != "erm"})

#: Learner names per family ('plug-in' is the counting learner of family 1, simulate/discrete.py).
FAMILY_LEARNERS = {
    "discrete": ("plug-in",),
    "gaussian": tuple(LEARNERS),
    "discrete-counts": tuple(COUNT_LEARNERS),
    "gaussian-world": tuple(n for n in LEARNERS if not getattr(LEARNERS[n], "entry", None)
                            or not LEARNERS[n].entry.private),   # its batches carry no seeds
    "car": tuple(CAR_LEARNERS),
    "discrete-several": ("plug-in",),
}


def learner_params_model(name: str) -> type[StrictModel]:
    if name in COUNT_LEARNERS:
        return COUNT_LEARNERS[name]
    if name in CAR_LEARNERS:
        return CAR_LEARNERS[name]
    if name in RENAMED:
        raise InputError(f"learner {name!r} is now called {RENAMED[name]!r}")
    check_choice("learner", name, set(LEARNERS) | set(COUNT_LEARNERS) | set(CAR_LEARNERS))
    return LEARNERS[name].Params


def get_learner(name: str) -> Learner:
    check_choice("learner", name, LEARNERS)
    return LEARNERS[name]()
