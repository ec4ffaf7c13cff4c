"""JTT's stage-1 model is trained once per (data, random state, model, SGD settings, T) and reused for
every upweight, without changing any number."""

from __future__ import annotations

import pytest

from collective_action.empirical import stage1_cache
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.runner import train_once

NUMBERS = ("success", "clean_accuracy", "alpha_eff_measured", "alpha_eff_predicted", "attack_success")


def _cfg(upweight, T=1, **data):
    return EmpiricalConfig.model_validate({
        "data": {"name": "digits", "val_size": 200, **data},
        "collective": {"alpha": 0.05, "target": 3},
        "signal": {"kind": "patch", "place": "corner", "size": 3},
        "learner": {"name": "jtt", "hparams": {"T": T, "upweight": upweight}},
        "train": {"model": "mlp", "width": 64, "epochs": 2, "batch_size": 64, "lr": 0.05},
    })


def _numbers(row):
    return tuple(getattr(row, k) for k in NUMBERS) + (row.extra["e_star"], row.extra["e0"])


@pytest.fixture(autouse=True)
def empty_cache():
    stage1_cache.clear()
    yield
    stage1_cache.clear()


def test_reused_stage1_gives_the_numbers_of_a_fresh_one():
    fresh = {}
    for upweight in (5, 20):
        stage1_cache.clear()
        fresh[upweight] = _numbers(train_once(_cfg(upweight), seed=2))
    stage1_cache.clear()
    reused = {upweight: _numbers(train_once(_cfg(upweight), seed=2)) for upweight in (5, 20)}
    assert stage1_cache.stats == {"hits": 1, "misses": 1}
    assert reused == fresh
    assert fresh[5] != fresh[20]   # the upweight matters: the reused stage 1 is not the whole run


def test_anything_stage1_depends_on_gives_a_new_stage1():
    train_once(_cfg(5), seed=2)
    train_once(_cfg(5), seed=3)            # another seed: other data order and initialisation
    train_once(_cfg(5, T=2), seed=2)       # another stage-1 length
    assert stage1_cache.stats == {"hits": 0, "misses": 3}
    train_once(_cfg(9, T=2), seed=2)
    assert stage1_cache.stats == {"hits": 1, "misses": 3}
