"""Exact Bayes success for Gaussian class-conditionals with a planted signal (docs/theory.md §7).

The model (family 2 of docs/simulate.md)
-------------------------------------------
* Labels y in {0..K-1} with uniform priors pi_y = 1/K.
* Features x = (x_c, x_f): ``d_class`` class coordinates x_c | y ~ N(mu_y, sigma^2 I) and
  ``n_free`` free coordinates x_f ~ N(0, tau^2 I), independent of y (the base data leave them
  near zero). The covariance is shared by all classes.
* The collective plants a pattern v on chosen coordinates S, either
  - ``additive``:  g(x)_S = x_S + v, or
  - ``overwrite``: g(x)_S = v + jitter * N(0, I) (a member cannot reproduce v exactly; with
    ``jitter = 0`` the signal is a point mass on the affine set {x_S = v}).
  On free coordinates with ``jitter = tau`` the two modes have the same law.
* Strategies as in docs/theory.md §1: feature-label (g(x), y*) or feature-only (g(x), y) when y = y*.

Exact results
-------------
The learner is the Bayes classifier of the mixture P_alpha = (1 - alpha) P0 + alpha P*. Its
scores are s_y(x) = (1 - alpha) p0(x, y) + alpha p*(x, y) with every density known, so success
Pr_{x ~ P0}[f(g(x)) = y*] is always computable by Monte Carlo (:func:`bayes_success_mc`, with
its standard error). A closed form exists (:func:`bayes_success_closed_form`) when K = 2, the
strategy is feature-label and the signal sits on free coordinates with the law N(v, tau^2 I)
(additive, or overwrite with jitter = tau). Dividing both scores by pi phi_other(x_c) phi_0(x_f),
with L = phi_{y*}(x_c) / phi_other(x_c) and r = phi_v(x_f) / phi_0(x_f), y* wins iff

    (1 - alpha) L + alpha (1 + L) r > 1 - alpha,

which sympy solves for r (:func:`binary_free_condition`). On test points g(x), log r ~
N(s^2/2, s^2) with s = |v| / tau, and log L ~ N(+-D^2/2, D^2) with D = |mu_1 - mu_0| / sigma
(sign by the test point's class), both derived in sympy from the linear forms. Hence

    S(alpha) = sum_k pi_k E_{l ~ N(m_k, D^2)} [ Phi((s^2/2 - log r*(alpha, e^l)) / s) ]

(the bracket is 1 where l >= 0): the normal CDF integrated over one Gaussian coordinate, done by
adaptive quadrature to ~1e-10. With ``overwrite`` and ``jitter = 0`` the collective's law is
singular with respect to P0, and the Bayes classifier predicts y* on {x_S = v}: S(alpha) = 1 for
every alpha > 0.

Hardt's bound for a continuous signal
-------------------------------------
The proof of docs/theory.md §2 runs unchanged with densities: on the failure set B,
alpha P*(B) <= (1 - alpha) int_B D^+ <= (1 - alpha) int_{X*} D^+, where D(x) = max_{y != y*}
p0(x, y) - p0(x, y*). We report Delta_bar * xi with xi = P0(X*) and Delta_bar = int_{X*} D^+ / xi
(the average rather than the supremum of the posterior gap: the same argument without its last
loosening; the supremum is 1 for Gaussians and would make the bound vacuous). For a signal of
positive density everywhere X* = R^d and xi = 1; for the singular overwrite xi = 0.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from scipy import integrate, special

from collective_action.collective import PLANTING_STRATEGIES
from collective_action.errors import InputError, check_choice

MODES = ("additive", "overwrite")
PLACEMENTS = ("free", "class")


def plant_signal(x: np.ndarray, coords, pattern, mode: str, jitter: float,
                 rng: np.random.Generator) -> np.ndarray:
    """g(x) on the coordinates ``coords``: x + pattern there ('additive'), or the pattern itself
    plus N(0, jitter^2) noise ('overwrite'). Returns a new array."""
    out = np.array(x, dtype=float, copy=True)
    idx = list(coords)
    if mode == "additive":
        out[:, idx] += pattern
    else:
        out[:, idx] = pattern + jitter * rng.standard_normal((len(out), len(idx)))
    return out


def class_means(n_classes: int, d_class: int, separation: float) -> np.ndarray:
    """Class means on the class coordinates, every pair ``separation`` apart.

    K = 2: mu_{0,1} = -+ separation/2 on the first coordinate. K >= 3: mu_k = separation/sqrt(2)
    times the k-th unit vector (needs d_class >= K).
    """
    if n_classes < 2:
        raise InputError(f"n_classes must be >= 2, got {n_classes}")
    if separation < 0:
        raise InputError(f"separation must be >= 0, got {separation}")
    if n_classes == 2:
        if d_class < 1:
            raise InputError("d_class must be >= 1")
        mu = np.zeros((2, d_class))
        mu[0, 0], mu[1, 0] = -separation / 2, separation / 2
        return mu
    if d_class < n_classes:
        raise InputError(f"d_class must be >= n_classes = {n_classes} for K >= 3, got {d_class}")
    mu = np.zeros((n_classes, d_class))
    mu[np.arange(n_classes), np.arange(n_classes)] = separation / math.sqrt(2)
    return mu


@dataclass(frozen=True)
class GaussianProblem:
    """Gaussian classes plus a planted signal; see the module docstring for the model.

    ``signal_coords`` index the full feature vector (class coordinates first, then free ones);
    ``pattern`` is v on those coordinates.
    """

    means: np.ndarray
    sigma: float
    n_free: int
    tau: float
    signal_coords: tuple
    pattern: np.ndarray
    target: int
    mode: str = "additive"
    jitter: float = 0.0
    strategy: str = "feature-label"

    def __post_init__(self):
        means = np.asarray(self.means, dtype=float)
        if means.ndim != 2 or means.shape[0] < 2:
            raise InputError(f"means must be a (K, d_class) table with K >= 2, got shape {means.shape}")
        if not (self.sigma > 0):
            raise InputError(f"sigma must be > 0, got {self.sigma}")
        if self.n_free < 0:
            raise InputError(f"n_free must be >= 0, got {self.n_free}")
        if self.n_free and not (self.tau > 0):
            raise InputError(f"tau must be > 0 when there are free coordinates, got {self.tau}")
        check_choice("mode", self.mode, MODES)
        check_choice("strategy", self.strategy, PLANTING_STRATEGIES)  # the Gaussian model plants y*
        if self.jitter < 0:
            raise InputError(f"jitter must be >= 0, got {self.jitter}")
        d = means.shape[1] + self.n_free
        coords = tuple(int(c) for c in self.signal_coords)
        if not coords or len(set(coords)) != len(coords) or min(coords) < 0 or max(coords) >= d:
            raise InputError(f"signal_coords must be distinct indices in [0, {d - 1}], got {coords}")
        pattern = np.asarray(self.pattern, dtype=float).reshape(-1)
        if pattern.shape != (len(coords),):
            raise InputError(f"pattern must have one value per signal coordinate ({len(coords)})")
        if not (0 <= int(self.target) < means.shape[0]):
            raise InputError(f"target must be a label in [0, {means.shape[0] - 1}], got {self.target}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "signal_coords", coords)
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "target", int(self.target))

    # -- shapes -------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return self.means.shape[0]

    @property
    def d_class(self) -> int:
        return self.means.shape[1]

    @property
    def dim(self) -> int:
        return self.d_class + self.n_free

    @property
    def full_means(self) -> np.ndarray:
        """Class means on all coordinates (K, d); free coordinates have mean 0."""
        return np.concatenate([self.means, np.zeros((self.n_classes, self.n_free))], axis=1)

    @property
    def scales(self) -> np.ndarray:
        """Standard deviation of every coordinate under P0 (d,)."""
        return np.concatenate([np.full(self.d_class, self.sigma), np.full(self.n_free, self.tau)])

    @property
    def singular(self) -> bool:
        """True when the collective's law is a point mass on the signal coordinates."""
        return self.mode == "overwrite" and self.jitter == 0.0

    # -- sampling (NumPy; the simulator moves the arrays to its backend) -----------------
    def sample_base(self, n: int, rng: np.random.Generator):
        """n points (x, y) ~ P0."""
        y = rng.integers(0, self.n_classes, size=n)
        # in place, and take() for the gather: the same values as full_means[y] + z * scales
        # (a + b == b + a exactly), 10% faster at n = 1000, where every seed draws its test points
        x = rng.standard_normal((n, self.dim))
        x *= self.scales
        x += self.full_means.take(y, axis=0)
        return x, y

    def plant(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """g(x) for a batch of feature vectors."""
        return plant_signal(x, self.signal_coords, self.pattern, self.mode, self.jitter, rng)

    # -- exact densities ------------------------------------------------------------------
    def log_base_joint(self, x: np.ndarray) -> np.ndarray:
        """log p0(x, y) for every label: (n, K)."""
        z = (x[:, None, :] - self.full_means[None]) / self.scales
        log_det = np.sum(np.log(self.scales))
        return (-0.5 * np.sum(z * z, axis=-1) - log_det - 0.5 * self.dim * math.log(2 * math.pi)
                - math.log(self.n_classes))

    def log_signal_given_class(self, x: np.ndarray) -> np.ndarray:
        """log density of g(x) given the member's true class k: (n, K). Needs a non-singular law."""
        if self.singular:
            raise InputError("the overwrite signal with jitter 0 has no density")
        mean = self.full_means.copy()
        scale = np.broadcast_to(self.scales, mean.shape).copy()
        idx = list(self.signal_coords)
        if self.mode == "additive":
            mean[:, idx] += self.pattern
        else:
            mean[:, idx] = self.pattern
            scale[:, idx] = self.jitter
        z = (x[:, None, :] - mean[None]) / scale[None]
        return (-0.5 * np.sum(z * z, axis=-1) - np.sum(np.log(scale), axis=-1)[None]
                - 0.5 * self.dim * math.log(2 * math.pi) - math.log(self.n_classes))

    def log_collective_joint(self, x: np.ndarray) -> np.ndarray:
        """log p*(x, y): (n, K), -inf where the strategy gives label y no mass."""
        sig = self.log_signal_given_class(x)  # log(pi_k q_k(x))
        out = np.full(sig.shape, -np.inf)
        t = self.target
        if self.strategy == "feature-label":
            out[:, t] = special.logsumexp(sig, axis=1)
        else:  # feature-only: members of class y* plant, the others report their own point
            out = self.log_base_joint(x)
            out[:, t] = sig[:, t]
        return out


# ------------------------------------------------------------------------------------------
# The Bayes classifier of the mixture, evaluated by Monte Carlo


def bayes_predict(problem: GaussianProblem, alpha, x: np.ndarray) -> np.ndarray:
    """Labels the Bayes classifier of P_alpha gives the rows of ``x``; (A, n) for A alphas.

    Ties go against the collective (y* must win strictly). For the singular overwrite the
    classifier predicts y* exactly on {x_S = v} (any alpha > 0) and the base Bayes label elsewhere.
    """
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    base = problem.log_base_joint(x)
    t = problem.target
    if problem.singular:
        on_signal = np.all(x[:, list(problem.signal_coords)] == problem.pattern, axis=1)
        pred = np.where(on_signal, t, argmax_against(base, t))
        return np.repeat(pred[None, :], len(alphas), axis=0)
    coll = problem.log_collective_joint(x)
    out = np.empty((len(alphas), len(x)), dtype=np.int64)
    for i, a in enumerate(alphas):
        with np.errstate(divide="ignore"):
            scores = np.logaddexp(math.log1p(-a) + base, (math.log(a) if a > 0 else -np.inf) + coll)
        out[i] = argmax_against(scores, t)
    return out


def argmax_against(scores: np.ndarray, target: int) -> np.ndarray:
    """argmax over labels (rows of ``scores``), but y* only when it wins strictly: the Bayes
    classifier's tie rule of docs/theory.md §1, shared with the stress worlds."""
    others = scores.copy()
    others[:, target] = -np.inf
    best_other = np.argmax(others, axis=1)
    wins = scores[:, target] > others[np.arange(len(scores)), best_other]
    return np.where(wins, target, best_other)


def bayes_success_mc(problem: GaussianProblem, alpha, n: int = 200_000, seed: int = 0):
    """Monte Carlo success of the mixture's Bayes classifier: (success, standard error), per alpha.

    Test points are g(x) for fresh x ~ P0 (all classes), as in docs/theory.md §1.
    """
    rng = np.random.default_rng(seed)
    x, _ = problem.sample_base(n, rng)
    gx = problem.plant(x, rng)
    hits = (bayes_predict(problem, alpha, gx) == problem.target).mean(axis=1)
    se = np.sqrt(hits * (1 - hits) / n)
    return _shape_like(alpha, hits), _shape_like(alpha, se)


def _shape_like(alpha, values):
    return float(values[0]) if np.ndim(alpha) == 0 else values


# ------------------------------------------------------------------------------------------
# Closed form (K = 2, feature-label, signal ~ N(v, tau^2 I) on free coordinates)


@lru_cache(maxsize=None)
def binary_free_condition():
    """Derive, in sympy, the winning condition of y* and the laws of log L and log r.

    Returns a dict with the threshold r*(alpha, L) (y* wins iff r > r*), and the mean and variance
    of log r on test points and of log L given the test point's class (y* or the other).
    """
    a, L, r = sp.symbols("alpha L r", positive=True)
    # scores divided by pi * phi_other(x_c) * phi_0(x_f)
    margin = (1 - a) * L + a * (1 + L) * r - (1 - a)
    r_star = sp.simplify(sp.solve(sp.Eq(margin, 0), r)[0])
    # y* wins iff margin > 0; margin is increasing in r (coefficient a (1 + L) > 0)
    assert sp.simplify(sp.diff(margin, r) - a * (1 + L)) == 0

    # log r = (v . x_f - |v|^2 / 2) / tau^2 with x_f = v + tau z on test points (z standard normal
    # along v): a linear form in one standard normal
    vn, tau, z = sp.symbols("v_norm tau z", positive=True)
    log_r = (vn * (vn + tau * z) - vn**2 / 2) / tau**2
    # log L = ((x - mu_o)^2 - (x - mu_*)^2) / (2 sigma^2) along mu_* - mu_o, x = mu_k + sigma z
    gap, sigma = sp.symbols("gap sigma", positive=True)
    x_star = gap + sigma * z  # coordinate along the class axis, with mu_o = 0 and mu_* = gap
    x_other = sigma * z
    log_L = lambda xx: ((xx) ** 2 - (xx - gap) ** 2) / (2 * sigma**2)  # noqa: E731
    lin = lambda e: (sp.simplify(e.subs(z, 0)), sp.simplify(sp.diff(e, z) ** 2))  # noqa: E731
    return {
        "symbols": (a, L, r),
        "r_star": r_star,
        "log_r": lin(sp.expand(log_r)),
        "log_L_target": lin(sp.expand(log_L(x_star))),
        "log_L_other": lin(sp.expand(log_L(x_other))),
        "subs": (vn, tau, gap, sigma),
    }


@dataclass(frozen=True)
class _NumpyCode:
    """An expression and the arguments of its numeric function, compiled as ``lambdify(...,
    "numpy")`` compiles it; theory/compiled.py stores the generated source on disk, so later
    processes skip the derivation (sympy's simplify costs a few tenths of a second)."""

    name: str
    args: tuple
    expr: Any

    def numpy_source(self) -> tuple[str, str]:
        fn = sp.lambdify(self.args, self.expr, "numpy")
        return inspect.getsource(fn), fn.__name__


def closed_form_threshold_code() -> _NumpyCode:
    """log r*(alpha, L) of :func:`binary_free_condition`, as a function of (alpha, L)."""
    d = binary_free_condition()
    a, L, _ = d["symbols"]
    return _NumpyCode("gaussian_log_r_star", (a, L), sp.log(d["r_star"]))


def closed_form_moments_code() -> _NumpyCode:
    """The means and variances of log r and of log L (per class) of :func:`binary_free_condition`,
    as a function of (|v|, tau, gap, sigma)."""
    d = binary_free_condition()
    return _NumpyCode("gaussian_log_moments", d["subs"],
                      [d["log_r"][0], d["log_r"][1], d["log_L_target"][0], d["log_L_target"][1],
                       d["log_L_other"][0], d["log_L_other"][1]])


@lru_cache(maxsize=None)
def _closed_form_functions():
    from .compiled import numpy_function

    return (numpy_function("gaussian", "closed_form_threshold_code"),
            numpy_function("gaussian", "closed_form_moments_code"))


def closed_form_applies(problem: GaussianProblem) -> bool:
    """True when :func:`bayes_success_closed_form` is exact for ``problem``."""
    if problem.strategy != "feature-label" or problem.n_classes != 2:
        return False
    on_free = all(c >= problem.d_class for c in problem.signal_coords)
    if problem.singular:
        return True
    law_ok = problem.mode == "additive" or problem.jitter == problem.tau
    return on_free and law_ok and float(np.linalg.norm(problem.pattern)) > 0


def bayes_success_closed_form(problem: GaussianProblem, alpha):
    """Exact Bayes success per alpha (see the module docstring); InputError where none exists."""
    if not closed_form_applies(problem):
        raise InputError("no closed form: it needs K = 2, feature-label, a non-zero signal on free "
                         "coordinates with law N(v, tau^2 I) (or the singular overwrite)")
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    if np.any((alphas <= 0) | (alphas >= 1)):
        raise InputError("alpha must lie in (0, 1)")
    if problem.singular:
        return _shape_like(alpha, np.ones_like(alphas))
    thr, moments = _closed_form_functions()
    v_norm = float(np.linalg.norm(problem.pattern))
    gap = float(np.linalg.norm(problem.means[problem.target] - problem.means[1 - problem.target]))
    mr, vr, mt, vt, mo, vo = (float(m) for m in moments(v_norm, problem.tau, gap, problem.sigma))
    sr = math.sqrt(vr)
    out = np.empty_like(alphas)
    for i, a in enumerate(alphas):
        total = 0.0
        for mean, var in ((mt, vt), (mo, vo)):
            total += 0.5 * _expect_over_log_L(a, mean, var, mr, sr, thr)
        out[i] = total
    return _shape_like(alpha, out)


def _expect_over_log_L(a, mean, var, mr, sr, thr):
    """E_l[ 1 if l >= 0 else Phi((mr - log r*(a, e^l)) / sr) ], l ~ N(mean, var)."""
    sd = math.sqrt(var)
    if sd == 0:  # identical class means: log L is 0 everywhere, y* wins (L >= 1 branch)
        return 1.0 if mean >= 0 else float(special.ndtr((mr - thr(a, math.exp(mean))) / sr))
    p_pos = float(special.ndtr(mean / sd))  # Pr[l >= 0]: y* already wins without the signal

    def integrand(l):
        dens = math.exp(-0.5 * ((l - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        return dens * float(special.ndtr((mr - thr(a, math.exp(l))) / sr))

    lo = min(mean - 12 * sd, -1e-12)
    val, _ = integrate.quad(integrand, lo, 0.0, limit=200, epsabs=1e-12, epsrel=1e-10)
    return p_pos + val


def bayes_success(problem: GaussianProblem, alpha, n_mc: int = 200_000, seed: int = 0):
    """(success, standard error, method): closed form where it exists (SE 0), Monte Carlo otherwise."""
    if closed_form_applies(problem):
        s = bayes_success_closed_form(problem, alpha)
        return s, (0.0 if np.ndim(alpha) == 0 else np.zeros_like(s)), "closed-form"
    s, se = bayes_success_mc(problem, alpha, n=n_mc, seed=seed)
    return s, se, "monte-carlo"


# ------------------------------------------------------------------------------------------
# Hardt's constants for a continuous signal


def hardt_constants_gaussian(problem: GaussianProblem, n_mc: int = 200_000, seed: int = 0):
    """(Delta_bar, xi) such that Delta_bar * xi = int_{X*} D^+ (see the module docstring).

    For K = 2 the integrated gap is exact: pi (Phi(D/2) - Phi(-D/2)) with D = |mu_1 - mu_0| / sigma,
    because D(x) factors into the class part times the free coordinates' density. Otherwise Monte
    Carlo: E_{x ~ P0}[(max_{y != y*} p(y | x) - p(y* | x))^+].
    """
    if problem.singular:
        return 0.0, 0.0  # X* = {x_S = v} has P0-measure zero
    if problem.n_classes == 2:
        gap = float(np.linalg.norm(problem.means[1] - problem.means[0])) / problem.sigma
        return float(special.ndtr(gap / 2) - special.ndtr(-gap / 2)) / 2, 1.0
    rng = np.random.default_rng(seed)
    x, _ = problem.sample_base(n_mc, rng)
    logp = problem.log_base_joint(x)
    post = np.exp(logp - special.logsumexp(logp, axis=1, keepdims=True))
    others = np.delete(post, problem.target, axis=1).max(axis=1)
    return float(np.mean(np.maximum(others - post[:, problem.target], 0.0))), 1.0


# ------------------------------------------------------------------------------------------
# When JTT collapses (our derivation; a documented finding of the simulator)


@lru_cache(maxsize=None)
def jtt_collapse_formula():
    """sympy: the upweight lambda_c above which JTT's second stage flips a binary classifier.

    Model (stated assumptions): two classes with equal priors, x | y ~ N(+-mu e, I) along the
    class direction e (mu = separation / (2 sigma)), any other coordinates independent of y and
    symmetric; stage 1 is the Bayes boundary (the bisector), so its error set is {z < 0} with
    z = y <e, x> ~ N(mu, 1); the population limit, and the collective ignored (small alpha). By
    symmetry the weighted logistic risk is minimised on the line theta e with no intercept, and
    R(theta) = E[w log(1 + exp(-theta z))] is convex with R'(0) = -E[w z] / 2. Hence the
    minimiser has theta < 0 (the classifier is flipped, accuracy = e0) exactly when
    E[w z] < 0, i.e. when lambda E[-z; z < 0] > E[z; z > 0]:

        lambda_c = E[z; z > 0] / E[-z; z < 0].

    Returns (mu, lambda_c) as sympy objects (lambda_c in closed form through erfc).
    """
    mu = sp.symbols("mu", positive=True)
    z = sp.symbols("z", real=True)
    density = sp.exp(-(z - mu) ** 2 / 2) / sp.sqrt(2 * sp.pi)
    correct = sp.integrate(z * density, (z, 0, sp.oo))
    errors = sp.integrate(-z * density, (z, -sp.oo, 0))
    return mu, sp.simplify(correct / errors)


def jtt_collapse_upweight(separation, sigma: float = 1.0):
    """lambda_c of :func:`jtt_collapse_formula` for classes ``separation`` apart (vectorised).

    For lambda > lambda_c, JTT's reweighted logistic regression predicts the opposite class and
    its clean accuracy falls to the stage-1 error e0 = Phi(-separation / (2 sigma)). Examples:
    separation 2 (e0 = 16%): lambda_c = 13.0; separation 3 (e0 = 6.7%): 52; separation 4: 237.
    """
    sep = np.asarray(separation, dtype=float)
    if np.any(sep <= 0) or not sigma > 0:
        raise InputError("separation and sigma must be > 0")
    mu, lam = jtt_collapse_formula()
    f = sp.lambdify(mu, lam, modules=["scipy", "numpy"])
    out = f(sep / (2 * sigma))
    return float(out) if np.ndim(separation) == 0 else np.asarray(out)
