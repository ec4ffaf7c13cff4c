"""The simulator's batched logistic models against the empirical pillar's linear model, for every
learning algorithm of the registry.

The same arrays (drawn once by the simulator's samplers) are trained by the simulator (ERM:
``simulate.logistic.fit_logistic``; every other algorithm: its rule at every full-batch GD step,
``simulate.online``) and by the empirical pillar's training loop (torch, linear model) with the
same optimiser: full-batch GD, the same lr and steps, l2 = 0, parameters starting at zero, float64.
Both are the same sequence of GD iterates and of weights, so the tolerances are rounding-level:
model parameters and the last step's per-point weights within 1e-9, identical success and clean
accuracy on the shared test points, the same statistic and weight share at every step.
"""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.agreement import fit_linear_empirical, fit_linear_simulate, gaussian_arrays, simplicity_arrays

WEIGHT_TOL = 1e-9


def _assert_same(sim, emp, what):
    dw = float(np.max(np.abs(sim.W - emp.W)))
    db = float(np.max(np.abs(sim.b - emp.b)))
    assert dw <= WEIGHT_TOL and db <= WEIGHT_TOL, f"{what}: weights differ by {dw:.3g} (W), {db:.3g} (b)"
    assert sim.success == emp.success, f"{what}: success simulate {sim.success:.4f} vs empirical {emp.success:.4f}"
    assert sim.clean_accuracy == emp.clean_accuracy, (
        f"{what}: clean accuracy simulate {sim.clean_accuracy:.4f} vs empirical {emp.clean_accuracy:.4f}")


@pytest.mark.parametrize("alpha, seed", [(0.01, 0), (0.05, 1)])
def test_gaussian_erm_same_iterates(alpha, seed):
    d = gaussian_arrays(alpha=alpha, seed=seed, n_train=800, n_test=2000)
    sim = fit_linear_simulate(d, steps=200, lr=0.5)
    emp = fit_linear_empirical(d, steps=200, lr=0.5)
    _assert_same(sim, emp, f"Gaussian ERM alpha={alpha}")
    assert 0.0 < sim.success < 1.0 and sim.clean_accuracy > 0.9  # a non-degenerate comparison


def test_gaussian_three_classes_erm_same_iterates():
    d = gaussian_arrays(alpha=0.03, seed=2, n_train=600, n_test=1500, n_classes=3, d_class=3, target=2)
    _assert_same(fit_linear_simulate(d, steps=150, lr=0.5), fit_linear_empirical(d, steps=150, lr=0.5),
                 "Gaussian K=3 ERM")


#: Every reweighting algorithm of the registry, with parameters that make its weights move.
REWEIGHTING = {
    "jtt": {"T": 50, "upweight": 20},
    "cvar": {"beta": 0.2},
    "chi2": {"rho": 1.0},
    "lff": {"q": 0.7, "ema": 0.7},
    "group-dro": {"eta_q": 0.5},
    "label-smoothing": {"smoothing": 0.2},  # changes the loss, not the weights
}


def test_every_simulator_algorithm_is_compared():
    from collective_action.algorithms import algorithms_for

    assert set(algorithms_for("simulate")) == {"erm", "dp-sgd", *REWEIGHTING}


def test_dp_sgd_clipping_is_the_same_in_both_pillars():
    """The simulator's closed-form per-point clipping (simulate/private.py) against Opacus in the
    empirical pillar's loop: every point in every batch (batch_size = n, so Poisson sampling keeps
    them all) and no noise leave the clip as the only difference from GD, and it binds."""
    from collective_action.simulate.private import fit_dp_sgd

    d = gaussian_arrays(alpha=0.05, seed=1, n_train=400, n_test=1000)
    n, dim = d.X.shape
    steps, lr, clip = 60, 0.5, 0.3
    sim = fit_dp_sgd(d.X[None], d.y[None], [1], n_classes=d.n_classes, steps=steps, lr=lr, batch_size=n,
                     max_grad_norm=clip, noise_multiplier=0.0)
    emp = fit_linear_empirical(d, steps=steps, lr=lr, learner="dp-sgd",
                               params={"max_grad_norm": clip, "noise_multiplier": 0.0})
    W, b = emp.W, emp.b
    assert np.max(np.abs(sim.W[0] - W)) <= WEIGHT_TOL and np.max(np.abs(sim.b[0] - b)) <= WEIGHT_TOL
    unclipped = fit_dp_sgd(d.X[None], d.y[None], [1], n_classes=d.n_classes, steps=steps, lr=lr, batch_size=n,
                           max_grad_norm=1e12, noise_multiplier=0.0)
    assert np.max(np.abs(unclipped.W[0] - W)) > 1e-2   # the clip binds: this is not plain GD


@pytest.mark.parametrize("learner", sorted(REWEIGHTING))
def test_gaussian_reweighting_same_weights_iterates_and_predictions(learner):
    d = gaussian_arrays(alpha=0.01, seed=0, n_train=1000, n_test=2000)
    sim = fit_linear_simulate(d, steps=150, lr=0.5, learner=learner, params=REWEIGHTING[learner])
    emp = fit_linear_empirical(d, steps=150, lr=0.5, learner=learner, params=REWEIGHTING[learner])
    _assert_same(sim, emp, f"Gaussian {learner}")
    dw = float(np.max(np.abs(sim.weights - emp.weights)))
    assert dw <= WEIGHT_TOL, f"{learner}: last-step weights differ by {dw:.3g}"
    np.testing.assert_allclose(sim.trajectory, emp.trajectory, rtol=0, atol=1e-9)
    for key in ("stat_collective", "stat_base"):
        a, b = getattr(sim, key), getattr(emp, key)
        same = (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-9  # NaN: the algorithm has no statistic
        assert same, f"{learner} {key}: simulate {a:.12f} vs empirical {b:.12f}"
    if learner == "label-smoothing":  # the loss changed: the model is not ERM's
        erm = fit_linear_simulate(d, steps=150, lr=0.5)
        assert float(np.max(np.abs(sim.W - erm.W))) > 1e-3
    else:
        assert np.ptp(sim.weights) > 0  # the weights are not uniform: the rule did something


def test_gaussian_jtt_amplifies_the_collective():
    d = gaussian_arrays(alpha=0.01, seed=0, n_train=1000, n_test=2000)
    sim = fit_linear_simulate(d, steps=300, lr=0.5, learner="jtt", params={"T": 50, "upweight": 20})
    assert sim.alpha_eff_measured > d.alpha_realised


@pytest.mark.parametrize("signal", [
    {"placement": "free", "pattern": "neutral", "mode": "overwrite", "strength": 1.5},
    {"placement": "simple", "pattern": "aligned", "sign": -1, "mode": "additive", "strength": 0.5},
])
def test_simplicity_data_same_iterates(signal):
    d = simplicity_arrays(alpha=0.02, seed=0, signal=signal)
    _assert_same(fit_linear_simulate(d, steps=400, lr=1.0), fit_linear_empirical(d, steps=400, lr=1.0),
                 f"simplicity {signal['placement']}")


def test_the_comparison_can_fail():
    """Power: one optimiser setting changed on one side is caught (weights differ by far more than 1e-9)."""
    d = gaussian_arrays(alpha=0.01, seed=0, n_train=800, n_test=2000)
    sim = fit_linear_simulate(d, steps=200, lr=0.5)
    emp = fit_linear_empirical(d, steps=199, lr=0.5)
    with pytest.raises(AssertionError, match="weights differ"):
        _assert_same(sim, emp, "deliberately mismatched steps")
