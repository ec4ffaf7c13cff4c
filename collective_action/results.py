"""The result-row schema every pillar returns.

One row per (configuration, seed). Columns that a pillar cannot define (worst-group accuracy
without groups, alpha_eff for ERM) are NaN, never made up. Pillar-specific measurements (a
bound, a Monte Carlo standard error, the measured e*, e0) go into extra columns next to these.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

import pandas as pd

#: Columns every results DataFrame has, in this order.
CORE_COLUMNS = (
    "experiment",
    "pillar",
    "cell_id",
    "config",
    "seed",
    "alpha",
    "learner",
    "success",
    "attack_success",
    "clean_accuracy",
    "worst_group_accuracy",
    "alpha_eff_predicted",
    "alpha_eff_measured",
)


@dataclass
class ResultRow:
    """One (configuration, seed) outcome.

    ``config`` is the full configuration that produced the row (a JSON-able dict); ``success``
    is Pr[f(g(x)) = y*] over x ~ P0 (Hardt et al.'s definition, the one theory predicts), measured
    on fresh test points; ``attack_success`` is the same rate over the test points whose label is
    not y* (the attack-success convention of the poisoning literature); ``clean_accuracy`` is f's accuracy on clean test
    points; ``extra`` holds pillar-specific numbers (each becomes its own column).
    """

    experiment: str
    pillar: str
    config: dict
    seed: int
    alpha: float
    learner: str
    success: float
    clean_accuracy: float = math.nan
    worst_group_accuracy: float = math.nan
    alpha_eff_predicted: float = math.nan
    alpha_eff_measured: float = math.nan
    attack_success: float = math.nan
    cell_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        # field by field: ``asdict`` would deep-copy ``config`` (a large nested dict) only for it
        # to be replaced by its JSON text, and that copy was most of the cost of a sweep's rows
        rec = {f.name: None if f.name == "config" else _copied(getattr(self, f.name))
               for f in fields(self) if f.name != "extra"}
        extra = {key: _copied(value) for key, value in self.extra.items()}
        clash = set(extra) & set(rec)
        if clash:
            raise ValueError(f"extra columns clash with the core schema: {sorted(clash)}")
        rec["config"] = json.dumps(self.config, sort_keys=True, default=_json_default)
        rec.update(extra)
        return rec


def _copied(value):
    """``value`` as ``dataclasses.asdict`` leaves it: scalars as they are, containers copied,
    dataclasses turned into dicts."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copied(v) for v in value)
    return copy.deepcopy(value)


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def rows_to_frame(rows) -> pd.DataFrame:
    """A tidy DataFrame (core columns first) from ResultRow objects or their records."""
    records = [r.to_record() if isinstance(r, ResultRow) else dict(r) for r in rows]
    frame = pd.DataFrame.from_records(records)
    for col in CORE_COLUMNS:
        if col not in frame.columns:
            frame[col] = math.nan
    ordered = list(CORE_COLUMNS) + [c for c in frame.columns if c not in CORE_COLUMNS]
    return frame[ordered]


def validate_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check that ``frame`` follows the schema: core columns present, probabilities in [0, 1]."""
    if "attack_success" not in frame.columns:  # stores written before the column existed
        frame = frame.assign(attack_success=math.nan)
    missing = [c for c in CORE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"results frame lacks core columns: {missing}")
    for col in ("success", "attack_success", "clean_accuracy", "worst_group_accuracy", "alpha_eff_predicted",
                "alpha_eff_measured"):
        vals = pd.to_numeric(frame[col], errors="coerce")
        bad = vals.notna() & ((vals < -1e-12) | (vals > 1 + 1e-12))
        if bad.any():
            raise ValueError(f"column {col} has values outside [0, 1]: {vals[bad].tolist()[:5]}")
    return frame
