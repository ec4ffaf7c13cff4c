"""Max-margin theory for gradient descent on the logistic loss (docs/theory.md §6).

On linearly separable data, gradient descent on the logistic loss converges in direction to the
hard-margin SVM separator (Soudry et al. 2018), but only logarithmically fast. This module gives

* :func:`hard_margin_svm` -- a reference solver: the quadratic program
  min ||w||^2 s.t. y_i w.x_i >= 1, solved by least-distance programming (one NNLS, scipy), with the dual weights;
* :func:`direction_angle` / :func:`binary_direction` -- the angle between GD's direction and it;
* :func:`derive_two_point_model` -- a sympy derivation of max-margin success and of the number of
  GD steps a planted free-coordinate signal needs, in the tractable model below;
* numeric helpers :func:`steps_needed`, :func:`critical_alpha`, :func:`gd_success_two_point`.

The two-point model (binary labels y in {-1, +1}, target y* = +1, no intercept, d = 2)
-------------------------------------------------------------------------------------
* Base points sit at x = (y gamma, 0): the classes are separated along e1 with margin gamma and
  leave the second ("free") coordinate at zero.
* A fraction alpha of the N training points belongs to the collective (feature-label strategy):
  members keep their e1 coordinate, set the free coordinate to the signal norm s, and report
  y* = +1. A share pi_minus of the members comes from the other class, so p = alpha * pi_minus of
  the training set are points (-gamma, s) labelled +1.
* Test signal points are g(x) for fresh x ~ P0: (+gamma, s) and (-gamma, s).

Results (derived symbolically in :func:`derive_two_point_model`, checked against batched GD in
tests/linear):
* The max-margin separator is w_hat = (1/gamma, 2/s) whenever p > 0: both kinds of test signal
  points get label +1, so max-margin success is 1 at ANY alpha with at least one member from the
  other class -- far below Bayes-style critical masses, and independent of gamma and s.
* GD needs time to get there. In the quasi-static regime (the base margin equilibrates faster than
  the free weight grows: gamma^2 >> s^2 / log(1/p)), the base points hold u = gamma w1 at
  (1 - p) e^{-u} = p sigma(-v), where v = s w2 - u is the margin of the members' points, and the
  free weight grows at d(s w2)/dtau = s^2 p sigma(-v). The members' points (and hence the test
  signal points of the other class) flip to y* after gradient-flow time
      tau* = (2 (1 - x) - log x) / (s^2 p),   x = (sqrt(1 + 4 p / (1 - p)) - 1) / 2,
  i.e. about (log(1/p) + 2) / (s^2 p): inversely proportional to alpha and to s^2, with a
  logarithmic factor -- the same log that makes the direction converge slowly. GD with step eta
  on the mean loss needs t* = tau* / eta steps (eta = 2 lr for a two-class softmax model, whose
  logit difference moves at twice the step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import brentq, linprog, minimize, nnls

from collective_action.errors import InputError

# --------------------------------------------------------------------------------------------
# Reference solver


@dataclass(frozen=True)
class MaxMarginSolution:
    """The hard-margin SVM w (d,), b (0 without intercept), geometric margin 1/||(w, b)||.

    ``support`` indexes the points on the margin; ``dual`` (n,) are the non-negative weights with
    w = sum_i dual_i y_i x_i (zero off the support).
    """

    w: np.ndarray
    b: float
    margin: float
    support: np.ndarray
    dual: np.ndarray
    fit_intercept: bool = False

    @property
    def direction(self) -> np.ndarray:
        """Unit vector of (w, b) when the intercept was fitted, of w otherwise."""
        v = np.append(self.w, self.b) if self.fit_intercept else self.w
        return v / np.linalg.norm(v)


def _signed_labels(y) -> np.ndarray:
    y = np.asarray(y)
    vals = set(np.unique(y).tolist())
    if vals <= {0, 1}:
        return np.where(y == 1, 1.0, -1.0)
    if vals <= {-1, 1}:
        return y.astype(float)
    raise InputError(f"max-margin needs binary labels in {{0, 1}} or {{-1, +1}}, got values {sorted(vals)[:5]}")


def hard_margin_svm(X, y, fit_intercept: bool = False, support_tol: float = 1e-6) -> MaxMarginSolution:
    """Solve min ||w||^2 (+ b^2) s.t. y_i (w.x_i + b) >= 1 by least-distance programming (NNLS).

    With ``fit_intercept`` the intercept is treated as the weight of a constant feature and
    penalised like the others: that is the separator GD on the logistic loss converges to when
    it trains an intercept (GD cannot tell a bias from a weight on a constant coordinate).
    Labels are {0, 1} (1 is positive) or {-1, +1}. Raises InputError when the data are not
    linearly separable (the quadratic program is infeasible).
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1:
        raise InputError(f"X must be an (n, d) array, got shape {X.shape}")
    s = _signed_labels(y)
    if s.shape != (X.shape[0],):
        raise InputError(f"y must have {X.shape[0]} labels, got shape {np.shape(y)}")
    A = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    Z = A * s[:, None]  # constraint i: z_i . v >= 1
    # 1. separability, decided by a linear program (HiGHS is exact about infeasibility)
    lp = linprog(np.zeros(Z.shape[1]), A_ub=-Z, b_ub=-np.ones(len(Z)),
                 bounds=[(None, None)] * Z.shape[1], method="highs")
    if lp.status == 2:
        raise InputError("data are not linearly separable: the hard-margin SVM has no solution")
    if lp.status != 0:
        raise RuntimeError(f"separability check failed: {lp.message}")
    # 2. the quadratic program, by least-distance programming (the dual by L-BFGS-B as a fallback)
    v = _least_distance(Z)
    if v is None or np.min(Z @ v) < 1.0 - 1e-7:
        v = _dual_solution(Z)
    margins = Z @ v
    support = np.flatnonzero(margins < 1.0 + support_tol * max(1.0, np.abs(margins).max()))
    dual = np.zeros(X.shape[0])
    # KKT: v = sum over the support of dual_i z_i with dual_i >= 0 (non-negative least squares)
    dual[support] = nnls(Z[support].T, v)[0]
    w, b = (v[:-1], float(v[-1])) if fit_intercept else (v, 0.0)
    return MaxMarginSolution(w=w, b=b, margin=1.0 / float(np.linalg.norm(v)), support=support, dual=dual,
                             fit_intercept=bool(fit_intercept))


def _least_distance(Z: np.ndarray):
    """min |v|^2 / 2 s.t. Z v >= 1 by least-distance programming (Lawson & Hanson, ch. 23).

    With E = [Z^T; 1^T] and f = (0, ..., 0, 1), the non-negative least-squares solution u of
    min |E u - f| gives the residual r = E u - f, and v = -r[:p] / r[p] is the minimum-norm
    point of the feasible set (r = 0 would mean it is empty). One NNLS on a (p + 1) x n matrix:
    exact up to rounding and about a millisecond for n = 1000, p = 5, where SLSQP on n
    constraints took seconds and often stopped at its line search. None if the result is unusable.
    """
    n, p = Z.shape
    E = np.vstack([Z.T, np.ones((1, n))])
    f = np.zeros(p + 1)
    f[-1] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (p + 1) + 10 * n)
    r = E @ u - f
    if not np.all(np.isfinite(r)) or r[p] > -1e-12:
        return None
    return -r[:p] / r[p]


def _dual_solution(Z: np.ndarray) -> np.ndarray:
    """Fallback: the dual max sum a - |Z^T a|^2 / 2 over a >= 0 (L-BFGS-B), scaled to be feasible."""
    G = Z @ Z.T
    res = minimize(lambda a: 0.5 * a @ G @ a - a.sum(), np.zeros(len(Z)), jac=lambda a: G @ a - 1.0,
                   method="L-BFGS-B", bounds=[(0.0, None)] * len(Z),
                   options={"maxiter": 50_000, "ftol": 1e-16, "gtol": 1e-12})
    v = Z.T @ res.x
    return v / np.min(Z @ v)


def direction_angle(u, v) -> np.ndarray:
    """Angle in radians between vectors along the last axis (broadcasts over leading axes)."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def binary_direction(fit, include_intercept: bool = True) -> np.ndarray:
    """(C, d[+1]) direction of a two-class :class:`LogisticFit`: the logit difference w1 - w0 (and b1 - b0)."""
    if fit.W.shape[2] != 2:
        raise InputError(f"binary_direction needs a two-class fit, got {fit.W.shape[2]} classes")
    u, c = (fit.backend.to_numpy(a) for a in fit.binary_weights())
    if include_intercept:
        u = np.concatenate([u, c[:, None]], axis=1)
    return u


# --------------------------------------------------------------------------------------------
# Symbolic derivation in the two-point model

gamma, s, p, eta, tau = sp.symbols("gamma s p eta tau", positive=True)
w1, w2, v_, u_ = sp.symbols("w1 w2 v u", real=True)


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def derive_two_point_model() -> dict[str, sp.Expr]:
    """Derive, with sympy, the two-point model's max-margin solution and GD's flip time.

    Returns a dict of expressions (see the module docstring for the model):
      ``w_hat``      max-margin weights (1/gamma, 2/s) from the two active constraints;
      ``dual``       KKT weights of the base and member support vectors (both > 0: a valid KKT point);
      ``slack_member_plus``  margin of members from class +1 under w_hat (3 > 1: not support);
      ``score_minus`` / ``score_plus``  w_hat . (-gamma, s) and w_hat . (+gamma, s) (both > 0);
      ``margin``     geometric margin 1/||w_hat||;
      ``x0``         e^{v0}, the members' margin when the free weight is still zero (quasi-static);
      ``tau_star``   gradient-flow time until the members' points flip to y*;
      ``tau_star_asymptotic``  its small-p form (log(1/p) + 2) / (s^2 p).
    """
    # 1. max-margin: both kinds of support vector active
    z_base = sp.Matrix([gamma, 0])          # y x for base points (either class)
    z_member = sp.Matrix([-gamma, s])        # y x for members from the other class (label +1)
    z_member_plus = sp.Matrix([gamma, s])    # members from class +1
    sol = sp.solve([z_base.dot(sp.Matrix([w1, w2])) - 1, z_member.dot(sp.Matrix([w1, w2])) - 1], [w1, w2], dict=True)[0]
    w_hat = sp.Matrix([sol[w1], sol[w2]])
    a_b, a_m = sp.symbols("a_b a_m")
    dual = sp.solve(list(a_b * z_base + a_m * z_member - w_hat), [a_b, a_m], dict=True)[0]
    # 2. quasi-static GD: base points in equilibrium, (1 - p) e^{-u} = p sigma(-v)
    u_eq = sp.solve(sp.Eq((1 - p) * sp.exp(-u_), p * _sigmoid(-v_)), u_)[0]
    # s w2 = v + u_eq(v) =: F(v); F'(v) dv/dtau = s^2 p sigma(-v)  =>  dtau/dv = F'(v) / (s^2 p sigma(-v))
    F = v_ + u_eq
    dtau_dv = sp.simplify(sp.diff(F, v_) / (s**2 * p * _sigmoid(-v_)))
    # start: w2 = 0 -> F(v0) = 0, i.e. x0 = e^{v0} solves x (1 + x) = p / (1 - p)
    x = sp.symbols("x", positive=True)
    roots = sp.solve(sp.Eq(x * (1 + x), p / (1 - p)), x)
    x0 = [r for r in roots if r.subs(p, sp.Rational(1, 3)) > 0][0]  # the positive root (x = e^{v0})
    antider = sp.integrate(sp.expand(sp.simplify(dtau_dv)), v_)
    tau_star = sp.simplify(antider.subs(v_, 0) - antider.subs(v_, sp.log(x0)))
    return {
        "w_hat": w_hat,
        "dual": sp.Matrix([dual[a_b], dual[a_m]]),
        "slack_member_plus": sp.simplify(w_hat.dot(z_member_plus)),
        "score_minus": sp.simplify(w_hat.dot(sp.Matrix([-gamma, s]))),
        "score_plus": sp.simplify(w_hat.dot(sp.Matrix([gamma, s]))),
        "margin": sp.simplify(1 / sp.sqrt(w_hat.dot(w_hat))),
        "dtau_dv": dtau_dv,
        "x0": x0,
        "tau_star": tau_star,
        "tau_star_asymptotic": (sp.log(1 / p) + 2) / (s**2 * p),
    }


_TAU_STAR = None


def _tau_star_numeric():
    global _TAU_STAR
    if _TAU_STAR is None:
        _TAU_STAR = sp.lambdify((p, s), derive_two_point_model()["tau_star"], modules="numpy")
    return _TAU_STAR


def steps_needed(alpha, signal_norm, lr, share_other_class: float = 0.5, two_class_softmax: bool = True):
    """GD steps until the two-point model's other-class signal points flip to y* (quasi-static).

    ``alpha`` fraction of the training set in the collective, ``share_other_class`` the share of
    members from the other class (1/2 for balanced classes), ``lr`` the step of
    :func:`~collective_action.simulate.logistic.fit_logistic` on the mean loss.
    """
    a = np.asarray(alpha, dtype=float)
    if np.any((a <= 0) | (a >= 1)):
        raise InputError(f"alpha must lie in (0, 1), got {alpha!r}")
    if not (signal_norm > 0 and lr > 0 and 0 < share_other_class <= 1):
        raise InputError("signal_norm and lr must be positive and share_other_class in (0, 1]")
    eta_eff = (2.0 if two_class_softmax else 1.0) * lr
    out = _tau_star_numeric()(a * share_other_class, float(signal_norm)) / eta_eff
    return float(out) if np.ndim(out) == 0 else out


def critical_alpha(steps: int, signal_norm, lr, share_other_class: float = 0.5,
                   two_class_softmax: bool = True) -> float:
    """Smallest alpha whose signal GD has fitted after ``steps`` steps (inverse of :func:`steps_needed`)."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps!r}")

    def gap(a):
        return steps_needed(a, signal_norm, lr, share_other_class, two_class_softmax) - steps

    lo, hi = 1e-12, 1 - 1e-9
    if gap(hi) > 0:
        return math.nan  # not even alpha -> 1 is fitted in time
    if gap(lo) <= 0:
        return lo
    return float(brentq(gap, lo, hi, xtol=1e-12, rtol=1e-10))


def gd_success_two_point(alpha, steps: int, signal_norm, lr, share_other_class: float = 0.5) -> np.ndarray:
    """Predicted success of GD after ``steps`` steps in the two-point model (feature-label).

    Test signal points of class y* are on y*'s side from the first steps; those of the other
    class (a share ``share_other_class`` of P0 under balanced classes) once t > t*.
    """
    t_star = np.asarray(steps_needed(alpha, signal_norm, lr, share_other_class))
    return (1.0 - share_other_class) + share_other_class * (steps > t_star)


def max_margin_success_two_point(n_members_other_class, share_other_class: float = 0.5) -> np.ndarray:
    """Max-margin success in the two-point model: 1 once one member comes from the other class."""
    m = np.asarray(n_members_other_class)
    return np.where(m >= 1, 1.0, 1.0 - share_other_class)
