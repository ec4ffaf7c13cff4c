"""collective-action: algorithmic collective action against real learning algorithms.

Pillars (one import namespace):

* ``collective_action.theory``    -- sympy derivations of success bounds, critical masses, alpha_eff
* ``collective_action.simulate``  -- batched synthetic experiments on CuPy or NumPy
* ``collective_action.empirical`` -- real SGD / DRO training in PyTorch on real data
* ``collective_action.figures``   -- bound-versus-experiment figures from stored results

The shared vocabulary lives here: :class:`Collective`, the strategies, :class:`DiscreteProblem`,
the result-row schema and experiment files.
"""

from ._version import __version__
from .collective import (GOALS, Collective, Erasing, FeatureLabel, FeatureOnly, Goal, STRATEGIES, Unplanting,
                         get_strategy)
from .discrete import DiscreteProblem
from .errors import InputError
from .experiment import Cell, Experiment, load_experiment
from .results import CORE_COLUMNS, ResultRow, rows_to_frame

__all__ = [
    "__version__",
    "Cell",
    "Collective",
    "CORE_COLUMNS",
    "DiscreteProblem",
    "Erasing",
    "Experiment",
    "FeatureLabel",
    "FeatureOnly",
    "GOALS",
    "Goal",
    "InputError",
    "ResultRow",
    "STRATEGIES",
    "Unplanting",
    "get_strategy",
    "load_experiment",
    "rows_to_frame",
]
