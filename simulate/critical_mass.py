"""Theory's critical mass for a simulate configuration: what the critical-mass search is held against.

* family ``discrete`` (every strategy, success measured by its goal): the exact critical mass of
  the Bayes learner (:func:`collective_action.theory.bayes_critical_mass`; the plug-in learner
  tends to it as n grows) and the alpha* the strategy's Hardt-form bound certifies
  (theory/hardt_goals.py; an upper bound on the exact one);
* family ``gaussian`` with a learner that is Bayes-optimal or aims at it (``bayes``, ``erm``,
  ``lda``, ``max-margin``): the Bayes learner's alpha*, found by bisection on theory's Bayes success
  (closed form where it exists, Monte Carlo otherwise), and Hardt's alpha* from the integrated gap;
* otherwise no prediction, with the reason. Reweighting learners are predicted from ERM's measured
  alpha* and their own measured alpha_eff by the search itself
  (:mod:`collective_action.runs.critical_mass`).
"""

from __future__ import annotations

import math

from collective_action import theory
from collective_action.theory import gaussian as gauss_theory

#: Gaussian learners theory's Bayes alpha* speaks for (they are, or aim at, the Bayes classifier).
BAYES_LIKE = ("bayes", "erm", "lda", "max-margin")


def predict(cfg, target: float) -> dict:
    """{theory_alpha_star, theory_kind, hardt_alpha_star} for one validated configuration."""
    from collective_action.simulate.runner import discrete_problem, gaussian_problem

    none = {"theory_alpha_star": math.nan, "hardt_alpha_star": math.nan}
    if cfg.family not in ("discrete", "gaussian"):
        return {**none, "theory_kind": f"none: no critical-mass theory for family {cfg.family!r}"}
    strategy = cfg.collective.strategy
    if cfg.family == "discrete":
        from collective_action.theory.bayes import bayes_critical_mass
        from collective_action.theory.hardt_goals import population_critical_mass

        problem = discrete_problem(cfg)
        goal = "" if strategy == "feature-label" else f", goal of {strategy}"
        return {"theory_alpha_star": bayes_critical_mass(problem, target, strategy),
                "theory_kind": f"exact Bayes critical mass{goal} (the plug-in learner tends to Bayes as n grows)",
                "hardt_alpha_star": float(population_critical_mass(problem, target, strategy))}
    if strategy != "feature-label":
        return {**none, "theory_kind": f"none: no critical-mass theory for strategy {strategy!r} in family 2"}
    if cfg.learner.name not in BAYES_LIKE:
        return {**none, "theory_kind": f"none for learner {cfg.learner.name!r} (see alpha_eff_alpha_star)"}
    problem = gaussian_problem(cfg)
    n_mc = cfg.theory_mc_samples
    delta_bar, xi = gauss_theory.hardt_constants_gaussian(problem, n_mc=n_mc)
    hardt = float(theory.critical_mass(min(max(delta_bar, 0.0), 1.0), xi, target))
    lo, hi = 1e-6, 1 - 1e-6
    method = ""

    def success(a):
        nonlocal method
        s, _, method = gauss_theory.bayes_success(problem, a, n_mc=n_mc)
        return float(s)

    if success(hi) < target:
        return {"theory_alpha_star": math.inf, "hardt_alpha_star": hardt,
                "theory_kind": f"Bayes critical mass ({method}): not reached below alpha = 1"}
    if success(lo) >= target:
        return {"theory_alpha_star": lo, "hardt_alpha_star": hardt,
                "theory_kind": f"Bayes critical mass ({method}): reached at alpha = {lo:g}"}
    for _ in range(40):  # bisection in log alpha to a relative width of about 1e-4
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if success(mid) < target else (lo, mid)
        if hi / lo < 1 + 1e-4:
            break
    return {"theory_alpha_star": hi, "hardt_alpha_star": hardt,
            "theory_kind": f"Bayes critical mass of the mixture ({method}; the trained learner aims at it)"}
