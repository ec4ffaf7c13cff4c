"""The simulator's batched logistic regression against the empirical backend's linear model.

The same arrays (drawn once by the simulator's samplers) are trained by
``simulate.logistic.fit_logistic`` and by ``empirical.learners`` (torch, linear model) with the
same optimiser: full-batch GD, the same lr and steps, l2 = 0, parameters starting at zero, float64.
Both are the same sequence of GD iterates, so the tolerances are rounding-level:
weights within 1e-9, identical success and clean accuracy on the shared test points, and (JTT)
the same stage-1 error shares and measured alpha_eff within 1e-6 (torch averages in float32).
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


def test_gaussian_jtt_same_error_set_weights_and_model():
    d = gaussian_arrays(alpha=0.01, seed=0, n_train=1000, n_test=2000)
    sim = fit_linear_simulate(d, steps=300, lr=0.5, learner="jtt", stage1_steps=50, upweight=20)
    emp = fit_linear_empirical(d, steps=300, lr=0.5, learner="jtt", stage1_steps=50, upweight=20)
    _assert_same(sim, emp, "Gaussian JTT")
    for key in ("e_star", "e0", "alpha_eff_measured"):
        a, b = getattr(sim, key), getattr(emp, key)
        assert abs(a - b) <= 1e-6, f"JTT {key}: simulate {a:.6f} vs empirical {b:.6f}"
    assert sim.alpha_eff_measured > d.alpha_realised  # the comparison covers an amplified collective


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
