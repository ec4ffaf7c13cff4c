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
  Both accept every algorithm of the registry that the simulator implements (``learner`` and
  its ``params``): the simulator applies the rule at every full-batch step
  (``simulate.online``), the empirical pillar in its one training loop with one mini-batch.
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

from collective_action.algorithms import algorithms_for
from collective_action.errors import InputError, check_choice

#: Algorithms both linear trainers run: every registry entry the simulator implements.
LINEAR_LEARNERS = algorithms_for("simulate")


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
    alpha_eff_measured: float = math.nan    # the collective's share of the last step's weight
    weights: np.ndarray | None = None       # (n,) the main model's weights at the last step
    trajectory: np.ndarray | None = None    # the collective's weight share at every step
    stat_collective: float = math.nan       # the algorithm's statistic at the last step, collective mean
    stat_base: float = math.nan             # ... and base mean (JTT: e*, e0)


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
    from collective_action.simulate.simplicity import (SimplicityConfig, SignalSpec3, alpha_key, make_simplicity_data,
                                                       planting_function)

    cfg = SimplicityConfig.model_validate({"n_train": n_train, "n_test": n_test, "alphas": [alpha], **family})
    sig = SignalSpec3.model_validate(signal)
    X0, y0 = make_simplicity_data([seed], n_train, cfg, stream=0)
    Xt, yt = make_simplicity_data([seed], n_test, cfg, stream=1)
    g = planting_function(sig, cfg)
    coll = Collective(alpha=alpha, target=cfg.target, signal=g, strategy=cfg.strategy)
    X, y, member = coll.plant_in_training_set(X0[0], y0[0], np.random.default_rng([seed, 2, alpha_key(alpha)]))
    return Arrays(X, y, member, g(Xt[0]), Xt[0], yt[0], 2, cfg.target)


# ------------------------------------------------------------------------------ two trainers
def _check(learner: str, steps: int, lr: float, params: dict | None):
    from collective_action.algorithms import validate_params

    check_choice("learner", learner, LINEAR_LEARNERS)
    if int(steps) != steps or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if not lr > 0:
        raise InputError(f"lr must be positive, got {lr!r}")
    return validate_params(learner, params)


def _scores(W, b, data: Arrays) -> tuple[float, float]:
    def predict(X):
        return np.argmax(X @ W + b, axis=1)

    return (float(np.mean(predict(data.X_signal) == data.target)),
            float(np.mean(predict(data.X_clean) == data.y_clean)))


def _recording(alg):
    """Wrap ``alg.weigh`` so that the main model's weights of the last call are kept (as NumPy)."""
    record = {}
    weigh = alg.weigh

    def recorded(state, losses, idx=None):
        weights, stat = weigh(state, losses, idx)
        main = weights["main"]
        order = None if idx is None else np.argsort(np.asarray(idx.cpu() if hasattr(idx, "cpu") else idx))
        w = np.asarray(main.detach().cpu() if hasattr(main, "detach") else main, dtype=float).reshape(-1)
        record["weights"] = w if order is None else w[order]  # back in training-set order
        return weights, stat

    alg.weigh = recorded
    return record


def fit_linear_simulate(data: Arrays, *, steps: int, lr: float, learner: str = "erm",
                        params: dict | None = None) -> LinearRun:
    """The simulator's route: ERM by ``fit_logistic``; every other algorithm by ``simulate.online``
    (its rule applied at every full-batch GD step). From zero, l2 = 0, never frozen."""
    from collective_action.algorithms import ALGORITHMS
    from collective_action.simulate.logistic import fit_logistic
    from collective_action.simulate.online import fit_online

    p = _check(learner, steps, lr, params)
    if learner == "erm":
        f = fit_logistic(data.X[None], data.y[None], n_classes=data.n_classes, steps=steps, lr=lr, l2=0.0,
                         tol=0.0, backend="numpy")
        W, b = np.asarray(f.W[0]), np.asarray(f.b[0])
        return LinearRun(W, b, *_scores(W, b, data), alpha_eff_measured=data.alpha_realised,
                         weights=np.ones(len(data.y)))
    alg = ALGORITHMS[learner]([p])
    record = _recording(alg)
    run = fit_online(alg, data.X[None], data.y[None], data.member[None], n_classes=data.n_classes, steps=steps,
                     lr=lr, backend="numpy")
    W, b = np.asarray(run.model.W[0]), np.asarray(run.model.b[0])
    out = LinearRun(W, b, *_scores(W, b, data), alpha_eff_measured=float(run.trajectory[0, -1]),
                    weights=record["weights"], trajectory=run.trajectory[0])
    if alg.statistic is not None:
        stat = np.asarray(run.statistic[0], dtype=float)
        out.stat_collective = float(stat[data.member].mean()) if data.member.any() else math.nan
        out.stat_base = float(stat[~data.member].mean())
    return out


def fit_linear_empirical(data: Arrays, *, steps: int, lr: float, learner: str = "erm", params: dict | None = None,
                         seed: int = 0) -> LinearRun:
    """The empirical pillar's route: its linear model and its one training loop, full-batch SGD in torch.

    One mini-batch of all n points makes an epoch one GD step; momentum and weight decay are 0 and
    the linear layer starts at zero, as ``fit_logistic`` does. Float64 throughout.
    """
    import torch

    from collective_action.empirical.learners import FitContext, fit, make_learner
    from collective_action.empirical.models import build_model
    from collective_action.empirical.train import OptimConfig

    _check(learner, steps, lr, params)
    n, d = data.X.shape

    def make_model():
        model = build_model("linear", (d,), data.n_classes).double()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model

    alg = make_learner(learner, params)
    record = _recording(alg)
    ctx = FitContext(make_model=make_model, x=torch.tensor(data.X, dtype=torch.float64),
                     y=torch.tensor(data.y, dtype=torch.long), members=torch.tensor(data.member),
                     optim=OptimConfig(lr=lr, momentum=0.0, weight_decay=0.0, batch_size=n, epochs=steps),
                     generator=torch.Generator().manual_seed(int(seed)), n_classes=data.n_classes)
    report = fit(alg, ctx)
    linear = report.model[1]
    W = linear.weight.detach().numpy().T.copy()
    b = linear.bias.detach().numpy().copy()
    traj = np.asarray(report.ledger.trajectory())
    out = LinearRun(W, b, *_scores(W, b, data), alpha_eff_measured=float(traj[-1]),
                    weights=record.get("weights", np.ones(n)), trajectory=traj)
    if alg.statistic is not None:
        # full batch: the last epoch's statistic sums are the last step's
        out.stat_collective, out.stat_base = report.stat_means(since=len(report.stats) - 1)
    return out


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
