"""C4 on dominoes, quick configuration: the place of the signal changes the alpha needed.

Measured (MLP, 10k dominoes, 3 epochs, alpha = 0.01, seeds 0-2): a patch in the free margin or
in the simple half succeeds, the same patch in the complex (Fashion-MNIST) half does not yet --
the complex half's natural pixel variation hides the pattern. At alpha = 0.05 every place works.
"""

import numpy as np
import pytest

from collective_action.empirical import data
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.runner import train_once

pytestmark = pytest.mark.skipif(not (data.FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
                                reason="dataset-fashion-mnist is not installed")


def _success(place, alpha, seeds):
    out = []
    for seed in seeds:
        cfg = EmpiricalConfig.model_validate({
            "data": {"name": "dominoes", "train_size": 10000},
            "collective": {"alpha": alpha, "target": 0},
            "signal": {"kind": "patch", "place": place, "size": 3},
            "learner": {"name": "erm"},
            "train": {"model": "mlp", "epochs": 3},
        })
        row = train_once(cfg, seed)
        assert row.clean_accuracy > 0.98  # the bar alone solves the task
        out.append(row.attack_success)  # the convention the dominoes claim is stated in
    return float(np.mean(out))


def test_signal_place_orders_the_alpha_needed():
    seeds = [0, 1, 2]
    margin, simple, complex_ = (_success(p, 0.01, seeds) for p in ("margin", "simple", "complex"))
    assert complex_ < 0.3
    assert margin > complex_ + 0.4 and simple > complex_ + 0.2
    assert _success("complex", 0.05, [0]) > 0.9  # the complex half works with a larger collective
