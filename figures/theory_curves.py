"""Theory on a dense alpha grid, rebuilt from the configuration stored with each result row.

Figures used to draw theory through the experiment's few alpha values, which turns an exact
success that is a step function (discrete problems) into a slope and moves a bound's zero with
the grid. Theory is cheap to evaluate anywhere, so for every curve whose rows carry a
configuration theory can rebuild, this module evaluates

* the exact success (Bayes, or the eps-suboptimal worst case of the theory pillar), and
* Hardt et al.'s lower bound (feature-label only),

on ``GRID_POINTS`` log-spaced alphas over the experiment's alpha range. On discrete problems the
exact success is piecewise constant: each jump between two grid points is located by bisection
(to ``JUMP_RTOL`` in alpha) and inserted into the grid, so drawn with ``drawstyle='steps-post'``
the line jumps where theory says it does (not at the next grid point).

Which rows can be rebuilt:

* ``theory`` pillar (theory/experiment.py): the problem of each (configuration, seed) via
  ``theory.experiment.build_problem``; exact = ``bayes_success`` (eps = 0) or
  ``worst_case_success`` (eps > 0), bound = ``hardt_bound`` with the row's eps and definition;
  the curve is the mean over the seeds' problems, as the stored rows are.
* ``simulate`` family ``discrete``: ``simulate.runner.discrete_problem``, ``bayes_success`` of the
  row's strategy (each measured by its own goal) and ``hardt_bound`` with ``hardt_constants``;
  with ``goal_bounds=True`` the bound is the Hardt-form population bound of every strategy
  (``theory.hardt_goals.population_bound``; the same numbers for feature-label), as the
  simulator's own ``success_bound`` column.
* ``simulate`` family ``gaussian`` where the Bayes success has a closed form
  (``theory.gaussian.closed_form_applies``): ``bayes_success_closed_form`` and ``hardt_bound``
  with ``hardt_constants_gaussian``. (Monte Carlo theory is not re-run for a drawing.)

Every other row (empirical, other families, configurations that do not validate) gives None and
the figure keeps drawing the stored columns. One evaluation is kept per distinct problem and
alpha range (``_CACHE``), so a figure with many learners on one problem evaluates it once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

#: Points of the dense log-spaced alpha grid (jump points are added to these).
GRID_POINTS = 300
#: Relative width in alpha to which a jump of a step-function success is located.
JUMP_RTOL = 1e-10
#: Two success values closer than this are the same step.
STEP_ATOL = 1e-12


@dataclass(frozen=True)
class TheoryCurve:
    """Theory of one curve on a dense grid: ``exact`` and ``bound`` at ``alpha`` (increasing).

    ``steps``: ``exact`` is piecewise constant, to be drawn with ``drawstyle='steps-post'``
    (value ``exact[i]`` holds on [alpha[i], alpha[i+1])); ``jumps``: the alphas where it jumps.
    ``bound`` is None where Hardt's bound does not apply (feature-only).
    """

    alpha: np.ndarray
    exact: np.ndarray
    bound: np.ndarray | None
    steps: bool
    jumps: np.ndarray

    @property
    def drawstyle(self) -> str:
        return "steps-post" if self.steps else "default"


@dataclass(frozen=True)
class _Problem:
    """One rebuilt problem's theory: exact success as a function of alpha, and its bound."""

    exact: Callable[[np.ndarray], np.ndarray]
    bound: Callable[[np.ndarray], np.ndarray] | None
    steps: bool


def dense_alphas(lo: float, hi: float, n: int = GRID_POINTS) -> np.ndarray:
    """``n`` log-spaced alphas from ``lo`` to ``hi`` (both included)."""
    return np.geomspace(lo, hi, n)


# ------------------------------------------------------------------------------ rebuilding problems
def _theory_problem(config: dict, seed: int) -> tuple[str, Callable[[], _Problem]] | None:
    from collective_action import theory
    from collective_action.theory.experiment import TheoryConfig, build_problem

    cfg = TheoryConfig.model_validate(config)
    strategy, eps, definition = cfg.collective.strategy, cfg.epsilon, cfg.definition
    reduced = json.loads(json.dumps(config))
    reduced["collective"].pop("alpha", None)
    reduced.pop("target_success", None)
    key = json.dumps({"pillar": "theory", "config": reduced, "seed": int(seed)}, sort_keys=True)

    def build() -> _Problem:
        problem, _ = build_problem(cfg, int(seed))
        if eps == 0.0:
            exact = lambda a: np.asarray(theory.bayes_success(problem, a, strategy), dtype=float)  # noqa: E731
        else:
            exact = lambda a: np.asarray(theory.worst_case_success(problem, a, eps, definition, strategy),  # noqa: E731
                                         dtype=float)
        bound = None
        if strategy == "feature-label":
            delta, xi = theory.hardt_constants(problem)
            bound = lambda a: np.asarray(theory.hardt_bound(a, delta, xi, eps, definition), dtype=float)  # noqa: E731
        return _Problem(exact, bound, steps=True)

    return key, build


def _simulate_problem(config: dict, goal_bounds: bool = False) -> tuple[str, Callable[[], _Problem]] | None:
    from collective_action import theory
    from collective_action.experiment import get_pillar
    from collective_action.simulate.runner import discrete_problem, gaussian_problem
    from collective_action.theory import gaussian as gauss

    family = config.get("family")
    if family not in ("discrete", "gaussian"):
        return None
    cfg = get_pillar("simulate").config_model.model_validate(config)
    collective = dict(config["collective"])
    collective.pop("alpha", None)
    reduced = {"family": family, "collective": collective, family: config.get(family)}
    if family == "gaussian":
        reduced["theory_mc_samples"] = config.get("theory_mc_samples")
    strategy = cfg.collective.strategy
    goal_bounds = goal_bounds and family == "discrete"
    key = json.dumps({"pillar": "simulate", "config": reduced} | ({"goal_bounds": True} if goal_bounds else {}),
                     sort_keys=True)

    def clipped_bound(delta: float, xi: float):
        if strategy != "feature-label":
            return None
        d = float(min(max(delta, 0.0), 1.0))  # as the simulator's own success_bound column
        return lambda a: np.asarray(theory.hardt_bound(a, d, float(xi)), dtype=float)

    if family == "discrete":
        def build() -> _Problem:
            problem = discrete_problem(cfg)
            exact = lambda a: np.asarray(theory.bayes_success(problem, a, strategy), dtype=float)  # noqa: E731
            if goal_bounds:
                from collective_action.theory import hardt_goals

                bound = lambda a: np.asarray(hardt_goals.population_bound(problem, a, strategy),  # noqa: E731
                                             dtype=float)
                return _Problem(exact, bound, steps=True)
            return _Problem(exact, clipped_bound(*theory.hardt_constants(problem)), steps=True)

        return key, build

    problem = gaussian_problem(cfg)
    if not gauss.closed_form_applies(problem):
        return None

    def build() -> _Problem:
        exact = lambda a: np.asarray(gauss.bayes_success_closed_form(problem, a), dtype=float)  # noqa: E731
        delta_bar, xi = gauss.hardt_constants_gaussian(problem, n_mc=cfg.theory_mc_samples)
        return _Problem(exact, clipped_bound(delta_bar, xi), steps=False)

    return key, build


def problem_of_row(pillar: str, config_text, seed, goal_bounds: bool = False
                   ) -> tuple[str, Callable[[], _Problem]] | None:
    """(cache key, builder) of the theory of one stored row; None where theory cannot rebuild it.
    ``goal_bounds``: family-1 rows of every strategy get their Hardt-form bound (module doc)."""
    from collective_action.errors import InputError
    from pydantic import ValidationError

    if not isinstance(config_text, str) or not config_text:
        return None
    try:
        config = json.loads(config_text)
        if not isinstance(config, dict) or not isinstance(config.get("collective"), dict):
            return None
        if pillar == "theory":
            return _theory_problem(config, int(seed))
        if pillar == "simulate":
            return _simulate_problem(config, goal_bounds)
    except (ValueError, TypeError, KeyError, InputError, ValidationError):
        return None
    return None


# ------------------------------------------------------------------------------ evaluation
def locate_jumps(f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, values: np.ndarray,
                 rtol: float = JUMP_RTOL) -> np.ndarray:
    """Where the piecewise-constant ``f`` jumps between consecutive ``grid`` points (``values`` =
    f(grid)): for each jump, the first alpha found on its right, within ``rtol`` (relative) of it.

    Bisection in log alpha, vectorised over every bracket; after each jump is found, the rest of
    its grid interval is searched again, so several jumps between two grid points are all found.
    """
    changed = np.flatnonzero(np.abs(np.diff(values)) > STEP_ATOL)
    lo, hi = grid[changed].copy(), grid[changed + 1].copy()
    left, right = values[changed].copy(), values[changed + 1].copy()
    found = []
    for _ in range(64):  # rounds: each one finds the leftmost remaining jump of every bracket
        if not len(lo):
            break
        a, b = lo.copy(), hi.copy()
        for _ in range(200):
            open_ = b / a - 1 > rtol
            if not open_.any():
                break
            mid = np.sqrt(a * b)
            fm = np.atleast_1d(f(mid[open_]))
            same = np.abs(fm - left[open_]) <= STEP_ATOL
            ia = np.flatnonzero(open_)
            a[ia[same]] = mid[open_][same]
            b[ia[~same]] = mid[open_][~same]
        found.append(b)
        fb = np.atleast_1d(f(b))
        more = np.abs(fb - right) > STEP_ATOL  # another jump between b and the grid point on the right
        lo, hi, left, right = b[more], hi[more], fb[more], right[more]
    return np.unique(np.concatenate(found)) if found else np.zeros(0)


_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray | None, bool, np.ndarray]] = {}


def clear_cache() -> None:
    _CACHE.clear()


def _evaluate(key: str, build: Callable[[], _Problem], lo: float, hi: float, n: int):
    """(alpha, exact, bound, steps, jumps) of one problem on the dense grid, once per key and range."""
    cache_key = (key, float(lo), float(hi), int(n))
    if cache_key not in _CACHE:
        problem = build()
        grid = dense_alphas(lo, hi, n)
        exact = problem.exact(grid)
        jumps = locate_jumps(problem.exact, grid, exact) if problem.steps else np.zeros(0)
        if len(jumps):
            grid = np.union1d(grid, jumps)
            exact = problem.exact(grid)
        bound = problem.bound(grid) if problem.bound is not None else None
        for arr in (grid, exact, jumps) + ((bound,) if bound is not None else ()):
            arr.setflags(write=False)
        _CACHE[cache_key] = (grid, exact, bound, problem.steps, jumps)
    return _CACHE[cache_key]


def _at(xs: np.ndarray, ys: np.ndarray, x: np.ndarray, steps: bool) -> np.ndarray:
    """A problem's curve at other alphas: the step holding there (steps), else interpolated."""
    if steps:
        return ys[np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)]
    return np.interp(x, xs, ys)


def theory_for_rows(rows: pd.DataFrame, lo: float, hi: float, n: int = GRID_POINTS,
                    goal_bounds: bool = False) -> TheoryCurve | None:
    """Theory of the curve drawn from ``rows`` on ``n`` log-spaced alphas in [lo, hi], or None
    when some row's configuration cannot be rebuilt (then the stored columns are drawn).
    ``goal_bounds``: on family-1 (``simulate`` ``discrete``) rows, the bound is the Hardt-form
    population bound of the row's strategy, whatever it is (default: feature-label's only, None
    for the other strategies).

    Rows of several problems (the theory pillar's seeds) give the mean of their curves, as the
    stored points are means over seeds.
    """
    if not (0 < lo < hi < 1) or not len(rows) or "config" not in rows.columns:
        return None
    pillars = rows["pillar"].astype(str) if "pillar" in rows.columns else pd.Series("", index=rows.index)
    seeds = rows["seed"] if "seed" in rows.columns else pd.Series(0, index=rows.index)
    problems: dict[str, Callable[[], _Problem]] = {}
    for pillar, text, seed in zip(pillars, rows["config"], seeds):
        found = problem_of_row(pillar, text, 0 if seed != seed else seed, goal_bounds)
        if found is None:
            return None
        problems.setdefault(*found)
    curves = [_evaluate(key, build, lo, hi, n) for key, build in problems.items()]
    if len(curves) == 1:
        alpha, exact, bound, steps, jumps = curves[0]
        return TheoryCurve(alpha, exact, bound, steps, jumps)
    alpha = curves[0][0]
    for c in curves[1:]:
        alpha = np.union1d(alpha, c[0])
    steps = all(c[3] for c in curves)
    exact = np.mean([_at(c[0], c[1], alpha, c[3]) for c in curves], axis=0)
    bounds = [c[2] for c in curves]
    bound = (np.mean([np.interp(alpha, c[0], b) for c, b in zip(curves, bounds)], axis=0)
             if all(b is not None for b in bounds) else None)
    jumps = np.unique(np.concatenate([c[4] for c in curves]))
    return TheoryCurve(alpha, exact, bound, steps, jumps)


def alpha_range(alphas) -> tuple[float, float]:
    """(min, max) of the positive alphas (NaN, NaN when none)."""
    a = np.asarray([x for x in alphas if x == x and x > 0], dtype=float)
    return (float(a.min()), float(a.max())) if len(a) else (math.nan, math.nan)


# ------------------------------------------------------------------------------ ratio crossings
def crossings(alphas, ratios, level: float = 1.0) -> np.ndarray:
    """Alphas where the polyline through (alpha, ratio) crosses ``level``, interpolated linearly
    in (log alpha, log ratio): where the line drawn on a log-log panel crosses it."""
    a = np.asarray(alphas, dtype=float)
    r = np.asarray(ratios, dtype=float)
    ok = (a > 0) & (r > 0) & np.isfinite(a) & np.isfinite(r)
    a, r = a[ok], r[ok]
    order = np.argsort(a)
    la, lr = np.log(a[order]), np.log(r[order]) - math.log(level)
    out = []
    for i in range(len(la) - 1):
        if lr[i] == 0:
            out.append(la[i])
        elif lr[i] * lr[i + 1] < 0:
            out.append(la[i] + (la[i + 1] - la[i]) * lr[i] / (lr[i] - lr[i + 1]))
    if len(lr) and lr[-1] == 0:
        out.append(la[-1])
    return np.exp(np.unique(out)) if out else np.zeros(0)
