"""CVaR-DRO and the Bayes learner: pure fixed points, the gap between them, and oscillation.

This is OUR derivation (docs/theory.md §5 asks for it; the 2024 paper's own statement is not
available). Setting: 0-1 loss; CVaR-DRO at level beta puts weight 1/beta on the worst
beta-fraction of the population (ties at the quantile are spread uniformly over the tied mass);
the learner is the Bayes classifier of the reweighted mixture, which learns the signal exactly
when the collective's effective size exceeds a critical value a_c (a_c = D/(P* + D) for a
single signal point, computed under the reweighted base distribution and treated as fixed).
r is the error mass of the rest of the population (as a share of the whole), the same whether or
not the signal is learned. The weights depend on the model they train, so the collective's
effective size is a fixed point of two pure states:

* unlearned (U): the collective is misclassified, hence in the error set of mass r + alpha.
  If r + alpha <= beta every error gets 1/beta, else the beta-tail is spread over all errors,
  weight 1/(r + alpha): a_U = alpha / max(beta, r + alpha). U is consistent iff a_U <= a_c.
* learned (L): the collective is classified correctly; errors (mass r <= beta) weigh 1/beta and
  the remaining beta - r of the tail is spread over the correct mass 1 - r:
  a_L = alpha (1 - r/beta) / (1 - r). L is consistent iff a_L > a_c.

Both a_U and a_L come from the CVaR form of the weighted-risk lemma (alpha q*/beta with the tail
share q* of each state). :func:`cvar_gap_proof` shows a_L < a_U for 0 < beta < 1, 0 <= r < beta,
alpha + r <= 1, so for alpha_U < alpha <= alpha_L (where a_U(alpha_U) = a_c, a_L(alpha_L) = a_c)
neither pure state is consistent: best-response iteration alternates between them, and the
only equilibrium is mixed, with the collective partly in the tail so that a_eff = a_c.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from collective_action.errors import InputError

from . import _checks
from .bayes import bayes_classifier
from .effective_size import beta as beta_sym, cvar_formula, tail_share

alpha, r, a_c = sp.symbols("alpha r a_c", positive=True)
_slack = sp.Symbol("s", nonnegative=True)


@lru_cache(maxsize=None)
def cvar_state_sizes() -> dict[str, sp.Expr]:
    """a_eff in each pure state, from alpha q*/beta with that state's tail share q*."""
    cvar = cvar_formula().expr.subs(cvar_formula().symbols[0], alpha)
    errors = r + alpha
    return {
        # U, errors fit in the tail: the whole collective is in it.
        "unlearned_small": sp.simplify(cvar.subs(tail_share, 1)),
        # U, errors overfill the tail: a beta/(r + alpha) share of every error is in it.
        "unlearned_large": sp.simplify(cvar.subs(tail_share, beta_sym / errors)),
        # L: the tail's correct part (beta - r) is spread over the correct mass 1 - r.
        "learned": sp.simplify(cvar.subs(tail_share, (beta_sym - r) / (1 - r))),
    }


@lru_cache(maxsize=None)
def cvar_gap_proof() -> dict[str, sp.Expr]:
    """Symbolic evidence that a_U - a_L > 0 on both branches of a_U.

    Returns the factored differences. Branch 1 (r + alpha <= beta) factors as
    alpha (1-beta) / (beta (1-r)). Branch 2 (r + alpha > beta): writing alpha = 1 - r - s with
    slack s >= 0, the numerator of the difference expands to s (beta - r) + r (1 - beta),
    a sum of non-negative terms that vanishes only at r = 0, s = 0 (alpha = 1, excluded).
    """
    sizes = cvar_state_sizes()
    small = sp.factor(sp.simplify(sizes["unlearned_small"] - sizes["learned"]))
    large = sp.factor(sp.simplify(sizes["unlearned_large"] - sizes["learned"]))
    # Multiply by the positive factor beta (1-r)(r+alpha)/alpha to isolate the sign-carrying part.
    core = sp.expand(sp.simplify(large * beta_sym * (1 - r) * (r + alpha) / alpha))
    in_slack = sp.expand(core.subs(alpha, 1 - r - _slack))
    target = sp.expand(_slack * (beta_sym - r) + r * (1 - beta_sym))
    return {"small": small, "large": large, "large_core": core,
            "large_core_in_slack": in_slack,
            "holds": bool(sp.simplify(in_slack - target) == 0)}


@lru_cache(maxsize=None)
def cvar_alpha_thresholds() -> dict[str, sp.Expr]:
    """alpha_U (a_U = a_c, both branches) and alpha_L (a_L = a_c), solved symbolically."""
    sizes = cvar_state_sizes()
    (u_small,) = sp.solve(sp.Eq(sizes["unlearned_small"], a_c), alpha)
    (u_large,) = sp.solve(sp.Eq(sizes["unlearned_large"], a_c), alpha)
    (learned,) = sp.solve(sp.Eq(sizes["learned"], a_c), alpha)
    return {"unlearned_small": sp.simplify(u_small), "unlearned_large": sp.simplify(u_large),
            "learned": sp.simplify(learned)}


def _check_inputs(alpha_v, beta_v, r_v, a_c_v):
    a = _checks.open_unit("alpha", alpha_v)
    b = _checks.open_unit("beta", beta_v)
    rr = _checks.closed_unit("r", r_v)
    c = _checks.open_unit("a_c", a_c_v)
    a, b, rr, c = np.broadcast_arrays(a, b, rr, c)
    if np.any(rr >= b):
        raise InputError("r (rest_error) must be below beta: the rest's errors must fit in the CVaR tail")
    if np.any(a + rr > 1 + 1e-12):
        raise InputError("alpha + r must not exceed 1")
    return a, b, rr, c


@lru_cache(maxsize=None)
def _compiled_sizes() -> dict:
    return {k: sp.lambdify((alpha, beta_sym, r), v, "numpy") for k, v in cvar_state_sizes().items()}


def _sizes_numeric(a, b, rr):
    fn = _compiled_sizes()
    a_u = np.where(rr + a <= b, fn["unlearned_small"](a, b, rr), fn["unlearned_large"](a, b, rr))
    return np.asarray(a_u, float), np.asarray(fn["learned"](a, b, rr) + 0 * a, float)


@dataclass(frozen=True)
class CvarFixedPoints:
    """Pure states of CVaR-DRO + Bayes learner at given (alpha, beta, r, a_c) (arrays)."""

    a_unlearned: np.ndarray
    a_learned: np.ndarray
    unlearned_consistent: np.ndarray
    learned_consistent: np.ndarray

    @property
    def regime(self) -> np.ndarray:
        """'fails' (only U), 'succeeds' (only L), 'oscillates' (neither pure state)."""
        return np.where(self.learned_consistent, "succeeds",
                        np.where(self.unlearned_consistent, "fails", "oscillates"))


def cvar_fixed_points(alpha, beta, r, a_c) -> CvarFixedPoints:
    """Which pure states are consistent, and their effective sizes (vectorised)."""
    a, b, rr, c = _check_inputs(alpha, beta, r, a_c)
    a_u, a_l = _sizes_numeric(a, b, rr)
    return CvarFixedPoints(a_u, a_l, a_u <= c, a_l > c)


def cvar_alpha_range(beta, r, a_c) -> tuple[float, float]:
    """(alpha_U, alpha_L): U is consistent for alpha <= alpha_U, L for alpha > alpha_L, neither
    in between. Valid alphas satisfy alpha + r <= 1; a threshold beyond 1 - r means the regime
    below it covers every valid alpha (the formulas are then extrapolations)."""
    # alpha is not an input here; any valid placeholder lets the shared checks run.
    _, b, rr, c = _check_inputs(1e-9, beta, r, a_c)
    th = _compiled_thresholds()
    b, rr, c = float(b), float(rr), float(c)
    u_small = float(th["unlearned_small"](b, rr, c))
    # The small-error branch applies when its root keeps r + alpha <= beta.
    alpha_u = u_small if u_small + rr <= b else float(th["unlearned_large"](b, rr, c))
    return alpha_u, float(th["learned"](b, rr, c))


@lru_cache(maxsize=None)
def _compiled_thresholds() -> dict:
    return {k: sp.lambdify((beta_sym, r, a_c), v, "numpy") for k, v in cvar_alpha_thresholds().items()}


def best_response_states(alpha, beta, r, a_c, start: str = "unlearned",
                         steps: int = 10) -> list[str]:
    """Iterate 'train the Bayes learner on the CVaR weights of the previous model'.

    The learner learns the signal iff the current state's a_eff exceeds a_c. Returns the
    sequence of states ("U"/"L"), starting with ``start``.
    """
    fp = cvar_fixed_points(alpha, beta, r, a_c)
    state = {"unlearned": "U", "learned": "L"}.get(start)
    if state is None:
        raise InputError(f"start must be 'unlearned' or 'learned', got {start!r}")
    out = [state]
    for _ in range(int(steps)):
        size = float(fp.a_unlearned) if state == "U" else float(fp.a_learned)
        state = "L" if size > float(np.asarray(a_c)) else "U"
        out.append(state)
    return out


# ---------------------------------------------------------------------------------------------
# The same dynamics on an explicit discrete table (no abstraction): exact CVaR weights per cell.


def cvar_cell_weights(table: np.ndarray, labels: np.ndarray, beta: float) -> np.ndarray:
    """CVaR weights per (x, y) cell for 0-1 loss of classifier ``labels`` (E_P[w] = 1).

    Errors weigh 1/beta when they fit in the tail, else 1/(error mass); correct cells share the
    rest of the tail uniformly.
    """
    table = np.asarray(table, float)
    wrong = labels[:, None] != np.arange(table.shape[1])
    err = float(table[wrong].sum())
    if err >= beta:
        return np.where(wrong, 1.0 / err, 0.0)
    correct_w = (beta - err) / (beta * (1.0 - err))
    return np.where(wrong, 1.0 / beta, correct_w)


def iterate_cvar_bayes(table, target: int, beta: float, steps: int = 12,
                       start_labels=None) -> list[np.ndarray]:
    """Best-response iteration of CVaR-DRO with a Bayes learner on a mixture table.

    Starts from ``start_labels`` (default: Bayes classifier of the unweighted table), reweights
    cells by :func:`cvar_cell_weights`, refits the Bayes classifier (ties against ``target``).
    Returns the list of classifiers visited.
    """
    table = np.asarray(table, float)
    b = float(_checks.open_unit("beta", beta))
    labels = bayes_classifier(table, against=target) if start_labels is None else np.asarray(start_labels)
    path = [labels]
    for _ in range(int(steps)):
        weighted = table * cvar_cell_weights(table, labels, b)
        labels = bayes_classifier(weighted, against=target)
        path.append(labels)
    return path


# ---------------------------------------------------------------------------------------------
# Exact two-state analysis for one signal point (no abstraction of the base at x').


def _tail_weights(error_mass: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight of an error, weight of a correct point) under CVaR with 0-1 loss, E_P[w] = 1."""
    w_err = 1.0 / np.maximum(beta, error_mass)
    w_cor = np.maximum(beta - error_mass, 0.0) / (beta * (1.0 - error_mass))
    return w_err, w_cor


def cvar_signal_point_states(alpha, beta, base_target, base_rival, rest_error):
    """Which pure state is self-consistent at one signal point, exactly (vectorised).

    Masses under P_alpha at the signal point x' (feature-label, P* a point mass at x'):
    collective alpha and base (1-alpha) P0(x', y*) on y*, base (1-alpha) P0(x', y') on the rival;
    ``rest_error`` is the error mass elsewhere (assumed not to change with the state at x').
    Unlearned (f(x') = y'): the y* cells are errors; learned: the rival cell is. Each state is
    consistent iff the Bayes learner of its own CVaR-reweighted table keeps it (ties against y*).
    Returns (unlearned_consistent, learned_consistent) boolean arrays.
    """
    a = _checks.open_unit("alpha", alpha)
    b = _checks.open_unit("beta", beta)
    p_t = _checks.closed_unit("base_target", base_target)
    p_r = _checks.closed_unit("base_rival", base_rival)
    rest = _checks.closed_unit("rest_error", rest_error)
    on_target = a + (1 - a) * p_t
    on_rival = (1 - a) * p_r
    err_u, cor_u = _tail_weights(rest + on_target, b)
    err_l, cor_l = _tail_weights(rest + on_rival, b)
    unlearned_ok = err_u * on_target <= cor_u * on_rival + 1e-12
    learned_ok = cor_l * on_target > err_l * on_rival + 1e-12
    return unlearned_ok, learned_ok
