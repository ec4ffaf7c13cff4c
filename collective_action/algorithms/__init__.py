"""One registry of learning algorithms, shared by every pillar.

``ALGORITHMS[name]`` is the entry (an :class:`Algorithm` subclass); :func:`get_algorithm` builds
one from a name and raw hyper-parameters, validating them (a misspelt or out-of-range key is an
InputError naming it). The weighting rules themselves live in :mod:`.rules`.
"""

from __future__ import annotations

from collective_action.errors import InputError, check_choice
from collective_action.experiment import format_validation_error

from .base import PILLARS, Algorithm, Start, predicted
from .entries import ENTRIES

def check_entry(cls: type[Algorithm]) -> type[Algorithm]:
    """Raise TypeError naming what an entry lacks: a name, a label, a parameter model, a rule, a
    theory function, row columns for its statistic, the pillars that implement it."""
    from collective_action.experiment import StrictModel

    missing = []
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        missing.append("name")
    if not isinstance(getattr(cls, "label", None), str) or not cls.label:
        missing.append("label")
    if not (isinstance(getattr(cls, "Params", None), type) and issubclass(cls.Params, StrictModel)):
        missing.append("Params (a StrictModel)")
    if cls.weigh is Algorithm.weigh:
        missing.append("weigh (its rule)")
    if cls.predict_alpha_eff is Algorithm.predict_alpha_eff:
        missing.append("predict_alpha_eff (its theory function)")
    if cls.statistic is not None and not cls.stat_columns[0]:
        missing.append("stat_columns (row columns of its statistic)")
    if not cls.pillars or not set(cls.pillars) <= PILLARS:
        missing.append(f"pillars (a non-empty subset of {sorted(PILLARS)})")
    if "main" not in cls.models:
        missing.append("a 'main' model")
    if missing:
        raise TypeError(f"algorithm entry {getattr(cls, '__name__', cls)!r} lacks: {', '.join(missing)}")
    return cls


ALGORITHMS: dict[str, type[Algorithm]] = {cls.name: check_entry(cls) for cls in ENTRIES}

#: Names that were renamed; an experiment file using one gets a one-line hint.
RENAMED = {"logistic": "erm"}
RENAMED_PARAMS = {"stage1_steps": "T"}


def algorithms_for(pillar: str) -> tuple[str, ...]:
    """Names of the algorithms a pillar implements."""
    return tuple(name for name, cls in ALGORITHMS.items() if pillar in cls.pillars)


def check_name(name: str, pillar: str | None = None) -> type[Algorithm]:
    if name in RENAMED:
        raise InputError(f"learner {name!r} is now called {RENAMED[name]!r}")
    names = ALGORITHMS if pillar is None else algorithms_for(pillar)
    check_choice("learning algorithm", name, names)
    return ALGORITHMS[name]


def validate_params(name: str, params: dict | None, where: str = "") -> object:
    """The entry's Params model validated from ``params``; InputError naming the bad key."""
    from pydantic import ValidationError

    cls = check_name(name)
    params = dict(params or {})
    for old, new in RENAMED_PARAMS.items():
        if old in params and old not in cls.Params.model_fields and new in cls.Params.model_fields:
            raise InputError(f"{where or name}: parameter {old!r} is now called {new!r}")
    try:
        return cls.Params.model_validate(params)
    except ValidationError as err:
        raise InputError(format_validation_error(err, where or f"algorithm {name!r} params")) from None


def get_algorithm(name: str, params: dict | None = None) -> Algorithm:
    """The entry ``name`` built with validated ``params`` (defaults fill the rest)."""
    cls = check_name(name)
    return cls(validate_params(name, params))


__all__ = ["ALGORITHMS", "Algorithm", "PILLARS", "RENAMED", "Start", "algorithms_for", "check_entry", "check_name",
           "get_algorithm", "predicted", "validate_params"]
