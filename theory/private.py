"""A collective steering DP-SGD: the success bound of Solanki, Bhange, Aivodji, Creager (2025).

Source: "Crowding Out The Noise: Algorithmic Collective Action Under Differential Privacy",
arXiv 2505.05707 (docs/private_bound.md). What it states, as far as we could read it:

* Theorem 1 (their §2.1, reproducing Hardt et al. 2023's gradient-control result): a collective
  that steers gradient descent towards a target model theta* has success
  S = -||theta_T - theta*|| >= -(1 - eta C(alpha))^T ||theta_0 - theta*||, with C(alpha)
  proportional to alpha.
* Theorem 2 (their §3): under DP-SGD with noise multiplier sigma and clipping threshold C,
  S_T(alpha, sigma, C) >= -(1 - eta B(alpha, C))^T ||theta_0 - theta*|| - sigma C f1(B, T, eta) f2(d, delta):
  the noise subtracts a term linear in sigma C, and C also enters the contraction B.

Success here is the parameter distance to the collective's target model, not a planting rate;
the explicit f1, f2 and B(alpha, C) were not in the material available to us (we could read the
paper's abstract and introduction; the statement above is from summaries of its §2-§3). So every
explicit piece below is OUR derivation of that form, under the model it states:

* DP-SGD step on the full batch: theta_{t+1} = theta_t - eta (gbar_t + nu_t), gbar_t the mean of
  the clipped per-point gradients, nu_t ~ N(0, (sigma C / L)^2 I_d), L the number the noisy sum
  is divided by (Opacus: the expected batch size; L = 1 puts noise sigma C on the mean, the
  sigma C factor of the paper's statement).
* Gradient control: at every iterate the collective's members report the gradient that makes
  gbar_t = B (theta_t - theta*) (:func:`dp_contraction_rate` says when the clip allows it).
* Then e_t = theta_t - theta* obeys e_{t+1} = rho e_t - eta nu_t with rho = 1 - eta B, so
  e_T = rho^T e_0 - eta sum_t rho^(T-1-t) nu_t (checked by iterating the recursion); the sum is
  N(0, eta^2 (sigma C / L)^2 S(rho) I_d) with S(rho) = sum_{k<T} rho^(2k) (sympy's summation);
  a Gaussian vector's norm exceeds its scale times sqrt(d) + sqrt(2 log(1/delta)) with
  probability at most delta (E||Z|| <= sqrt(E||Z||^2) = sqrt(d) by Jensen, and Gaussian
  concentration of the 1-Lipschitz norm, P(||Z|| >= E||Z|| + t) <= exp(-t^2/2), which is cited,
  not derived here; t is solved from exp(-t^2/2) = delta). With probability at least 1 - delta:
  S_T >= -rho^T ||e_0|| - (sigma C / L) f1 f2, f1 = eta sqrt(S(rho)), f2 = sqrt(d) + sqrt(2 log(1/delta)).
  Here delta is the bound's failure probability, not the privacy delta.
* sigma = 0 gives Theorem 1's form with C(alpha) = B. The bound increases with B (both terms do;
  proved termwise below), and B(alpha, C) increases with alpha, so it increases with alpha.
* The privacy level enters through sigma: :func:`noise_multiplier_for_epsilon` inverts the
  toolkit's accountant (Opacus RDP, ``privacy_spent``), which decreases in sigma, so the bound
  increases with epsilon and tends to Theorem 1's as epsilon -> infinity (sigma -> 0).
* Whatever alpha, rho >= 0 keeps S(rho) >= 1: the bound never exceeds the noise floor
  -(sigma C / L) eta f2 (rho = 0), whose size shrinks only with less noise, a smaller clip, a
  smaller step or a larger L; no collective size removes it.

Not covered: Poisson sampling's own batch noise (the derivation is for the full-batch step),
momentum, a base population whose gradient cannot be neutralised within the clip, and the step
from a parameter distance to a planting rate. The simulator's feature-label runs
(family 2, ``dp-sgd``) fix the members' points before training instead of steering each step,
so this bound does not apply to them; docs/private_bound.md compares the two.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .symbolic import Formula

# The bound's quantities: initial distance, step, contraction rate, steps, noise multiplier,
# clip, the batch size the noisy sum is divided by, parameter dimension, failure probability.
distance0, eta, rate, sigma, clip, batch, dim, fail = sp.symbols("R_0 eta B sigma C L d delta", positive=True)
steps = sp.Symbol("T", integer=True, positive=True)
rho = sp.Symbol("rho", nonnegative=True)          # the contraction factor 1 - eta B
_k = sp.Symbol("k", integer=True, nonnegative=True)
# gradient control under the clip: collective share, the base's clipped-gradient bound, radius
alpha, base_grad, radius = sp.symbols("alpha G R", positive=True)

_MODEL = (
    "DP-SGD step theta <- theta - eta (mean clipped gradient + N(0, (sigma C / L)^2 I_d))",
    "gradient control: the mean clipped gradient equals B (theta - theta*) at every iterate",
    "0 <= eta B <= 1 (rho = 1 - eta B in [0, 1])",
    "success S_T = -||theta_T - theta*||; the bound holds with probability at least 1 - delta",
    "delta is the bound's failure probability, not the privacy delta",
)


def unrolled_error(n_steps: int) -> tuple[sp.Expr, sp.Expr]:
    """(recursion, closed form) of the error after ``n_steps`` steps, one coordinate.

    The recursion e <- rho e - eta nu_t is iterated; the closed form is
    rho^T e_0 - eta sum_t rho^(T-1-t) nu_t. Their difference expands to 0 (checked in tests).
    """
    e0 = sp.Symbol("e_0")
    nus = sp.symbols(f"nu_0:{n_steps}")
    error = e0
    for nu in nus:
        error = rho * error - eta * nu
    closed = rho**n_steps * e0 - eta * sum(rho**(n_steps - 1 - t) * nus[t] for t in range(n_steps))
    return error, closed


@lru_cache(maxsize=None)
def noise_weight_sum() -> sp.Expr:
    """S(rho) = sum_{k=0}^{T-1} rho^(2k): the accumulated noise's variance over eta^2 (sigma C / L)^2."""
    return sp.summation(rho**(2 * _k), (_k, 0, steps - 1))


@lru_cache(maxsize=None)
def noise_weight_cases() -> tuple[sp.Expr, sp.Expr]:
    """(S for rho < 1, S at rho = 1): sympy's two cases of :func:`noise_weight_sum`, kept apart
    so that the compiled bounds need no Piecewise (its lambdified form fails on torch tensors).
    The second is the first's limit rho -> 1 (checked in tests)."""
    (at_one, _), (generic, _) = noise_weight_sum().args
    return generic, at_one


@lru_cache(maxsize=None)
def gaussian_tail_radius() -> sp.Expr:
    """t with exp(-t^2/2) = delta: the excess over sqrt(d) that a standard Gaussian norm exceeds
    with probability at most delta."""
    t = sp.Symbol("t", positive=True)
    (solution,) = sp.solve(sp.Eq(sp.exp(-t**2 / 2), fail), t)
    return solution


@lru_cache(maxsize=None)
def dp_success_bound_formula(private: bool = True, pull: bool = True) -> Formula:
    """-rho^T R_0 - (sigma C / L) f1 f2 with rho = 1 - eta B; ``private=False`` is sigma = 0.

    ``pull=False`` is the case B = 0 (rho = 1: the collective only neutralises the base), where
    S(rho) = T; otherwise the formula assumes B > 0.
    """
    generic, at_one = noise_weight_cases()
    f1 = eta * sp.sqrt(generic if pull else at_one)
    f2 = sp.sqrt(dim) + gaussian_tail_radius()
    bound = -rho**steps * distance0 - (sigma * clip / batch) * f1 * f2
    if not private:
        bound = bound.subs(sigma, 0)
    bound = bound.subs(rho, 1 - eta * rate) if pull else bound.subs(rho, 1)
    symbols = (distance0, eta) + ((rate,) if pull else ()) + (steps,)
    symbols += (sigma, clip, batch, dim, fail) if private else ()
    rate_case = "0 < eta B <= 1 (rho = 1 - eta B in [0, 1))" if pull else "B = 0 (rho = 1)"
    return Formula(
        name=("dp_success_bound" if private else "gradient_control_bound") + ("" if pull else "[B=0]"),
        expr=bound,
        symbols=symbols,
        assumptions=(_MODEL[:2] + (rate_case,) + _MODEL[3:]) if private else (
            "gradient descent without noise (sigma = 0): the bound holds surely",
            _MODEL[1], rate_case, "success S_T = -||theta_T - theta*||"),
        statement=("lower bound on S_T = -||theta_T - theta*|| under DP-SGD (Theorem 2's form, our f1, f2)"
                   if private else "Theorem 1's bound, -(1 - eta B)^T ||theta_0 - theta*||"),
    )


@lru_cache(maxsize=None)
def dp_noise_floor_formula() -> Formula:
    """The bound at rho = 0 (B = 1/eta): the most any collective can be promised."""
    floor = dp_success_bound_formula(True).expr.subs(rate, 1 / eta)
    return Formula(
        name="dp_noise_floor",
        expr=sp.simplify(floor),
        symbols=(eta, sigma, clip, batch, dim, fail),
        assumptions=_MODEL,
        statement="largest value of the DP-SGD bound over all contraction rates (rho = 0)",
    )


def bound_increases_with_rate() -> bool:
    """d bound / d B >= 0: rho falls with B (d rho / d B = -eta), rho^T and S(rho) rise with rho.

    S(rho)'s derivative is sum_k 2k rho^(2k-1), whose every term is non-negative for rho > 0
    (both functions are continuous at rho = 0, so they rise on all of [0, 1]).
    """
    if sp.diff(1 - eta * rate, rate) != -eta:
        return False
    inside = sp.Symbol("rho", positive=True)   # sympy's signs need rho != 0 for rho^T / rho
    power_rises = sp.diff(inside**steps, inside).is_nonnegative
    term = sp.diff(sp.Sum(inside**(2 * _k), (_k, 0, steps - 1)), inside).function
    return bool(power_rises and term.is_nonnegative)


@lru_cache(maxsize=None)
def dp_contraction_rate_formula() -> Formula:
    """B(alpha, C): the fastest rate the clip lets the collective enforce (OUR derivation).

    The mean clipped gradient is (1 - alpha) gbar_0 + alpha v, v the members' common gradient.
    For it to equal B (theta - theta*), v = (B (theta - theta*) - (1 - alpha) gbar_0) / alpha,
    and v survives the clip if ||v|| <= C. With ||gbar_0|| <= G and ||theta - theta*|| <= R at
    every iterate, B R + (1 - alpha) G <= alpha C suffices: the largest such B is solved below.
    """
    (solution,) = sp.solve(sp.Eq(rate * radius + (1 - alpha) * base_grad, alpha * clip), rate)
    return Formula(
        name="dp_contraction_rate",
        expr=solution,
        symbols=(alpha, clip, base_grad, radius),
        assumptions=(
            "each member can report a point whose gradient is any vector of norm <= C",
            "the base's mean clipped gradient has norm <= G, and every iterate lies within R of theta*",
            "B <= 0 (alpha <= G / (C + G)) means the clip leaves the collective no guaranteed pull",
        ),
        statement="largest contraction rate B the clipped collective can enforce",
    )


@lru_cache(maxsize=None)
def dp_share_for_rate_formula() -> Formula:
    """alpha with B(alpha, C) = B: the inverse of :func:`dp_contraction_rate_formula`."""
    (solution,) = sp.solve(sp.Eq(dp_contraction_rate_formula().expr, rate), alpha)
    return Formula(
        name="dp_share_for_rate",
        expr=solution,
        symbols=(rate, clip, base_grad, radius),
        assumptions=dp_contraction_rate_formula().assumptions,
        statement="smallest collective share whose clipped gradient control reaches rate B",
    )


def _positive_int_array(name: str, value) -> np.ndarray:
    arr = _checks.positive(name, value)
    if np.any(arr != np.round(arr)):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    return arr


def _check_rate(rate_, lr) -> np.ndarray:
    b = _checks.positive("contraction_rate", rate_, inclusive=True)
    if np.any(np.asarray(lr) * b > 1.0):
        raise InputError("the contraction rate times the step size must be at most 1 (rho = 1 - eta B >= 0)")
    return b


def _noise_args(noise_multiplier, max_grad_norm, batch_size, dimension, failure_probability):
    s = _checks.positive("noise_multiplier", noise_multiplier, inclusive=True)
    c = _checks.positive("max_grad_norm", max_grad_norm)
    n = _checks.positive("batch_size", batch_size)
    d = _positive_int_array("dimension", dimension)
    p = _checks.open_unit("failure_probability", failure_probability)
    return s, c, n, d, p


def _by_rate(private: bool, b: np.ndarray, h: np.ndarray, before: tuple, after: tuple) -> np.ndarray:
    """The B > 0 formula where B > 0, the B = 0 one elsewhere (no 0/0 at rho = 1)."""
    with_pull = dp_success_bound_formula(private, True).numeric(*before, np.where(b > 0, b, 1.0 / h), *after)
    without = dp_success_bound_formula(private, False).numeric(*before, *after)
    return np.where(b > 0, with_pull, without)


def gradient_control_bound(distance, contraction_rate, steps_, lr):
    """Theorem 1's form: -(1 - eta B)^T ||theta_0 - theta*|| (no noise), vectorised."""
    r0 = _checks.positive("distance", distance, inclusive=True)
    h = _checks.positive("lr", lr)
    b = _check_rate(contraction_rate, h)
    t = _positive_int_array("steps", steps_)
    return _checks.scalar_or_array(_by_rate(False, b, h, (r0, h), (t,)))


def dp_success_bound(distance, contraction_rate, steps_, lr, noise_multiplier, max_grad_norm,
                     dimension, failure_probability=0.05, batch_size=1.0):
    """Lower bound on -||theta_T - theta*|| after ``steps_`` DP-SGD steps, with probability at
    least 1 - ``failure_probability`` (vectorised; ``batch_size`` divides the noisy sum)."""
    r0 = _checks.positive("distance", distance, inclusive=True)
    h = _checks.positive("lr", lr)
    b = _check_rate(contraction_rate, h)
    t = _positive_int_array("steps", steps_)
    s, c, n, d, p = _noise_args(noise_multiplier, max_grad_norm, batch_size, dimension, failure_probability)
    return _checks.scalar_or_array(_by_rate(True, b, h, (r0, h), (t, s, c, n, d, p)))


def dp_noise_floor(lr, noise_multiplier, max_grad_norm, dimension, failure_probability=0.05, batch_size=1.0):
    """-(sigma C / L) eta (sqrt(d) + sqrt(2 log(1/delta))): no collective is promised more."""
    h = _checks.positive("lr", lr)
    s, c, n, d, p = _noise_args(noise_multiplier, max_grad_norm, batch_size, dimension, failure_probability)
    return _checks.scalar_or_array(dp_noise_floor_formula().numeric(h, s, c, n, d, p))


def dp_contraction_rate(alpha_, max_grad_norm, base_gradient, radius_, lr=None):
    """B(alpha, C) = (alpha C - (1 - alpha) G) / R, floored at 0 (no guaranteed pull) and, given
    ``lr``, capped at 1/lr (a faster rate would overshoot theta*)."""
    a = _checks.open_unit("alpha", alpha_)
    c = _checks.positive("max_grad_norm", max_grad_norm)
    g = _checks.positive("base_gradient", base_gradient, inclusive=True)
    r = _checks.positive("radius", radius_)
    out = np.maximum(dp_contraction_rate_formula().numeric(a, c, g, r), 0.0)
    if lr is not None:
        out = np.minimum(out, 1.0 / _checks.positive("lr", lr))
    return _checks.scalar_or_array(out)


def noise_multiplier_for_epsilon(epsilon, *, sample_rate: float, steps_: int, delta: float,
                                 rel_tol: float = 1e-6) -> float:
    """sigma whose DP-SGD run spends ``epsilon`` at ``delta`` by the toolkit's accountant.

    ``privacy_spent`` (Opacus RDP) decreases in sigma, so bisection on log sigma finds it; the
    bracket grows by factors of 2 from sigma = 1. epsilon = inf gives sigma = 0.
    """
    from collective_action.algorithms.privacy import privacy_spent

    eps = float(epsilon)
    if not eps > 0:
        raise InputError(f"epsilon must be > 0, got {epsilon!r}")
    if math.isinf(eps):
        return 0.0

    def spent(s: float) -> float:
        with warnings.catch_warnings():   # the accountant warns when probing far-off sigmas
            warnings.simplefilter("ignore")
            return privacy_spent(noise_multiplier=s, sample_rate=sample_rate, steps=int(steps_), delta=delta)

    lo = hi = 1.0
    while spent(lo) <= eps:
        lo /= 2.0
    while spent(hi) > eps:
        hi *= 2.0
    while hi / lo > 1.0 + rel_tol:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if spent(mid) > eps else (lo, mid)
    return hi


def dp_success_bound_at_epsilon(epsilon, *, distance, contraction_rate, steps_, lr, max_grad_norm,
                                dimension, sample_rate: float, delta: float, failure_probability=0.05,
                                batch_size=1.0):
    """The bound with sigma set by the privacy budget (epsilon, delta) of the same run (vectorised
    over epsilon; epsilon = inf is Theorem 1's bound)."""
    eps = np.atleast_1d(np.asarray(epsilon, dtype=float))
    sigmas = np.array([noise_multiplier_for_epsilon(e, sample_rate=sample_rate, steps_=steps_, delta=delta)
                       for e in eps.ravel()]).reshape(eps.shape)
    out = dp_success_bound(distance, contraction_rate, steps_, lr, sigmas, max_grad_norm, dimension,
                           failure_probability, batch_size)
    return out if np.ndim(epsilon) else float(np.ravel(out)[0])


def dp_critical_mass(target_distance, *, distance, steps_, lr, noise_multiplier, max_grad_norm,
                     dimension, base_gradient, radius_, failure_probability=0.05, batch_size=1.0) -> float:
    """Smallest alpha whose bound promises ||theta_T - theta*|| <= ``target_distance``.

    The bound increases with B (:func:`bound_increases_with_rate`), so the needed rate B* is the
    root of bound(B) = -target on [0, 1/eta] (brentq); alpha* inverts B(alpha, C) in closed form.
    inf where the noise floor already lies below -target (no collective is promised it), or
    where alpha* >= 1.
    """
    from scipy.optimize import brentq

    target = float(_checks.positive("target_distance", target_distance))
    h = float(_checks.positive("lr", lr))

    def margin(b: float) -> float:
        return dp_success_bound(distance, b, steps_, h, noise_multiplier, max_grad_norm, dimension,
                                failure_probability, batch_size) + target

    if margin(1.0 / h) < 0:
        return math.inf
    needed = 0.0 if margin(0.0) >= 0 else brentq(margin, 0.0, 1.0 / h, xtol=1e-12)
    share = float(dp_share_for_rate_formula().numeric(needed, float(max_grad_norm), float(base_gradient),
                                                      float(radius_)))
    return share if share < 1.0 else math.inf
