"""collective-action: algorithmic collective action against real learning algorithms.

Pillars (one import namespace):

* ``collective_action.theory``    -- sympy derivations of success bounds, critical masses, alpha_eff
* ``collective_action.simulate``  -- batched synthetic experiments on CuPy or NumPy
* ``collective_action.empirical`` -- real SGD / DRO training in PyTorch on real data
* ``collective_action.figures``   -- bound-versus-experiment figures from stored results

The shared vocabulary lives here: :class:`Collective`, the strategies, :class:`DiscreteProblem`,
the result-row schema and experiment files. The names below are imported on first use (PEP 562),
so ``import collective_action.theory`` or the command line does not pay for pandas and pydantic
before it needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "GOALS": "collective", "Collective": "collective", "Erasing": "collective", "FeatureLabel": "collective",
    "FeatureOnly": "collective", "Goal": "collective", "STRATEGIES": "collective", "Unplanting": "collective",
    "get_strategy": "collective",
    "DiscreteProblem": "discrete",
    "InputError": "errors",
    "Cell": "experiment", "Experiment": "experiment", "load_experiment": "experiment",
    "CORE_COLUMNS": "results", "ResultRow": "results", "rows_to_frame": "results",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # the eager imports, for type checkers and IDEs
    from .collective import (GOALS, Collective, Erasing, FeatureLabel, FeatureOnly, Goal, STRATEGIES, Unplanting,
                             get_strategy)
    from .discrete import DiscreteProblem
    from .errors import InputError
    from .experiment import Cell, Experiment, load_experiment
    from .results import CORE_COLUMNS, ResultRow, rows_to_frame


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
