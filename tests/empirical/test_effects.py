"""The pillar's claims on Fashion-MNIST with real training (MLP 784-256-10 on a 20k subset).

Assertions are on seed averages or on plateaus (far below / far above the threshold), never on
one noisy point near it. The full-size CNN version is the slow test at the bottom.
"""

import numpy as np
import pytest

from collective_action.empirical import data
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.runner import train_once

pytestmark = pytest.mark.skipif(not (data.FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
                                reason="dataset-fashion-mnist is not installed")

JTT = {"T": 1, "upweight": 5}
CVAR = {"beta": 0.2}
SMALL, LARGE = 0.004, 0.2


def _cfg(learner="erm", hparams=None, alpha=0.01, model="mlp", train_size=20000, **train):
    return EmpiricalConfig.model_validate({
        "data": {"name": "fashion-mnist", "train_size": train_size, "val_size": 1000},
        "collective": {"alpha": alpha, "target": 0, "strategy": "feature-label"},
        "signal": {"kind": "patch", "place": "corner", "size": 3},
        "learner": {"name": learner, "hparams": hparams or {}},
        "train": {"model": model, "epochs": 3, "batch_size": 128, "lr": 0.05, "momentum": 0.9, **train},
    })


_CACHE = {}


def runs(learner, hparams, alpha, seeds, no_collective=False):
    key = (learner, tuple(sorted((hparams or {}).items())), alpha, tuple(seeds), no_collective)
    if key not in _CACHE:
        _CACHE[key] = [train_once(_cfg(learner, hparams, alpha), s, no_collective=no_collective) for s in seeds]
    return _CACHE[key]


def mean(rows, col):
    return float(np.mean([getattr(r, col) if hasattr(r, col) else r.extra[col] for r in rows]))


def test_erm_success_rises_from_zero_to_one_and_clean_accuracy_holds():
    tiny = runs("erm", {}, 0.0005, [0, 1])
    big = runs("erm", {}, 0.05, [0, 1])
    base = runs("erm", {}, 0.05, [0, 1], no_collective=True)  # same subsets and seeds, no collective
    assert mean(tiny, "attack_success") < 0.1
    assert mean(big, "attack_success") > 0.8
    assert abs(mean(big, "clean_accuracy") - mean(base, "clean_accuracy")) < 0.015
    assert mean(base, "attack_success") < 0.05  # the patch alone does not push clean models to y*


# CVaR's success gain at alpha 0.004 is about +0.08 with a seed-to-seed spread of 0.1 (20 seeds:
# 0.171 vs ERM 0.092), so its check averages 8 seeds with a margin of 0.03; JTT's gain is larger.
@pytest.mark.parametrize("learner, hparams, seeds, margin", [("jtt", JTT, 3, 0.08), ("cvar", CVAR, 8, 0.03)])
def test_dro_amplifies_small_collectives(learner, hparams, seeds, margin):
    erm = runs("erm", {}, SMALL, list(range(seeds)))
    dro = runs(learner, hparams, SMALL, list(range(seeds)))
    assert all(r.alpha_eff_measured > 2 * r.extra["alpha_realised"] for r in dro)
    assert mean(dro, "attack_success") > mean(erm, "attack_success") + margin
    if learner == "jtt":  # amplification happens because stage 1 misses the collective
        assert all(r.extra["e_star"] > r.extra["e0"] for r in dro)


@pytest.mark.parametrize("learner, hparams", [("jtt", JTT), ("cvar", CVAR)])
def test_dro_dilutes_large_collectives(learner, hparams):
    dro = runs(learner, hparams, LARGE, [0, 1])
    assert all(r.alpha_eff_measured < 0.75 * r.extra["alpha_realised"] for r in dro)
    if learner == "jtt":
        assert all(r.extra["e_star"] < r.extra["e0"] for r in dro)


def test_jtt_with_a_fully_trained_stage_one_dilutes_in_success():
    # Stage 1 = the full 3-epoch ERM run: it has already fitted the collective (e* < e0), so the
    # error set excludes it and its weight drops below alpha -- and success drops below ERM's.
    jtt = runs("jtt", {"T": 3, "upweight": 5}, 0.02, [0, 1])
    erm = runs("erm", {}, 0.02, [0, 1])
    assert all(r.extra["e_star"] < r.extra["e0"] and r.alpha_eff_measured < 0.02 for r in jtt)
    assert mean(erm, "attack_success") > 0.85
    assert mean(jtt, "attack_success") < mean(erm, "attack_success") - 0.2


@pytest.mark.parametrize("learner, hparams", [("jtt", JTT), ("cvar", CVAR)])
def test_measured_alpha_eff_matches_theory_from_measured_statistics(learner, hparams):
    for alpha, seeds in ((SMALL, [0, 1, 2]), (LARGE, [0, 1])):
        for row in runs(learner, hparams, alpha, seeds):
            assert abs(row.alpha_eff_measured - row.alpha_eff_predicted) < 0.02


def test_cvar_weights_move_with_the_model_epoch_by_epoch():
    import json

    (row,) = runs("cvar", CVAR, LARGE, [0])
    traj = json.loads(row.extra["alpha_eff_trajectory"])
    assert len(traj) == 3
    # In epoch 1 the signal is still being learned (collective over-represented in the tail);
    # once fitted, its points leave the tail and its weight collapses.
    assert traj[0] > 1.5 * min(traj[1:])


def test_erm_small_cnn_success_rises_and_clean_accuracy_holds():
    # The default-suite CNN version (the full-size one is the slow test below): an 8/16-channel
    # CNN on 5k images, scored on a fixed 1k test subset, 3 seeds. Tolerances are for small data:
    # clean accuracy moves by a few points between seeds, so the comparison is paired by seed
    # (same subset, initialisation and batch order, no collective) and made on the mean.
    def cnn(alpha, seed, no_collective=False):
        cfg = EmpiricalConfig.model_validate({
            "data": {"name": "fashion-mnist", "train_size": 5000, "test_size": 1000, "val_size": 200},
            "collective": {"alpha": alpha, "target": 0},
            "signal": {"kind": "patch", "place": "corner", "size": 3},
            "learner": {"name": "erm"},
            "train": {"model": "cnn", "width": 8, "epochs": 3, "lr": 0.05, "momentum": 0.9},
        })
        return train_once(cfg, seed, no_collective=no_collective)

    seeds = (0, 1, 2)
    tiny = [cnn(0.0004, s) for s in seeds]          # 2 of 5000 images
    big = [cnn(0.1, s) for s in seeds]
    base = [cnn(0.1, s, no_collective=True) for s in seeds]
    assert mean(tiny, "attack_success") < 0.1, mean(tiny, "attack_success")
    assert mean(big, "attack_success") > 0.8, mean(big, "attack_success")
    assert abs(mean(big, "clean_accuracy") - mean(base, "clean_accuracy")) < 0.03


@pytest.mark.slow
def test_erm_cnn_full_fashion_mnist_threshold():
    def cnn(alpha, seed, no_collective=False):
        return train_once(_cfg("erm", {}, alpha, model="cnn", train_size=None), seed, no_collective=no_collective)

    tiny = [cnn(0.0001, s) for s in (0, 1)]
    big = [cnn(0.03, s) for s in (0, 1)]
    base = [cnn(0.03, s, no_collective=True) for s in (0, 1)]
    assert mean(tiny, "attack_success") < 0.1
    assert mean(big, "attack_success") > 0.9
    assert abs(mean(big, "clean_accuracy") - mean(base, "clean_accuracy")) < 0.01


def _spurious(learner, hparams, alpha, seed):
    cfg = EmpiricalConfig.model_validate({
        "data": {"name": "spurious", "val_size": 1000},
        "collective": {"alpha": alpha, "target": 0},
        "signal": {"kind": "patch", "place": [4, 4], "size": 3},
        "learner": {"name": learner, "hparams": hparams},
        "train": {"model": "mlp", "epochs": 3},
    })
    return train_once(cfg, seed)


def test_spurious_set_is_a_real_spurious_benchmark_and_jtt_amplifies_there():
    erm = [_spurious("erm", {}, 0.001, s) for s in (0, 1)]
    gdro = [_spurious("group-dro", {}, 0.001, s) for s in (0, 1)]
    jtt = [_spurious("jtt", JTT, 0.001, s) for s in (0, 1)]
    # ERM leans on the frame: its worst group is far below its average; group DRO lifts it.
    assert mean(erm, "worst_group_accuracy") < mean(erm, "clean_accuracy") - 0.2
    assert mean(gdro, "worst_group_accuracy") > mean(erm, "worst_group_accuracy") + 0.1
    # JTT's error set is the minority groups plus the collective: the collective is amplified.
    assert all(r.extra["e_star"] > r.extra["e0"] and r.alpha_eff_measured > 2 * r.extra["alpha_realised"]
               for r in jtt)
    assert mean(jtt, "attack_success") > mean(erm, "attack_success")
