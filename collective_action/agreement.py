"""Shared configurations run through two pillars, for the agreement suite and the results report.

The toolkit has three independent routes to a collective's success: closed-form or exact theory
(``collective_action.theory``), the batched simulator (``collective_action.simulate``) and real
PyTorch training (``collective_action.empirical``). This module builds one configuration and hands
*the same arrays* to two of them, so that a disagreement can only come from the pillars, never
from different data:

* :func:`gaussian_arrays` / :func:`simplicity_arrays` draw one training set (family 2 or 3) with
  the simulator's own samplers.
* :func:`fit_linear_simulate` trains it with the simulator's batched logistic regression
  (``simulate.logistic.fit_logistic``, full-batch GD from zero); :func:`fit_linear_empirical`
  trains the empirical backend's linear model through its own learner classes
  (``empirical.learners``) with the same optimiser: one mini-batch holding every point (so one
  epoch is one GD step), no momentum, no weight decay, parameters initialised at zero, float64.
  Both accept ``learner="jtt"`` (stage-1 ERM for ``stage1_steps`` steps, its errors weighted
  ``upweight``).
* :func:`erm_success_at` is theory's prediction of a reweighting learner's success from its
  alpha_eff (weighted-risk lemma: the weighted learner is the ERM learner of P_w, approximated by
  the mixture at alpha_eff): the same ERM learner trained on the same base data with a
  collective of size alpha_eff.

Assumption stated once: the two linear trainers agree only for ``l2 = 0``, because torch's weight
decay also shrinks the intercept while ``fit_logistic`` leaves it free (scikit-learn's convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collective_action.errors import InputError, check_choice

LINEAR_LEARNERS = ("erm", "jtt")


@dataclass
class Arrays:
    """One planted training set and its test points (NumPy, one configuration)."""

    X: np.ndarray           # (n, d) training features, members' points planted
    y: np.ndarray           # (n,) reported labels
    member: np.ndarray      # (n,) bool, rows the collective controls
    X_signal: np.ndarray    # (m, d) g(x) for fresh x ~ P0: success is the share predicted y*
    X_clean: np.ndarray     # (m, d) fresh clean points
    y_clean: np.ndarray
    n_classes: int
    target: int

    @property
    def alpha_realised(self) -> float:
        return float(self.member.mean())


@dataclass
class LinearRun:
    """A trained linear model and what it achieves on the shared test points."""

    W: np.ndarray           # (d, K)
    b: np.ndarray           # (K,)
    success: float
    clean_accuracy: float
    e_star: float = math.nan
    e0: float = math.nan
    alpha_eff_measured: float = math.nan


# ------------------------------------------------------------------------------ shared data
def gaussian_arrays(*, alpha: float, seed: int, n_train: int, n_test: int, n_classes: int = 2, d_class: int = 2,
                    separation: float = 4.0, sigma: float = 1.0, n_free: int = 2, tau: float = 1.0,
                    placement: str = "free", n_coords: int = 1, amplitude: float = 4.0, mode: str = "additive",
                    jitter: float = 0.0, target: int = 1, strategy: str = "feature-label") -> Arrays:
    """Family 2 data drawn exactly as the simulator draws configuration (alpha, seed)."""
    from collective_action.simulate.gaussian import make_problem, sample_batch

    problem = make_problem(n_classes=n_classes, d_class=d_class, separation=separation, sigma=sigma,
                           n_free=n_free, tau=tau, placement=placement, n_coords=n_coords, amplitude=amplitude,
                           mode=mode, jitter=jitter, target=target, strategy=strategy)
    b = sample_batch(problem, [alpha], [seed], n_train, n_test)
    return Arrays(b.X[0], b.y[0], b.member[0], b.X_signal[0], b.X_clean[0], b.y_clean[0], b.n_classes, b.target)


def simplicity_arrays(*, alpha: float, seed: int, signal: dict, n_train: int = 600, n_test: int = 2000,
                      **family) -> Arrays:
    """Family 3 (simplicity-bias) data with one signal, drawn with the simulator's generator."""
    from collective_action.collective import Collective
    from collective_action.simulate.simplicity import (SimplicityConfig, SignalSpec3, make_simplicity_data,
                                                       planting_function)

    cfg = SimplicityConfig.model_validate({"n_train": n_train, "n_test": n_test, "alphas": [alpha], **family})
    sig = SignalSpec3.model_validate(signal)
    X0, y0 = make_simplicity_data([seed], n_train, cfg, stream=0)
    Xt, yt = make_simplicity_data([seed], n_test, cfg, stream=1)
    g = planting_function(sig, cfg)
    coll = Collective(alpha=alpha, target=cfg.target, signal=g, strategy=cfg.strategy)
    X, y, member = coll.plant_in_training_set(X0[0], y0[0], np.random.default_rng([seed, 2, 0]))
    return Arrays(X, y, member, g(Xt[0]), Xt[0], yt[0], 2, cfg.target)


# ------------------------------------------------------------------------------ two trainers
def _check(learner: str, steps: int, lr: float):
    check_choice("learner", learner, LINEAR_LEARNERS)
    if int(steps) != steps or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if not lr > 0:
        raise InputError(f"lr must be positive, got {lr!r}")


def _scores(W, b, data: Arrays) -> tuple[float, float]:
    def predict(X):
        return np.argmax(X @ W + b, axis=1)

    return (float(np.mean(predict(data.X_signal) == data.target)),
            float(np.mean(predict(data.X_clean) == data.y_clean)))


def fit_linear_simulate(data: Arrays, *, steps: int, lr: float, learner: str = "erm", stage1_steps: int = 50,
                        upweight: float = 20.0) -> LinearRun:
    """The simulator's route: ``fit_logistic`` (full-batch GD from zero, l2 = 0, never frozen)."""
    from collective_action.simulate.logistic import fit_logistic

    _check(learner, steps, lr)

    def fit(weights=None, n_steps=steps):
        f = fit_logistic(data.X[None], data.y[None], n_classes=data.n_classes,
                         sample_weight=None if weights is None else weights[None], steps=n_steps, lr=lr,
                         l2=0.0, tol=0.0, backend="numpy")
        return np.asarray(f.W[0]), np.asarray(f.b[0])

    extra = {}
    weights = None
    if learner == "jtt":
        W1, b1 = fit(n_steps=stage1_steps)
        errors = np.argmax(data.X @ W1 + b1, axis=1) != data.y
        weights = np.where(errors, upweight, 1.0)
        extra = {"e_star": float(errors[data.member].mean()) if data.member.any() else math.nan,
                 "e0": float(errors[~data.member].mean()),
                 "alpha_eff_measured": float(weights[data.member].sum() / weights.sum())}
    W, b = fit(weights)
    return LinearRun(W, b, *_scores(W, b, data), **extra)


def fit_linear_empirical(data: Arrays, *, steps: int, lr: float, learner: str = "erm", stage1_steps: int = 50,
                         upweight: float = 20.0, seed: int = 0) -> LinearRun:
    """The empirical backend's route: its linear model and learner classes, full-batch SGD in torch.

    One mini-batch of all n points makes an epoch one GD step; momentum and weight decay are 0 and
    the linear layer starts at zero, as ``fit_logistic`` does. Float64 throughout.
    """
    import torch

    from collective_action.empirical.learners import FitContext, make_learner
    from collective_action.empirical.models import build_model
    from collective_action.empirical.train import OptimConfig

    _check(learner, steps, lr)
    n, d = data.X.shape

    def make_model():
        model = build_model("linear", (d,), data.n_classes).double()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model

    hparams = {"T": stage1_steps, "upweight": upweight} if learner == "jtt" else {}
    ctx = FitContext(make_model=make_model, x=torch.tensor(data.X, dtype=torch.float64),
                     y=torch.tensor(data.y, dtype=torch.long), members=torch.tensor(data.member),
                     optim=OptimConfig(lr=lr, momentum=0.0, weight_decay=0.0, batch_size=n, epochs=steps),
                     generator=torch.Generator().manual_seed(int(seed)), n_classes=data.n_classes)
    report = make_learner(learner, hparams).fit(ctx)
    linear = report.model[1]
    W = linear.weight.detach().numpy().T.copy()
    b = linear.bias.detach().numpy().copy()
    extra = {}
    if learner == "jtt":
        extra = {"e_star": report.fixed["e_star"], "e0": report.fixed["e0"],
                 "alpha_eff_measured": report.measured()}
    return LinearRun(W, b, *_scores(W, b, data), **extra)


# ------------------------------------------------------------------------------ theory from alpha_eff
def simulate_rows(config: dict, *, seeds, alphas, learners: list[dict]):
    """Run a Gaussian simulate configuration over ``alphas`` x ``learners`` x ``seeds``; a DataFrame.

    ``config`` is a simulate ``config`` section (family gaussian) whose collective alpha and learner
    are replaced by the grid.
    """
    from collective_action.simulate import run

    spec = {"name": "agreement", "pillar": "simulate", "seeds": list(seeds), "config": config,
            "grid": {"collective.alpha": list(alphas), "learner": list(learners)}}
    return run(spec, backend="numpy")


def erm_success_at(config: dict, alpha_effs, seeds, erm: dict) -> np.ndarray:
    """Success of the ERM learner ``erm`` (a simulate learner spec) at collective sizes ``alpha_effs``.

    Row i trains on seed ``seeds[i]`` (the same base data and test points the reweighting learner
    saw: the simulator shares them across alpha for one seed) with a collective of size
    ``alpha_effs[i]``. This is the weighted-risk lemma's prediction of a reweighting learner's
    success, under the approximation that reweighting leaves the base and collective laws alone
    (P0_w ~ P0, P*_w ~ P*) and only moves the mixture weight from alpha to alpha_eff.
    """
    from collective_action.simulate import run

    alpha_effs = np.asarray(alpha_effs, dtype=float)
    if np.any(~((alpha_effs > 0) & (alpha_effs < 1))):
        raise InputError("every alpha_eff must lie in (0, 1)")
    out = np.empty(len(alpha_effs))
    for i, (a, s) in enumerate(zip(alpha_effs, seeds)):
        spec = {"name": "agreement-erm", "pillar": "simulate", "seeds": [int(s)],
                "config": {**config, "collective": {**config["collective"], "alpha": float(a)}, "learner": erm}}
        out[i] = float(run(spec, backend="numpy")["success"].iloc[0])
    return out
