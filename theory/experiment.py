"""The theory pillar for experiment files: exact success and bounds on discrete problems.

A cell names a discrete problem (a random one, or an explicit P0 table with its signal map g),
a collective, and the learner's suboptimality (epsilon, definition). Its row carries:

* ``success`` = ``success_theory``: the exact Bayes success (epsilon = 0) or the exact worst-case
  success of an epsilon-suboptimal learner under the named definition (planting strategies only),
  each measured by the strategy's goal (planting Pr[f(g(x)) = y*], unplanting Pr[f(g(x)) != y*],
  erasing Pr[f(g(x)) = f(x)]; the adaptive strategies play their population labels);
* ``success_bound``: the Hardt-form bound of the strategy for the same learner (feature-label:
  Hardt's; feature-only, unplanting, erasing: :mod:`.hardt_goals`), named in ``bound_name``;
* ``clean_accuracy``: accuracy on P0 of the same learner (the attacked one when epsilon > 0);
* extras ``delta``, ``xi``, ``alpha_star`` (critical mass of that bound for ``target_success``),
  ``success_se`` (0: exact), ``series``, ``goal``, ``n_points``, ``n_labels``, ``problem_seed``.

Random problems are drawn from ``numpy.random.default_rng([random.seed, cell seed])``, so the
seeds of an experiment file give independent problems and intervals over seeds are meaningful.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from collective_action.discrete import DiscreteProblem
from collective_action.experiment import Cell, CollectiveSpec, Pillar, StrictModel, register_pillar
from collective_action.results import ResultRow

from collective_action.collective import PLANTING_STRATEGIES, get_strategy

from .bayes import accuracy_of_classifier, bayes_classifier, bayes_clean_accuracy, bayes_success, hardt_constants
from .hardt_goals import population_bound, population_critical_mass
from .worst_case import MAX_POINTS, attack

#: What ``success_bound`` is, per strategy.
BOUND_NAMES = {"feature-label": "Hardt et al. Thm (feature-label)",
               "feature-only": "Hardt-form feature-only bound (docs/theory.md §2b)",
               "unplanting": "Hardt-form unplanting bound, population labels (docs/theory.md §2b; ours)",
               "erasing": "Hardt-form erasing bound (docs/theory.md §2b)"}


class RandomProblemSpec(StrictModel):
    """A random problem: Dirichlet(concentration) joint table, uniformly random signal map."""

    n_points: int = Field(6, ge=1, le=256, description="|X|")
    n_labels: int = Field(3, ge=2, le=64, description="|Y|")
    concentration: float = Field(1.0, gt=0.0, description="Dirichlet concentration of P0")
    seed: int = Field(0, ge=0, description="combined with the cell seed to draw the problem")
    n_signal_points: int | None = Field(None, ge=1, description="g maps X onto this many points "
                                        "(default: g is uniformly random on X)")
    signal_mass: float | None = Field(None, gt=0.0, lt=1.0, description="rescale P0 so that "
                                      "xi = P0(X*) equals this (how rare the signal is naturally)")

    @model_validator(mode="after")
    def _signal_fits(self):
        if self.n_signal_points is not None and self.n_signal_points > self.n_points:
            raise ValueError("n_signal_points cannot exceed n_points")
        if self.signal_mass is not None and (self.n_signal_points or self.n_points) >= self.n_points:
            raise ValueError("signal_mass needs n_signal_points < n_points (some x outside X*)")
        return self


class TheoryConfig(StrictModel):
    """Configuration of one theory cell (give either ``random`` or ``p0`` with ``g``)."""

    random: RandomProblemSpec | None = Field(None, description="draw a random discrete problem")
    p0: list[list[float]] | None = Field(None, description="explicit joint table P0[x][y]")
    g: list[int] | None = Field(None, description="explicit signal map: g[x] = index of g(x)")
    collective: CollectiveSpec
    epsilon: float = Field(0.0, ge=0.0, lt=1.0, description="learner suboptimality")
    definition: Literal["contamination", "tv"] = Field("contamination",
                                                       description="meaning of eps-suboptimal")
    target_success: float = Field(0.9, gt=0.0, le=1.0, description="S_t for the critical mass")

    @model_validator(mode="after")
    def _one_problem(self):
        explicit = self.p0 is not None or self.g is not None
        if (self.random is None) == (not explicit):
            raise ValueError("give either `random` or both `p0` and `g`")
        if explicit and (self.p0 is None or self.g is None):
            raise ValueError("an explicit problem needs both `p0` and `g`")
        n_labels = self.random.n_labels if self.random else len(self.p0[0]) if self.p0 else 0
        if self.collective.target >= n_labels:
            raise ValueError(f"collective.target {self.collective.target} is not a label of a "
                             f"problem with {n_labels} labels")
        n_points = self.random.n_points if self.random else len(self.p0)
        if self.epsilon > 0 and n_points > MAX_POINTS:
            raise ValueError(f"epsilon > 0 needs the exact worst case: at most {MAX_POINTS} points")
        if self.epsilon > 0 and self.collective.strategy not in PLANTING_STRATEGIES:
            raise ValueError(f"epsilon > 0 needs the exact worst case, derived for the planting strategies "
                             f"({', '.join(PLANTING_STRATEGIES)}) only, not {self.collective.strategy!r}")
        return self


def build_problem(config: TheoryConfig, seed: int) -> tuple[DiscreteProblem, int | None]:
    """The cell's discrete problem and the seed pair it was drawn with (None if explicit)."""
    target = config.collective.target
    if config.random is None:
        return DiscreteProblem(np.array(config.p0, float), np.array(config.g, dtype=np.int64), target), None
    spec = config.random
    rng = np.random.default_rng([spec.seed, int(seed)])
    problem = DiscreteProblem.random(rng, spec.n_points, spec.n_labels, spec.concentration, target)
    if spec.n_signal_points is None and spec.signal_mass is None:
        return problem, spec.seed
    p0 = problem.p0.copy()
    k = spec.n_signal_points or spec.n_points
    signal = rng.choice(spec.n_points, size=k, replace=False)
    g = signal[rng.integers(0, k, size=spec.n_points)]
    g[signal] = signal  # every chosen point is hit, so X* has exactly k points
    if spec.signal_mass is not None:
        inside = np.isin(np.arange(spec.n_points), signal)
        p0[inside] *= spec.signal_mass / p0[inside].sum()
        p0[~inside] *= (1 - spec.signal_mass) / p0[~inside].sum()
        p0 /= p0.sum()  # guard against rounding
    return DiscreteProblem(p0, g, target), spec.seed


def _signal_label(config: TheoryConfig) -> str:
    mass = config.random.signal_mass if config.random else None
    return "" if mass is None else f", P0(X*)={mass:g}"


def run_cell(cell: Cell) -> ResultRow:
    config = cell.validated_config()
    problem, problem_seed = build_problem(config, cell.seed)
    alpha = config.collective.alpha
    strategy = config.collective.strategy
    eps, definition = config.epsilon, config.definition
    delta, xi = hardt_constants(problem)
    if eps == 0.0:
        success = float(bayes_success(problem, alpha, strategy))
        clean = float(bayes_clean_accuracy(problem, alpha, strategy))
        learner, series = "bayes", "Bayes (exact)" + _signal_label(config)
    else:
        worst = attack(problem, alpha, eps, definition, strategy)
        success = worst.success
        clean = float(accuracy_of_classifier(problem, bayes_classifier(worst.table, against=problem.target)))
        learner = f"eps-suboptimal ({definition})"
        series = f"worst case, eps={eps:g} ({definition})" + _signal_label(config)
    bound = float(population_bound(problem, alpha, strategy, eps, definition))
    alpha_star = population_critical_mass(problem, config.target_success, strategy, eps, definition)
    return ResultRow(
        experiment=cell.experiment, pillar="theory", config=cell.config, seed=cell.seed,
        alpha=alpha, learner=learner, success=success, clean_accuracy=clean, cell_id=cell.cell_id,
        extra={
            "success_theory": success, "success_bound": bound, "success_se": 0.0,
            "series": series, "delta": delta, "xi": xi, "alpha_star": alpha_star,
            "bound_name": BOUND_NAMES[strategy], "goal": get_strategy(strategy).goal.name,
            "target_success": config.target_success, "epsilon": eps, "definition": definition,
            "n_points": problem.n_points, "n_labels": problem.n_labels,
            "problem_seed": math.nan if problem_seed is None else problem_seed,
        },
    )


def run_cells(cells: list[Cell]) -> list[list[ResultRow]]:
    """One row per cell (every quantity is exact, so cells are cheap and run one by one)."""
    return [[run_cell(cell)] for cell in cells]


register_pillar(Pillar(name="theory", config_model=TheoryConfig, run_cells=run_cells))
