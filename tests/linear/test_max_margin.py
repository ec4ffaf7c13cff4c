"""Max-margin theory: reference SVM solver, GD's direction convergence, the two-point model vs GD."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from collective_action.errors import InputError
from collective_action.simulate.logistic import fit_logistic
from collective_action.theory import max_margin as mm


def _separable(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    X[:, 0] = (2 * y - 1) * (0.5 + rng.uniform(size=n))
    return X, y


def _two_point_data(alpha, N, gamma, s):
    """The two-point model's training set (labels 0/1, target 1); members split evenly by class."""
    m = int(round(alpha * N))
    m_other = m // 2
    base = N - m
    X = [[gamma * (2 * (i % 2) - 1), 0.0] for i in range(base)]
    X += [[-gamma, s]] * m_other + [[gamma, s]] * (m - m_other)
    y = [i % 2 for i in range(base)] + [1] * m
    return np.array(X), np.array(y), m_other / N


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_svm_satisfies_kkt(fit_intercept):
    X, y = _separable()
    sol = mm.hard_margin_svm(X, y, fit_intercept=fit_intercept)
    A = np.hstack([X, np.ones((len(y), 1))]) if fit_intercept else X
    Z = A * np.where(y == 1, 1.0, -1.0)[:, None]
    v = np.append(sol.w, sol.b) if fit_intercept else sol.w
    margins = Z @ v
    assert margins.min() > 1 - 1e-6                        # primal feasible
    assert np.all(sol.dual >= 0)                           # dual feasible
    np.testing.assert_allclose(Z.T @ sol.dual, v, atol=1e-6)  # stationarity
    assert np.all(np.abs(sol.dual * (margins - 1)) < 1e-6)  # complementary slackness
    assert np.isclose(sol.margin, 1 / np.linalg.norm(v))


def test_svm_rejects_non_separable_data():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [1.5, 0.0]])
    with pytest.raises(InputError, match="not linearly separable"):
        mm.hard_margin_svm(X, np.array([1, 0, 1]))
    with pytest.raises(InputError, match="binary labels"):
        mm.hard_margin_svm(X, np.array([0, 1, 2]))


def test_gd_direction_converges_to_the_svm_direction():
    X, y = _separable()
    sol = mm.hard_margin_svm(X, y)
    angles = []
    for steps in (10, 100, 1000, 8000):
        fit = fit_logistic(X[None], y[None], n_classes=2, steps=steps, lr=4.0, fit_intercept=False,
                           tol=0.0, backend="numpy")
        angles.append(float(mm.direction_angle(mm.binary_direction(fit, include_intercept=False)[0], sol.w)))
    assert all(a > b for a, b in zip(angles, angles[1:])), angles
    assert angles[-1] < 0.06  # about 3 degrees; the approach is logarithmic (Soudry et al.)
    assert angles[0] > 2 * angles[-1]


def test_gd_with_intercept_converges_to_svm_with_penalised_intercept():
    X, y = _separable(seed=1)
    sol = mm.hard_margin_svm(X, y, fit_intercept=True)
    target = np.append(sol.w, sol.b)
    angles = []
    for steps in (50, 500, 5000):
        fit = fit_logistic(X[None], y[None], n_classes=2, steps=steps, lr=4.0, tol=0.0, backend="numpy")
        angles.append(float(mm.direction_angle(mm.binary_direction(fit)[0], target)))
    # the intercept's share converges even more slowly (about 0.12 rad after 2e4 steps here)
    assert all(a > b for a, b in zip(angles, angles[1:])), angles
    assert angles[-1] < 0.14


def test_symbolic_two_point_model_matches_the_solver():
    d = mm.derive_two_point_model()
    g, s = mm.gamma, mm.s
    assert sp.simplify(d["w_hat"] - sp.Matrix([1 / g, 2 / s])) == sp.zeros(2, 1)
    assert all(sp.simplify(a).is_positive for a in d["dual"])  # valid KKT point
    assert d["slack_member_plus"] == 3 and d["score_minus"] == 1 and d["score_plus"] == 3
    # numeric cross-check with the reference solver on a sample of the model
    X, y, _ = _two_point_data(0.1, 100, gamma=1.5, s=0.7)
    sol = mm.hard_margin_svm(X, y)
    np.testing.assert_allclose(sol.w, [1 / 1.5, 2 / 0.7], rtol=1e-6)
    assert np.isclose(sol.margin, float(d["margin"].subs({g: 1.5, s: 0.7})), rtol=1e-6)
    # the flip time: dtau/dv = (1 + 2 e^v) / (s^2 p), and its small-p form
    v, p = mm.v_, mm.p
    assert sp.simplify(d["dtau_dv"] - (1 + 2 * sp.exp(v)) / (s**2 * p)) == 0
    ratio = (d["tau_star"] / d["tau_star_asymptotic"]).subs({p: sp.Rational(1, 10**6), s: 1})
    assert abs(float(ratio) - 1) < 1e-3


@pytest.mark.parametrize("s", [1.0, 2.0])
def test_predicted_steps_match_batched_gd(s):
    """Stated tolerance: GD's flip step lies within +-12% of t* (quasi-static regime gamma = 3)."""
    gamma, lr, N = 3.0, 0.5, 400
    alphas = [0.02, 0.05, 0.1]
    data = [_two_point_data(a, N, gamma, s) for a in alphas]
    X = np.stack([d[0] for d in data])
    y = np.stack([d[1] for d in data])
    p = np.array([d[2] for d in data])
    t_star = mm.steps_needed(p / 0.5, s, lr)  # p = alpha * 1/2 members from the other class
    probe = np.array([[-gamma, s]])
    for factor, flipped in ((0.88, False), (1.12, True)):
        steps = np.ceil(factor * t_star).astype(int)
        for c in range(len(alphas)):
            fit = fit_logistic(X[c:c + 1], y[c:c + 1], n_classes=2, steps=int(steps[c]), lr=lr,
                               fit_intercept=False, tol=0.0, backend="numpy")
            assert (fit.predict(probe)[0, 0] == 1) == flipped, (alphas[c], factor, t_star[c])
    # and the closed form says: more members or a stronger signal -> fewer steps
    assert np.all(np.diff(t_star) < 0)


def test_critical_alpha_inverts_steps_needed_and_success_is_a_step():
    a = mm.critical_alpha(500, 1.0, 0.5)
    assert np.isclose(mm.steps_needed(a, 1.0, 0.5), 500, rtol=1e-6)
    succ = mm.gd_success_two_point(np.array([a * 0.8, a * 1.2]), 500, 1.0, 0.5)
    np.testing.assert_array_equal(succ, [0.5, 1.0])
    np.testing.assert_array_equal(mm.max_margin_success_two_point([0, 1, 5]), [0.5, 1.0, 1.0])
    with pytest.raises(InputError):
        mm.steps_needed(0.0, 1.0, 0.5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 6), intercept=st.booleans())
def test_svm_is_optimal_on_random_separable_data(seed, d, intercept):
    """Property: on data separated by a random hyperplane, the solution is feasible, satisfies KKT,
    and no feasible rescaling of a random other separator has a larger margin."""
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=d)
    X = rng.normal(size=(40, d))
    score = X @ w_true
    keep = np.abs(score) > 0.3  # a positive margin
    X, y = X[keep], (score[keep] > 0).astype(int)
    if len(np.unique(y)) < 2:
        return
    sol = mm.hard_margin_svm(X, y, fit_intercept=intercept)
    A = np.hstack([X, np.ones((len(y), 1))]) if intercept else X
    Z = A * np.where(y == 1, 1.0, -1.0)[:, None]
    v = np.append(sol.w, sol.b) if intercept else sol.w
    assert (Z @ v).min() > 1 - 1e-6
    np.testing.assert_allclose(Z.T @ sol.dual, v, atol=1e-5)
    other = np.append(w_true, 0.0) if intercept else w_true
    other = other / (Z @ other).min()  # feasible by construction
    assert np.linalg.norm(v) <= np.linalg.norm(other) + 1e-7


@pytest.mark.parametrize("seed", range(6))
def test_least_distance_solver_equals_the_dual_optimum_with_duplicate_points(seed):
    # overwrite-mode collectives put many identical points in the training set; SLSQP on all
    # constraints stalled there. The NNLS solution must equal the dual optimum and satisfy KKT.
    X, y = _separable(n=400, d=4, seed=seed)
    X[:60] = X[0]
    y[:60] = y[0]
    sol = mm.hard_margin_svm(X, y, fit_intercept=True)
    Z = np.hstack([X, np.ones((len(y), 1))]) * np.where(y == 1, 1.0, -1.0)[:, None]
    v = np.append(sol.w, sol.b)
    ref = mm._dual_solution(Z)
    assert np.min(Z @ v) >= 1 - 1e-9
    assert np.linalg.norm(v) <= np.linalg.norm(ref) * (1 + 1e-9)     # no feasible point is shorter
    np.testing.assert_allclose(v, ref, atol=1e-5 * np.linalg.norm(ref))
    np.testing.assert_allclose(Z.T @ sol.dual, v, atol=1e-8 * np.linalg.norm(v))
