"""Learners of the simulator, trained for real on C sampled training sets at once.

A DomainBed-style registry: each learner is a small class whose hyper-parameters live in one
strict pydantic model (``Params``), with their defaults, in one place. ``LEARNERS[name]`` is the
class; :func:`get_learner` validates a name. Every learner works on a
:class:`~collective_action.simulate.gaussian.SampleBatch` (C training sets of the same shape) and
returns a :class:`Trained`: predictions on the test points, the training weights it used, and the
measured quantities that theory's alpha_eff formula needs.

Hyper-parameters named in a learner's ``batched`` tuple may differ between the configurations of
one batch (they are (C,) arrays inside the learner); the others must agree within a batch.

The reweighting learners (THEORY section 5) are built on the batched logistic regression of
:mod:`collective_action.simulate.logistic`. Their weights depend on a model that they train, so
they proceed in rounds: fit, recompute the weights from the fitted model's per-point losses, refit
from scratch with the new weights (iterated best response). Each round's measured alpha_eff is kept
in the trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

import numpy as np
from pydantic import Field

from collective_action.errors import InputError, check_choice
from collective_action.experiment import StrictModel
from collective_action.simulate.backend import Backend
from collective_action.simulate.gaussian import SampleBatch
from collective_action.simulate.logistic import LogisticFit, fit_logistic
from collective_action import theory


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
    bk = fit.backend
    return bk.to_numpy(fit.predict(batch.X_signal)), bk.to_numpy(fit.predict(batch.X_clean))


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


def _predicted(formula, alpha: np.ndarray, *args) -> np.ndarray:
    """theory's alpha_eff formula where the collective is non-empty, NaN elsewhere."""
    out = np.full(alpha.shape, np.nan)
    ok = (alpha > 0) & (alpha < 1)
    for a in args:
        ok &= np.isfinite(a)
    if ok.any():
        out[ok] = np.asarray(formula(alpha[ok], *[a[ok] for a in args]), dtype=float)
    return out


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

        def predict(Z):
            scores = xp.matmul(xp.asarray(Z), coef) + intercept[:, None, :]
            return backend.to_numpy(xp.argmax(scores, axis=-1))

        return Trained(predict(batch.X_signal), predict(batch.X_clean))


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

    name = "logistic"
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
# Reweighting learners


class JTTParams(LogisticParams):
    stage1_steps: int = Field(50, ge=1, description="GD steps T of the stage-1 ERM model")
    upweight: float = Field(20.0, ge=1.0, description="lambda: weight of stage-1 errors")


class JTT(Learner):
    """Just Train Twice: stage-1 errors get weight lambda, the rest 1; then retrain.

    Measured: e_star / e0 = error share of collective / base points under stage 1.
    """

    name = "jtt"
    label = "JTT"
    Params = JTTParams
    batched = ("upweight",)

    @classmethod
    def series(cls, params):
        return f"JTT (lambda={params.upweight:g}, T={params.stage1_steps})"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        lam = _batched(params, "upweight")
        stage1 = _fit(batch, backend, {**s, "steps": _shared(params, "stage1_steps")})
        errors = stage1.backend.to_numpy(stage1.predict(batch.X)) != batch.y
        w = 1.0 + (lam[:, None] - 1.0) * errors
        final = _fit(batch, backend, s, w)
        e_star, e0 = _group_means(errors.astype(float), batch.member)
        alpha = batch.alpha_realised
        pred = _predicted(theory.alpha_eff_jtt, alpha, lam, e_star, e0)
        meas = measured_alpha_eff(w, batch.member)
        return Trained(*_predict(final, batch), weights=w, alpha_eff_predicted=pred,
                       measured={"e_star": e_star, "e0": e0}, trajectory=meas[:, None],
                       train_steps=s["steps"])


def cvar_weights(losses: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Optimal CVaR-DRO weights: 1/beta on the top beta-fraction of losses (fractional at the edge).

    Weights have mean one. Exactly beta*n units of mass sit in the tail, the boundary point
    taking the fractional remainder, so ties in the losses cannot overfill the tail.
    """
    C, n = losses.shape
    order = np.argsort(-losses, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(C, axis=0), axis=1)
    k = beta[:, None] * n
    return np.clip(k - rank, 0.0, 1.0) / beta[:, None]


class CVaRParams(LogisticParams):
    beta: float = Field(0.2, gt=0.0, lt=1.0, description="tail fraction")
    rounds: int = Field(3, ge=1, description="reweight-and-refit rounds after the ERM start")


def _reweighting_rounds(batch, backend, s, rounds, reweight):
    """Iterated best response shared by the DRO learners: fit, reweight by the current fit's
    training losses, refit, ``rounds`` times. ``reweight(losses) -> (weights, aux)``.

    Returns (final fit, last losses, last weights, last aux, measured alpha_eff per round (C, rounds)).
    """
    fit = _fit(batch, backend, s)
    traj = []
    for _ in range(rounds):
        losses = _train_losses(fit, batch)
        w, aux = reweight(losses)
        traj.append(measured_alpha_eff(w, batch.member))
        fit = _fit(batch, backend, s, w)
    return fit, losses, w, aux, np.stack(traj, axis=1)


class CVaR(Learner):
    """CVaR-DRO at level beta by iterated best response; records alpha_eff per round.

    Measured: tail_share = share of the collective's points (mass) in the beta-tail of the
    previous model's losses; predicted alpha_eff = alpha tail_share / beta.
    """

    name = "cvar"
    label = "CVaR-DRO"
    Params = CVaRParams
    batched = ("beta",)

    @classmethod
    def series(cls, params):
        return f"CVaR-DRO (beta={params.beta:g})"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        beta = _batched(params, "beta")
        fit, _, w, _, traj = _reweighting_rounds(batch, backend, s, _shared(params, "rounds"),
                                                 lambda losses: (cvar_weights(losses, beta), None))
        with np.errstate(invalid="ignore", divide="ignore"):
            tail_share = (w * beta[:, None] * batch.member).sum(axis=1) / batch.member.sum(axis=1)
        pred = _predicted(theory.alpha_eff_cvar, batch.alpha_realised, beta, tail_share)
        return Trained(*_predict(fit, batch), weights=w, alpha_eff_predicted=pred,
                       measured={"tail_share": tail_share}, trajectory=traj, train_steps=s["steps"])


def chi2_weights(losses: np.ndarray, rho: np.ndarray, iters: int = 100):
    """chi-square DRO weights w ∝ (loss - eta)_+ (mean one) with eta making the constraint bind.

    The divergence is D(w) = mean((w - 1)^2) / 2 <= rho; D grows with eta, from 0 (eta -> -inf)
    to (n - 1)/2 (all mass on the worst point), so eta is found by bisection, for all C at once.
    Returns (weights (C, n), eta (C,)).
    """
    mean = losses.mean(axis=1)
    std = losses.std(axis=1)

    def weights(eta):
        excess = np.maximum(losses - eta[:, None], 0.0)
        return excess / np.maximum(excess.mean(axis=1, keepdims=True), 1e-300)

    # below min(loss), D = var / (2 (mean - eta)^2): this lower end has D <= rho
    lo = mean - std / np.sqrt(2 * rho) - 1.0
    hi = losses.max(axis=1)
    for _ in range(iters):
        mid = (lo + hi) / 2
        div = 0.5 * ((weights(mid) - 1.0) ** 2).mean(axis=1)
        too_far = div > rho
        hi = np.where(too_far, mid, hi)
        lo = np.where(too_far, lo, mid)
    return weights(lo), lo


class Chi2Params(LogisticParams):
    rho: float = Field(1.0, gt=0.0, description="radius of the chi-square ball")
    rounds: int = Field(3, ge=1)


class Chi2DRO(Learner):
    """chi-square DRO by iterated best response. Measured: mean excess (loss - eta)_+ per group."""

    name = "chi2"
    label = "chi2-DRO"
    Params = Chi2Params
    batched = ("rho",)

    @classmethod
    def series(cls, params):
        return f"chi2-DRO (rho={params.rho:g})"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        rho = _batched(params, "rho")
        fit, losses, w, eta, traj = _reweighting_rounds(batch, backend, s, _shared(params, "rounds"),
                                                        lambda losses: chi2_weights(losses, rho))
        excess = np.maximum(losses - eta[:, None], 0.0)
        coll_x, base_x = _group_means(excess, batch.member)
        pred = _predicted(theory.alpha_eff_chi2, batch.alpha_realised, coll_x, base_x)
        return Trained(*_predict(fit, batch), weights=w, alpha_eff_predicted=pred,
                       measured={"collective_excess": coll_x, "base_excess": base_x},
                       trajectory=traj, train_steps=s["steps"])


class LfFParams(LogisticParams):
    q: float = Field(0.7, gt=0.0, le=1.0, description="generalised cross-entropy exponent of the biased model")
    rounds: int = Field(3, ge=1)


class LfF(Learner):
    """Learning from Failure, in rounds: a biased model b trained with generalised cross-entropy
    and a debiased model d trained with weights W = CE_b / (CE_b + CE_d).

    GCE's gradient is p_y^q times the cross-entropy gradient, so b is refitted each round with
    weights p_y(b)^q from the previous round (its fixed point is a GCE stationary point).
    """

    name = "lff"
    label = "LfF"
    Params = LfFParams
    batched = ("q",)

    @classmethod
    def series(cls, params):
        return f"LfF (q={params.q:g})"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        q = _batched(params, "q")
        biased = debiased = _fit(batch, backend, s)
        traj = []
        for _ in range(_shared(params, "rounds")):
            ce_b, ce_d = _train_losses(biased, batch), _train_losses(debiased, batch)
            W = ce_b / np.maximum(ce_b + ce_d, 1e-300)
            W = np.where(ce_b + ce_d > 0, W, 0.5)  # both models perfect: no preference
            traj.append(measured_alpha_eff(W, batch.member))
            gce = np.exp(-ce_b) ** q[:, None]
            biased = _fit(batch, backend, s, gce)
            debiased = _fit(batch, backend, s, W)
        coll_w, base_w = _group_means(W, batch.member)
        pred = _predicted(theory.alpha_eff_lff, batch.alpha_realised, coll_w, base_w)
        return Trained(*_predict(debiased, batch), weights=W, alpha_eff_predicted=pred,
                       measured={"collective_mean_weight": coll_w, "base_mean_weight": base_w},
                       trajectory=np.stack(traj, axis=1), train_steps=s["steps"])


class GroupDROParams(LogisticParams):
    eta_q: float = Field(1.0, gt=0.0, description="step size of the exponentiated-gradient group weights")
    rounds: int = Field(5, ge=1)


class GroupDRO(Learner):
    """Group DRO with the classes as groups (the only groups a synthetic family has).

    Group weights q follow exponentiated gradient ascent on the group losses; a point of group g
    gets weight q_g / n_g. The collective lands in the group of its reported label.
    """

    name = "group-dro"
    label = "group DRO"
    Params = GroupDROParams
    batched = ("eta_q",)

    @classmethod
    def series(cls, params):
        return f"group DRO (eta_q={params.eta_q:g})"

    def fit(self, batch, params, backend):
        s = _logistic_settings(params)
        eta = _batched(params, "eta_q")
        K = batch.n_classes
        onehot = batch.y[..., None] == np.arange(K)  # (C, n, K)
        n_g = np.maximum(onehot.sum(axis=1), 1)  # (C, K)
        q = np.full((batch.n_configs, K), 1.0 / K)

        def reweight(losses):  # one exponentiated-gradient step on the group weights q
            nonlocal q
            group_loss = (losses[..., None] * onehot).sum(axis=1) / n_g
            q = q * np.exp(eta[:, None] * group_loss)
            q = q / q.sum(axis=1, keepdims=True)
            return (q / n_g)[np.arange(batch.n_configs)[:, None], batch.y] * batch.y.shape[1], group_loss

        fit, _, w, group_loss, traj = _reweighting_rounds(batch, backend, s, _shared(params, "rounds"), reweight)
        coll_w, base_w = _group_means(w, batch.member)
        pred = _predicted(theory.alpha_eff, batch.alpha_realised, coll_w, base_w)
        return Trained(*_predict(fit, batch), weights=w, alpha_eff_predicted=pred,
                       measured={"collective_mean_weight": coll_w, "base_mean_weight": base_w,
                                 "worst_group_loss": group_loss.max(axis=1)},
                       trajectory=traj, train_steps=s["steps"])


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
        sig = np.stack([bayes_predict(self.problem, a, batch.X_signal[c])[0] for c, a in enumerate(alphas)])
        clean = np.stack([bayes_predict(self.problem, a, batch.X_clean[c])[0] for c, a in enumerate(alphas)])
        return Trained(sig, clean)


class PlugInParams(StrictModel):
    pass


#: Learners for sampled feature vectors (families 2 and 3), by name.
LEARNERS: dict[str, type[Learner]] = {
    cls.name: cls for cls in (LDA, Logistic, MaxMargin, JTT, CVaR, Chi2DRO, LfF, GroupDRO, BayesOracle)
}

#: Learner names per family ('plug-in' is the counting learner of family 1, simulate/discrete.py).
FAMILY_LEARNERS = {
    "discrete": ("plug-in",),
    "gaussian": tuple(LEARNERS),
}


def learner_params_model(name: str) -> type[StrictModel]:
    if name == "plug-in":
        return PlugInParams
    check_choice("learner", name, set(LEARNERS) | {"plug-in"})
    return LEARNERS[name].Params


def get_learner(name: str) -> Learner:
    check_choice("learner", name, LEARNERS)
    return LEARNERS[name]()
