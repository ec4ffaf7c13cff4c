"""A result row's record: the same columns, values and order as ``dataclasses.asdict`` gave, with
the configuration as JSON text, and containers copied so the record never aliases the row."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from collective_action.results import ResultRow, _json_default


@dataclass
class _Settings:
    lr: float
    steps: int


def _asdict_record(row: ResultRow) -> dict:
    """The former implementation."""
    rec = asdict(row)
    extra = rec.pop("extra")
    rec["config"] = json.dumps(row.config, sort_keys=True, default=_json_default)
    rec.update(extra)
    return rec


def _row() -> ResultRow:
    config = {"learner": {"name": "jtt", "params": {"T": 50, "upweight": [20, 40]}}, "n_train": 200,
              "alphas": np.array([0.1, 0.2])}
    return ResultRow("exp", "simulate", config, seed=3, alpha=0.1, learner="jtt", success=0.75,
                     clean_accuracy=0.9, cell_id="abc",
                     extra={"series": "JTT", "trajectory": [0.1, 0.2], "measured": {"e0": 0.02, "rows": [1, 2]},
                            "pair": (1, 2), "settings": _Settings(0.5, 10), "n": np.int64(7), "x": math.nan})


def test_the_record_equals_the_asdict_record_key_for_key():
    row = _row()
    got, want = row.to_record(), _asdict_record(row)
    assert list(got) == list(want)
    for key in want:
        if isinstance(want[key], float) and math.isnan(want[key]):
            assert math.isnan(got[key])
        else:
            assert got[key] == want[key] and type(got[key]) is type(want[key]), key
    assert got["settings"] == {"lr": 0.5, "steps": 10}
    assert json.loads(got["config"])["alphas"] == [0.1, 0.2]


def test_the_record_does_not_alias_the_row():
    row = _row()
    rec = row.to_record()
    rec["trajectory"].append(9.0)
    rec["measured"]["rows"].append(3)
    assert row.extra["trajectory"] == [0.1, 0.2] and row.extra["measured"]["rows"] == [1, 2]
