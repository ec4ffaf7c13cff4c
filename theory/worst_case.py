"""Exact worst-case success of an eps-suboptimal learner on a discrete problem (docs/theory.md §3).

The adversary picks the distribution the learner is Bayes-optimal on, within the budget that
defines eps-suboptimality, to destroy as much success as possible. Let m(x') be the margin of
the target over its best rival at signal point x' under P_alpha, and P_g(x') the law of g(x) for
x ~ P0. Only the points where the collective currently wins (m > 0) matter, and flipping one
costs a fixed amount that depends only on its own margin:

* contamination, (1-eps) P_alpha + eps Q: raising the rival by eps Q(x', y') flips x' once
  eps Q(x', y') >= (1-eps) m(x') (ties go against the collective), so the cost is Q-mass
  (1-eps) m(x') / eps and the budget is Q's total mass 1;
* total variation, P' with TV(P_alpha, P') <= eps: moving t from (x', y*) to (x', y') lowers the
  margin by 2t at TV cost t, and no move lowers the summed margins faster than 2 per unit of TV,
  so the cost is m(x') / 2 and the budget is eps.

The adversary therefore solves a 0/1 knapsack (maximise the destroyed mass sum P_g over flipped
points within the budget). It is solved exactly by enumerating subsets, which is fine for the
small problems this is meant for (at most ``MAX_POINTS`` winning signal points).
:func:`adversarial_table` builds the learner's table explicitly so that tests can recompute the
Bayes classifier and confirm the claimed success.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError, check_choice

from . import _checks
from .bayes import TIE_TOL, bayes_classifier, mixture_tables, success_of_classifier
from .hardt import DEFINITIONS

#: Largest number of winning signal points the exact subset enumeration accepts.
MAX_POINTS = 18
_BUDGET_SLACK = 1e-12


@dataclass(frozen=True)
class Attack:
    """The adversary's best move at one alpha: which points it flips and what it leaves."""

    success: float            # exact worst-case success
    flipped: np.ndarray       # indices x' of the signal points it flips
    rival: np.ndarray         # best rival label at every x (under P_alpha)
    margin: np.ndarray        # margin of y* over the rival at every x (under P_alpha)
    table: np.ndarray         # the table the learner is Bayes-optimal on


def _margins(table: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    others = table.copy()
    others[:, target] = -np.inf
    rival = np.argmax(others, axis=1)
    return table[:, target] - table[np.arange(len(table)), rival], rival


def _best_subset(costs: np.ndarray, values: np.ndarray, budget: float) -> np.ndarray:
    """Indices of the subset of largest total value whose total cost fits the budget."""
    k = len(costs)
    if k == 0:
        return np.zeros(0, dtype=int)
    if k > MAX_POINTS:
        raise InputError(f"worst-case success enumerates subsets: at most {MAX_POINTS} winning "
                         f"signal points, got {k}")
    masks = ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1).astype(bool)
    total_cost = masks @ costs
    total_value = np.where(total_cost <= budget * (1 + _BUDGET_SLACK) + _BUDGET_SLACK, masks @ values, -1.0)
    return np.flatnonzero(masks[int(np.argmax(total_value))])


def attack(problem: DiscreteProblem, alpha: float, epsilon: float,
           definition: str = "contamination", strategy: str = "feature-label") -> Attack:
    """The exact best attack on an eps-suboptimal learner at one alpha (see module docstring)."""
    check_choice("definition", definition, DEFINITIONS)
    eps = float(_checks.epsilon(epsilon))
    table = mixture_tables(problem, float(_checks.open_unit("alpha", alpha)), strategy)
    t = problem.target
    margin, rival = _margins(table, t)
    law = problem.signal_law
    winning = np.flatnonzero((margin > TIE_TOL) & (law > 0))
    if eps == 0.0:
        chosen = np.zeros(0, dtype=int)
    elif definition == "contamination":
        with np.errstate(over="ignore"):
            costs = (1 - eps) * margin[winning] / eps
        # Any cost above the budget 1 is unaffordable; capping keeps tiny eps from overflowing.
        chosen = winning[_best_subset(np.minimum(costs, 2.0), law[winning], 1.0)]
    else:
        chosen = winning[_best_subset(margin[winning] / 2.0, law[winning], eps)]
    success = float(law[winning].sum() - law[chosen].sum())
    seen = adversarial_table(table, t, eps, definition, chosen, margin, rival)
    return Attack(success=success, flipped=chosen, rival=rival, margin=margin, table=seen)


def adversarial_table(table, target, eps, definition, flipped, margin, rival) -> np.ndarray:
    """The table the learner is Bayes-optimal on after the attack that flips ``flipped``.

    contamination: (1-eps) P_alpha + eps Q with Q putting (1-eps) m/eps on each flipped point's
    rival and the unused mass on a rival label (it can only hurt y*); TV: P' moving m/2 from
    (x', y*) to (x', y') at each flipped point.
    """
    table = np.asarray(table, dtype=float)
    if eps == 0.0:
        return table.copy()
    if definition == "contamination":
        q = np.zeros_like(table)
        q[flipped, rival[flipped]] = (1 - eps) * margin[flipped] / eps
        leftover = max(1.0 - q.sum(), 0.0)
        # The unused mass sits on a rival label, never on y*.
        spot = flipped[0] if len(flipped) else 0
        q[spot, rival[spot]] += leftover
        q /= q.sum()
        return (1 - eps) * table + eps * q
    moved = table.copy()
    moved[flipped, target] -= margin[flipped] / 2.0
    moved[flipped, rival[flipped]] += margin[flipped] / 2.0
    return moved


def worst_case_success(problem: DiscreteProblem, alpha, epsilon, definition: str = "contamination",
                       strategy: str = "feature-label"):
    """Exact worst-case success of an eps-suboptimal learner (vectorised over alpha by a loop).

    ``definition`` says what eps-suboptimal means ("contamination" or "tv", module docstring);
    eps = 0 gives the Bayes success. Raises InputError beyond ``MAX_POINTS`` winning points.
    """
    check_choice("definition", definition, DEFINITIONS)
    a = _checks.open_unit("alpha", alpha)
    e = _checks.epsilon(epsilon)
    a, e = np.broadcast_arrays(a, e)
    out = np.array([attack(problem, ai, ei, definition, strategy).success
                    for ai, ei in zip(a.ravel(), e.ravel())]).reshape(a.shape)
    return _checks.scalar_or_array(out)


def success_on_table(problem: DiscreteProblem, table) -> float:
    """Success of the Bayes classifier of ``table`` (ties against y*), x ~ P0."""
    labels = bayes_classifier(table, against=problem.target)
    return float(success_of_classifier(problem, labels))
