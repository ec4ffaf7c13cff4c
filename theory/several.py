"""Several collectives at once, with members who do not all follow the plan (docs/several.md).

A discrete problem (P0 over X x Y) carries K collectives. Collective k holds a share alpha_k of the
training data, plants its own signal map g_k with its own target y*_k, and a share eta_k of its
members deviate in the way its noise kind says (:data:`NOISE_KINDS`). With H_k the feature-label
pushforward of collective k (mass P_{g_k}(x') on (x', y*_k)) and N_k its deviators' law,

    P*_k = (1 - eta_k) H_k + eta_k N_k,        P = (1 - sum_k alpha_k) P0 + sum_k alpha_k P*_k.   (1)

The learner is the Bayes classifier of P, with one tie rule for all collectives: at x, the best
label that is no collective's target is predicted whenever it comes within ``TIE_TOL`` of the
maximum, so every tie with a non-target label goes against every collective (with one collective
this is exactly theory.bayes: y* only when it wins strictly). Only when every label within
``TIE_TOL`` of the maximum is some collective's target is a target predicted without a strict win;
then the largest score wins, the lowest label at an exact tie (this favours the lower label and
only happens on exact target-target ties: never on a generic problem, sometimes in small counts).

The success of collective k is S_k = Pr_{x ~ P0}[f(g_k(x)) = y*_k]. Three lower bounds per
collective, derived in :func:`margin_formula` / :func:`base_bound_formula` / :func:`shares_bound_formula`:

* ``base``: the rest of the data is a base law B_k = (P - a_k H_k) / (1 - a_k), a_k = alpha_k (1 -
  eta_k), and Hardt's argument runs unchanged: S_k >= 1 - ((1 - a_k)/a_k) Delta(B_k) xi(B_k)
  (the form simulate/stress_worlds.py uses for Gaussian worlds; needs the others' laws);
* ``integrated``: the same with sum_{x' in X*_k} D_{B_k}(x')^+ in place of Delta xi (tighter);
* ``shares``: only P0's Hardt constants for collective k, the others' effective shares and how much of
  their signal lands on X*_k: S_k >= 1 - (c0 Delta0 xi0 + R_k) / a_k, R_k = sum_{j != k, y*_j != y*_k}
  (a_j rho_jk + alpha_j eta_j nu_jk), c0 = 1 - sum alpha + sum over keep-label collectives of
  alpha_j eta_j, rho_jk = P0(g_j(x) in X*_k), nu_jk = N_j(X*_k) for corrupted-signal deviators (0 else).

With one collective and no noise all three reduce to theory.hardt_bound (tested). The published
statements of Karan et al. 2025 ("Sync or Sink") and Battiloro et al. 2025 could not be retrieved
beyond their abstracts; these bounds are derived here and checked against exact success.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from collective_action.collective import get_strategy
from collective_action.errors import InputError, check_choice

from .bayes import TIE_TOL, per_point_threshold
from .hardt import hardt_bound, hardt_bound_formula
from .symbolic import Formula


# ------------------------------------------------------------------------------------------
# Noise kinds: the law N_k of a deviating member, as a joint table over X x Y


def _keep_label(p0: np.ndarray, g: np.ndarray, target: int) -> np.ndarray:
    """A deviating member reports its own (x, y): N = P0."""
    return p0.copy()


def _random_label(p0: np.ndarray, g: np.ndarray, target: int) -> np.ndarray:
    """A deviating member plants g(x) with a label drawn uniformly from all labels."""
    out = np.zeros_like(p0)
    np.add.at(out, g, np.repeat(p0.sum(axis=1)[:, None], p0.shape[1], axis=1) / p0.shape[1])
    return out


def _corrupted_signal(p0: np.ndarray, g: np.ndarray, target: int) -> np.ndarray:
    """A deviating member plants a point drawn uniformly from the |X| - 1 points other than g(x),
    with the target label: N(x'', y*) = (1 - P_g(x'')) / (|X| - 1) (:func:`corrupted_signal_formula`)."""
    n = p0.shape[0]
    if n < 2:
        raise InputError("corrupted-signal noise needs at least 2 points (a point other than g(x))")
    marg = p0.sum(axis=1)
    law = np.zeros(n)
    np.add.at(law, g, marg)
    out = np.zeros_like(p0)
    out[:, target] = (marg.sum() - law) / (n - 1)
    return out


#: name -> (p0, g, target) -> N. Add a kind here and every function below handles it. Each law
#: splits into a part proportional to P0 (keep-label), a part spread evenly over the labels of
#: the signal points (random-label) and a part on the collective's own target (corrupted-signal);
#: the shares bound treats the three parts differently (:func:`bounds`).
NOISE_KINDS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "keep-label": _keep_label,
    "random-label": _random_label,
    "corrupted-signal": _corrupted_signal,
}


# ------------------------------------------------------------------------------------------
# The problem


@dataclass(frozen=True)
class Collective:
    """One collective: share alpha, signal map g, target, a share ``noise`` of deviators of ``kind``."""

    alpha: float
    g: np.ndarray
    target: int
    noise: float = 0.0
    kind: str = "keep-label"

    @property
    def effective(self) -> float:
        """a = alpha (1 - eta): the share of training points that carry this collective's plan."""
        return self.alpha * (1.0 - self.noise)


@dataclass(frozen=True)
class SeveralProblem:
    """P0[x, y] and K collectives. Raises InputError on an invalid table, share, map or noise."""

    p0: np.ndarray
    collectives: tuple

    @classmethod
    def random(cls, rng: np.random.Generator, kinds=None, clean_share: float = 0.3,
               max_noise: float = 0.8, n_points: int | None = None, n_labels: int | None = None,
               n_collectives: int | None = None) -> "SeveralProblem":
        """2-3 collectives on 3-6 points and 2-4 labels (the property tests' problems).

        Their signals share one map, sit on disjoint points, or are drawn freely; each collective
        is noiseless with probability ``clean_share``, else deviates with a share drawn up to
        ``max_noise``, of a kind drawn from ``kinds`` (default: every noise kind). ``n_points``,
        ``n_labels`` and ``n_collectives`` fix those sizes instead of drawing them.
        """
        X = n_points or int(rng.integers(3, 7))
        Y = n_labels or int(rng.integers(2, 5))
        K = n_collectives or int(rng.integers(2, 4))
        p0 = rng.dirichlet(np.ones(X * Y)).reshape(X, Y)
        layout = rng.choice(["same", "disjoint", "any"])
        maps, free = [], list(rng.permutation(X))
        for k in range(K):
            if layout == "same" and k > 0:
                maps.append(maps[0])
                continue
            if layout == "disjoint":
                size = max(1, min(len(free) // (K - k), 2))
                pts = np.array([free.pop() for _ in range(size)])
            else:
                pts = rng.choice(X, size=int(rng.integers(1, 3)), replace=False)
            maps.append(pts[rng.integers(0, len(pts), size=X)])
        alphas = rng.uniform(0.01, 0.9 / K, size=K)
        kinds = list(kinds or NOISE_KINDS)
        cols = tuple(Collective(float(alphas[k]), maps[k], int(rng.integers(0, Y)),
                                0.0 if rng.random() < clean_share else float(rng.uniform(0.0, max_noise)),
                                str(rng.choice(kinds))) for k in range(K))
        return cls(p0, cols)

    def __post_init__(self):
        from collective_action.discrete import DiscreteProblem

        p0 = np.asarray(self.p0, dtype=float)
        if not self.collectives:
            raise InputError("a several-collectives problem needs at least one collective")
        cols = []
        for k, c in enumerate(self.collectives):
            DiscreteProblem(p0, np.asarray(c.g), c.target)  # validates P0, g and the target
            if not (0.0 < c.alpha < 1.0):
                raise InputError(f"collective {k}: alpha must lie in (0, 1), got {c.alpha!r}")
            if not (0.0 <= c.noise < 1.0):
                raise InputError(f"collective {k}: noise must lie in [0, 1), got {c.noise!r}")
            check_choice(f"collective {k} noise kind", c.kind, NOISE_KINDS)
            g = np.asarray(c.g).astype(np.int64)
            g.setflags(write=False)
            cols.append(Collective(float(c.alpha), g, int(c.target), float(c.noise), c.kind))
        total = sum(c.alpha for c in cols)
        if not total < 1.0:
            raise InputError(f"the collectives' shares must sum to less than 1, got {total:g}")
        p0 = p0.copy()
        p0.setflags(write=False)
        object.__setattr__(self, "p0", p0)
        object.__setattr__(self, "collectives", tuple(cols))

    @classmethod
    def from_discrete(cls, problem, alpha: float, noise: float = 0.0, kind: str = "keep-label") -> "SeveralProblem":
        """The one-collective problem of a DiscreteProblem."""
        return cls(problem.p0, (Collective(alpha, problem.g, problem.target, noise, kind),))

    @property
    def n_points(self) -> int:
        return self.p0.shape[0]

    @property
    def n_labels(self) -> int:
        return self.p0.shape[1]

    @property
    def targets(self) -> tuple[int, ...]:
        return tuple(c.target for c in self.collectives)

    def signal_law(self, k: int) -> np.ndarray:
        """P_{g_k}(x'): law of g_k(x) for x ~ P0."""
        out = np.zeros(self.n_points)
        np.add.at(out, self.collectives[k].g, self.p0.sum(axis=1))
        return out

    def planted(self, k: int) -> np.ndarray:
        """H_k: the law a following member reports (feature-label)."""
        c = self.collectives[k]
        return get_strategy("feature-label").pushforward(self.p0, c.g, c.target)

    def pstar(self, k: int) -> np.ndarray:
        """P*_k = (1 - eta_k) H_k + eta_k N_k, equation (1)."""
        c = self.collectives[k]
        if c.noise == 0:
            return self.planted(k)
        return (1.0 - c.noise) * self.planted(k) + c.noise * NOISE_KINDS[c.kind](self.p0, c.g, c.target)

    def mixture(self) -> np.ndarray:
        """The training law P of equation (1)."""
        total = sum(c.alpha for c in self.collectives)
        out = (1.0 - total) * self.p0
        for k, c in enumerate(self.collectives):
            out = out + c.alpha * self.pstar(k)
        return out

    def base_mass(self, k: int) -> np.ndarray:
        """(1 - a_k) B_k = P - a_k H_k: everything in the training law but collective k's plan.

        Built as a sum (not P minus the plan) so that no rounding is left where the plan sat.
        """
        c = self.collectives[k]
        total = sum(d.alpha for d in self.collectives)
        out = (1.0 - total) * self.p0
        for j, d in enumerate(self.collectives):
            if j != k:
                out = out + d.alpha * self.pstar(j)
        if c.noise:
            out = out + c.alpha * c.noise * NOISE_KINDS[c.kind](self.p0, c.g, c.target)
        return out


# ------------------------------------------------------------------------------------------
# The classifier and exact success


def classifier(table, targets, tol: float = TIE_TOL) -> np.ndarray:
    """f(x) for tables (..., |X|, |Y|) under the tie rule of the module docstring.

    The best non-target label wins whenever it is within ``tol`` of the maximum; otherwise the
    maximiser (a target; first label at an exact tie). ``tol = 0`` is the rule for integer counts.
    """
    table = np.asarray(table, dtype=float)
    is_target = np.zeros(table.shape[-1], dtype=bool)
    is_target[list(targets)] = True
    best = np.argmax(table, axis=-1)
    if is_target.all():  # no non-target label: the maximiser always wins
        return best
    top = table.max(axis=-1)
    others = np.where(is_target, -np.inf, table)
    best_other = np.argmax(others, axis=-1)
    other_score = np.take_along_axis(table, best_other[..., None], axis=-1)[..., 0]
    return np.where(other_score >= top - tol, best_other, best)


def success_of(problem: SeveralProblem, labels) -> np.ndarray:
    """S_k = Pr_{x ~ P0}[f(g_k(x)) = y*_k] for every collective, classifiers (..., |X|) -> (..., K)."""
    labels = np.asarray(labels)
    marg = problem.p0.sum(axis=1)
    return np.stack([((labels[..., c.g] == c.target) * marg).sum(axis=-1) for c in problem.collectives], axis=-1)


def clean_accuracy_of(problem: SeveralProblem, labels) -> np.ndarray:
    """Pr_{(x, y) ~ P0}[f(x) = y] for classifiers (..., |X|)."""
    labels = np.asarray(labels)
    onehot = labels[..., None] == np.arange(problem.n_labels)
    return (onehot * problem.p0).sum(axis=(-2, -1))


def bayes_labels(problem: SeveralProblem) -> np.ndarray:
    """The Bayes classifier of the training law P under the tie rule."""
    return classifier(problem.mixture(), problem.targets)


def success(problem: SeveralProblem) -> np.ndarray:
    """Exact success of every collective (K,) for the Bayes classifier of P, by enumeration."""
    return success_of(problem, bayes_labels(problem))


def clean_accuracy(problem: SeveralProblem) -> float:
    return float(clean_accuracy_of(problem, bayes_labels(problem)))


# ------------------------------------------------------------------------------------------
# Derivations


_ak, _eta, _others = sp.symbols("alpha_k eta_k A_o", nonnegative=True)
_pk, _p0t, _p0r, _nt, _nr, _ot, _or = sp.symbols("p_k p0_t p0_r n_t n_r O_t O_r", real=True)


@lru_cache(maxsize=None)
def margin_formula() -> Formula:
    """Margin of y*_k over a rival label r at a point x' of X*_k under the training law (1).

    Scores from (1): the base carries 1 - alpha_k - A_o (A_o = the others' total share), collective k
    plants alpha_k (1 - eta_k) P_{g_k}(x') on y*_k and its deviators alpha_k eta_k N_k(x', .), the
    others add O(x', .) = sum_{j != k} alpha_j P*_j(x', .). y*_k is predicted at x' only if the
    margin over every rival is positive. Checked: margin = a_k p_k - (1 - a_k) (B_k(x', r) -
    B_k(x', y*_k)), a_k = alpha_k (1 - eta_k), i.e. Hardt's per-point condition with base B_k.
    """
    score_t = (1 - _ak - _others) * _p0t + _ak * (1 - _eta) * _pk + _ak * _eta * _nt + _ot
    score_r = (1 - _ak - _others) * _p0r + _ak * _eta * _nr + _or
    margin = sp.expand(score_t - score_r)
    a = _ak * (1 - _eta)
    base_t = (1 - _ak - _others) * _p0t + _ak * _eta * _nt + _ot  # (1 - a_k) B_k(x', y*_k)
    base_r = (1 - _ak - _others) * _p0r + _ak * _eta * _nr + _or
    if sp.simplify(margin - (a * _pk - (base_r - base_t))) != 0:  # pragma: no cover - guards the derivation
        raise AssertionError("the several-collectives margin is not Hardt's margin with base B_k")
    return Formula(
        name="several_margin",
        expr=sp.collect(margin, _ak),
        symbols=(_ak, _eta, _others, _pk, _p0t, _p0r, _nt, _nr, _ot, _or),
        assumptions=("feature-label planting by every collective",
                     "deviating members of collective k report N_k (a noise kind)",
                     "O(x', y) = sum_{j != k} alpha_j P*_j(x', y), A_o = sum_{j != k} alpha_j"),
        statement="score of y*_k minus score of rival r at x' under the training law with K collectives",
    )


@lru_cache(maxsize=None)
def threshold_formula() -> Formula:
    """The alpha_k at which y*_k starts to beat rival r at x', the others held fixed.

    The margin is affine in alpha_k; its root reduces to theory.bayes.per_point_threshold
    D / (P* + D) with one collective and no noise (checked).
    """
    m = margin_formula().expr
    (root,) = sp.solve(sp.Eq(m, 0), _ak)
    root = sp.simplify(root)
    single = root.subs({_others: 0, _ot: 0, _or: 0, _eta: 0})
    ref = per_point_threshold()
    p_star, gap = ref.symbols
    if sp.simplify(single - ref.expr.subs({p_star: _pk, gap: _p0r - _p0t})) != 0:  # pragma: no cover
        raise AssertionError("the several-collectives threshold does not reduce to per_point_threshold")
    return Formula(
        name="several_threshold",
        expr=root,
        symbols=(_eta, _others, _pk, _p0t, _p0r, _nt, _nr, _ot, _or),
        assumptions=margin_formula().assumptions + ("slope in alpha_k positive (else y*_k never or always wins)",),
        statement="alpha_k above which y*_k beats rival r at x', the other collectives fixed",
    )


_n_points = sp.Symbol("m", integer=True, positive=True)  # |X|


@lru_cache(maxsize=None)
def corrupted_signal_formula() -> Formula:
    """N(x'', y*) of a corrupted-signal deviator: (1 - P_g(x'')) / (|X| - 1), and 0 on other labels.

    A deviating member draws x ~ P0 and plants a point drawn uniformly from the |X| - 1 points
    other than g(x), with the target label. Derived by total probability over g(x) for |X| = 2..6
    (symbols P_g(x0) for every point x0; checked to equal the closed form and to sum to 1).
    """
    law = (1 - _pk) / (_n_points - 1)
    for m in range(2, 7):
        p = sp.symbols(f"p0:{m}", nonnegative=True)  # P_g(x0) for every point x0
        for x2 in range(m):
            by_total = sum(p[x0] * sp.Rational(1, m - 1) for x0 in range(m) if x0 != x2)
            closed = law.subs({_pk: p[x2], _n_points: m})
            if sp.simplify((by_total - closed).subs(p[-1], 1 - sum(p[:-1]))) != 0:  # pragma: no cover
                raise AssertionError("the corrupted-signal law is not (1 - P_g) / (|X| - 1)")
        total = sum(law.subs({_pk: p[x2], _n_points: m}) for x2 in range(m))
        if sp.simplify(total.subs(p[-1], 1 - sum(p[:-1])) - 1) != 0:  # pragma: no cover
            raise AssertionError("the corrupted-signal law does not sum to 1")
    return Formula(
        name="several_noise[corrupted-signal]",
        expr=law,
        symbols=(_pk, _n_points),
        assumptions=("a deviating member draws x ~ P0 and plants a uniform point other than g(x)",
                     "it reports the collective's target label"),
        statement="mass a corrupted-signal deviator puts on (x'', y*), P_g(x'') = p_k",
    )


@lru_cache(maxsize=None)
def corrupted_margin_formula() -> Formula:
    """The margin of y*_k over r at x' in X*_k when collective k's deviators plant a corrupted signal.

    margin_formula with N_k(x', y*_k) = (1 - p_k)/(|X| - 1) and N_k(x', r) = 0. Checked: it exceeds
    the random-label margin (N_k(x', y*_k) = N_k(x', r)) by alpha_k eta_k (1 - p_k)/(|X| - 1) >= 0,
    so corrupted-signal deviators never cost their own collective more than random-label ones at
    the same shares; they cost other collectives (a rival label on every point).
    """
    m = margin_formula().expr
    corrupted = sp.expand(m.subs({_nt: corrupted_signal_formula().expr, _nr: 0}))
    random_label = m.subs({_nt: _nr})
    gain = _ak * _eta * (1 - _pk) / (_n_points - 1)
    if sp.simplify(corrupted - random_label - gain) != 0:  # pragma: no cover - guards the derivation
        raise AssertionError("corrupted-signal margin minus random-label margin is not alpha eta (1 - p)/(m - 1)")
    return Formula(
        name="several_margin[corrupted-signal]",
        expr=corrupted,
        symbols=(_ak, _eta, _others, _pk, _p0t, _p0r, _ot, _or, _n_points),
        assumptions=margin_formula().assumptions + ("collective k's deviators plant a corrupted signal",),
        statement="score of y*_k minus score of rival r at x' with corrupted-signal deviators",
    )


_a_sym, _delta, _xi, _c0, _rival = sp.symbols("a Delta xi c_0 R", nonnegative=True)
_fail = sp.Symbol("P_B", nonnegative=True)  # P_{g_k}(B): collective k's mass on its failure set


@lru_cache(maxsize=None)
def base_bound_formula() -> Formula:
    """S_k >= 1 - ((1 - a)/a) Delta(B_k) xi(B_k), a = alpha_k (1 - eta_k).

    Summing the per-point failure condition a p_k <= (1 - a) D_{B_k}(x') over the failure set B
    (margin_formula shows it is Hardt's with base B_k) gives a P_B <= (1 - a) Delta xi; the largest
    failing mass makes it tight. With eta = 0 this is hardt_bound_formula(eps = 0) (checked).
    """
    (worst,) = sp.solve(sp.Eq(_a_sym * _fail, (1 - _a_sym) * _delta * _xi), _fail)
    bound = sp.simplify((1 - worst).subs(_a_sym, _ak * (1 - _eta)))
    ref = hardt_bound_formula("contamination", with_epsilon=False)
    r_alpha, r_delta, r_xi = ref.symbols
    if sp.simplify(bound.subs(_eta, 0) - ref.expr.subs({r_alpha: _ak, r_delta: _delta, r_xi: _xi})) != 0:  # pragma: no cover
        raise AssertionError("the base-law bound does not reduce to Hardt's bound")
    return Formula(
        name="several_bound[base]",
        expr=bound,
        symbols=(_ak, _eta, _delta, _xi),
        assumptions=margin_formula().assumptions + (
            "Delta, xi are Hardt's constants of the base law B_k = (P - a_k H_k)/(1 - a_k) on X*_k",
            "ties go against the collective; may be negative (vacuous)"),
        statement="lower bound on collective k's success in presence of the others and of noise",
    )


@lru_cache(maxsize=None)
def shares_bound_formula() -> Formula:
    """S_k >= 1 - (c0 Delta0 xi0 + R) / a, from P0's constants and the others' shares only.

    At a failure point, for some rival r: a p_k <= c0 (P0(x', r) - P0(x', y*_k)) + (others' planted
    mass on r) - (others' planted mass on y*_k), with c0 the weight of P0 in P once keep-label
    deviators are counted as base (random-label deviators add the same mass to every label and cancel;
    collective k's own corrupted-signal deviators add to y*_k only and are dropped). Dropping the
    helpful last term and summing over B <= X*_k: a P_B <= c0 Delta0 xi0 + R, with R =
    sum_{j != k, y*_j != y*_k} (a_j P0(g_j(x) in X*_k) + alpha_j eta_j N_j(X*_k, y*_j)), the last term
    only for corrupted-signal deviators (the others' mass on their own target).
    """
    (worst,) = sp.solve(sp.Eq(_a_sym * _fail, _c0 * _delta * _xi + _rival), _fail)
    bound = sp.simplify((1 - worst).subs(_a_sym, _ak * (1 - _eta)))
    ref = hardt_bound_formula("contamination", with_epsilon=False)
    r_alpha, r_delta, r_xi = ref.symbols
    single = bound.subs({_eta: 0, _rival: 0, _c0: 1 - _ak})
    if sp.simplify(single - ref.expr.subs({r_alpha: _ak, r_delta: _delta, r_xi: _xi})) != 0:  # pragma: no cover
        raise AssertionError("the shares bound does not reduce to Hardt's bound")
    return Formula(
        name="several_bound[shares]",
        expr=bound,
        symbols=(_ak, _eta, _c0, _delta, _xi, _rival),
        assumptions=margin_formula().assumptions + (
            "Delta, xi: Hardt's constants of P0 for (g_k, y*_k)",
            "c0 = 1 - sum_j alpha_j + sum_{j keep-label} alpha_j eta_j",
            "R = sum_{j != k, y*_j != y*_k} alpha_j (1 - eta_j) P0(g_j(x) in X*_k) "
            "+ alpha_j eta_j N_j(X*_k, y*_j) for corrupted-signal deviators",
            "ties go against the collective; may be negative (vacuous)"),
        statement="lower bound on collective k's success from shares and overlaps only",
    )


# ------------------------------------------------------------------------------------------
# Numbers


def success_per_point(problem: SeveralProblem, tol: float = TIE_TOL) -> np.ndarray:
    """S_k from the derived margin: y*_k wins at x' iff its margin over every rival exceeds ``tol``.

    Equals :func:`success` except on exact ties between two targets (the tie rule then hands the
    point to one of them); a cross-check of the enumeration.
    """
    p0 = problem.p0
    out = np.empty(len(problem.collectives))
    f = margin_formula()
    for k, c in enumerate(problem.collectives):
        others = sum((problem.collectives[j].alpha * problem.pstar(j) for j in range(len(problem.collectives))
                      if j != k), np.zeros_like(p0))
        a_o = sum(d.alpha for j, d in enumerate(problem.collectives) if j != k)
        noise = NOISE_KINDS[c.kind](p0, c.g, c.target) if c.noise else np.zeros_like(p0)
        t = c.target
        law = problem.signal_law(k)
        m = f.numeric(c.alpha, c.noise, a_o, law[:, None], p0[:, [t]], p0, noise[:, [t]], noise,
                      others[:, [t]], others)
        m[:, t] = np.inf  # y*_k is not its own rival
        wins = (m.min(axis=1) > tol) & (law > 0)
        out[k] = float((law * wins).sum())
    return out


def _base_constants(mass: np.ndarray, signal: np.ndarray, target: int) -> tuple[float, float, float]:
    """(Delta, xi, integrated gap) of the unnormalised base mass (1 - a) B on the signal set.

    Delta and xi are Hardt's constants of B (conditionals do not see the normalisation); the
    integrated gap is sum_{x' in X*} ((1 - a) D_B(x'))^+.
    """
    rows = mass[signal]
    marg = rows.sum(axis=1)
    rivals = np.delete(rows, target, axis=1).max(axis=1)
    integrated = float(np.maximum(rivals - rows[:, target], 0.0).sum())
    seen = marg > 0
    if not seen.any():
        return 0.0, 0.0, integrated
    cond = rows[seen] / marg[seen, None]
    delta = float(np.max(np.delete(cond, target, axis=1).max(axis=1) - cond[:, target]))
    return max(delta, 0.0), float(marg.sum()), integrated


def _rival_mass(problem: SeveralProblem, j: int, in_signal: np.ndarray) -> float:
    """Collective j's mass on its own target over another collective's signal set (a term of R).

    Its followers put a_j P0(g_j(x) in X*_k) there; corrupted-signal deviators add alpha_j eta_j
    N_j(X*_k, y*_j); keep-label deviators are part of c0 and random-label ones cancel.
    """
    d = problem.collectives[j]
    mass = d.effective * float(problem.p0.sum(axis=1)[in_signal[d.g]].sum())
    if d.kind == "corrupted-signal" and d.noise:
        mass += d.alpha * d.noise * float(NOISE_KINDS[d.kind](problem.p0, d.g, d.target)[in_signal, d.target].sum())
    return mass


def bounds(problem: SeveralProblem) -> dict[str, np.ndarray]:
    """The three lower bounds of every collective, and the constants they use (arrays of length K).

    Keys: ``base`` (Hardt with base B_k: theory.hardt_bound at a_k), ``integrated``, ``shares``,
    ``effective`` (a_k), ``delta_base``, ``xi_base``, ``delta0``, ``xi0``, ``c0``, ``rival`` (R).
    """
    K = len(problem.collectives)
    cols = problem.collectives
    total = sum(c.alpha for c in cols)
    c0 = 1.0 - total + sum(c.alpha * c.noise for c in cols if c.kind == "keep-label")
    out = {key: np.empty(K) for key in ("base", "integrated", "shares", "effective", "delta_base", "xi_base",
                                        "delta0", "xi0", "c0", "rival")}
    for k, c in enumerate(cols):
        a = c.effective
        signal = np.unique(c.g)
        mass = problem.base_mass(k)
        delta_b, xi_mass, integrated = _base_constants(mass, signal, c.target)
        xi_b = min(xi_mass / (1.0 - a), 1.0)  # B_k(X*_k): the base mass normalised
        delta0, xi0, _ = _base_constants(problem.p0, signal, c.target)
        in_signal = np.zeros(problem.n_points, dtype=bool)
        in_signal[signal] = True
        rival = sum(_rival_mass(problem, j, in_signal) for j, d in enumerate(cols) if j != k and d.target != c.target)
        out["effective"][k] = a
        out["delta_base"][k], out["xi_base"][k] = delta_b, xi_b
        out["delta0"][k], out["xi0"][k] = delta0, min(xi0, 1.0)
        out["c0"][k], out["rival"][k] = c0, rival
        out["base"][k] = float(hardt_bound(a, min(delta_b, 1.0), xi_b)) if 0 < a < 1 else np.nan
        out["integrated"][k] = 1.0 - integrated / a if a > 0 else np.nan
        out["shares"][k] = (float(shares_bound_formula().numeric(c.alpha, c.noise, c0, delta0, min(xi0, 1.0), rival))
                            if a > 0 else np.nan)
    return out
