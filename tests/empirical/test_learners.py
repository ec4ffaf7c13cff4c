"""Learners on small real data: weights they give, hyper-parameter checks, bookkeeping identities."""

import json
import math

import pytest
import torch

from collective_action import InputError
from collective_action.empirical.config import EmpiricalConfig
from collective_action.algorithms import algorithms_for
from collective_action.algorithms.rules import chi2_weights
from collective_action.empirical.learners import make_learner
from collective_action.empirical.runner import train_once
from collective_action import theory

LEARNERS = algorithms_for("empirical")


def test_chi2_weights_sit_on_the_ball_and_follow_excess_loss():
    torch.manual_seed(0)
    losses = torch.rand(64) * 3
    for rho in (0.1, 1.0, 5.0):
        w, eta = chi2_weights(losses, rho)
        p = w / w.sum()
        divergence = 0.5 * float(((len(p) * p - 1) ** 2).mean())
        assert divergence == pytest.approx(rho, rel=1e-3)
        assert torch.allclose(w, (losses - eta).clamp_min(0) * len(w) / (losses - eta).clamp_min(0).sum())
        assert w.mean() == pytest.approx(1.0)
    w_small, _ = chi2_weights(losses, 0.1)
    w_big, _ = chi2_weights(losses, 5.0)
    assert w_big.max() > w_small.max()  # a larger ball concentrates on the worst losses


def test_hyperparameters_are_checked_and_listed():
    assert set(LEARNERS) == {"erm", "jtt", "cvar", "chi2", "lff", "group-dro", "label-smoothing", "dp-sgd"}
    assert make_learner("jtt", {"upweight": 7}).params.model_dump() == {"T": 1, "upweight": 7.0}
    with pytest.raises(InputError, match="lam"):
        make_learner("jtt", {"lam": 3})
    for name, bad in (("cvar", {"beta": 0}), ("chi2", {"rho": -1}), ("jtt", {"T": 0.5}), ("lff", {"q": 2}),
                      ("group-dro", {"eta_q": 0})):
        with pytest.raises(InputError, match=name):
            make_learner(name, bad)
    with pytest.raises(InputError, match="unknown learning algorithm"):
        make_learner("adam", {})


def _digits_cfg(learner, hparams=None, alpha=0.1, model="mlp", **train):
    return EmpiricalConfig.model_validate({
        "data": {"name": "digits", "val_size": 200},
        "collective": {"alpha": alpha, "target": 3},
        "signal": {"kind": "patch", "place": "corner", "size": 3},
        "learner": {"name": learner, "hparams": hparams or {}},
        "train": {"model": model, "width": 64 if model == "mlp" else None, "epochs": 4, "batch_size": 64,
                  "lr": 0.05, **train},
    })


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_trains_and_logs_the_collectives_weight(name):
    row = train_once(_digits_cfg(name), seed=0)
    assert row.clean_accuracy > 0.6  # digits are easy: every learner must actually learn
    assert 0.0 < row.alpha_eff_measured < 1.0
    traj = json.loads(row.extra["alpha_eff_trajectory"])
    assert len(traj) == 4
    if name == "erm":  # ERM weighs every point 1: the measured share is the realised alpha
        assert row.alpha_eff_measured == pytest.approx(row.extra["alpha_realised"])
    if name != "group-dro":
        assert abs(row.alpha_eff_predicted - row.alpha_eff_measured) < 0.02


def test_jtt_measured_weight_is_theorys_formula_at_measured_error_shares():
    row = train_once(_digits_cfg("jtt", {"T": 1, "upweight": 10}, alpha=0.05, epochs=2), seed=1)
    expected = theory.alpha_eff_jtt(row.extra["alpha_realised"], 10, row.extra["e_star"], row.extra["e0"])
    # Stage-2 weights are fixed, so the ledger must reproduce the formula exactly.
    assert row.alpha_eff_measured == pytest.approx(expected, rel=1e-5)
    assert row.alpha_eff_predicted == pytest.approx(expected, rel=1e-9)


def test_cvar_weight_is_tail_share_over_beta():
    row = train_once(_digits_cfg("cvar", {"beta": 0.25}, alpha=0.1, batch_size=100), seed=2)
    # batches of 100 points keep exactly 25 of them: measured = alpha * q / beta up to the last batch
    expected = row.extra["alpha_realised"] * row.extra["tail_share"] / 0.25
    assert row.alpha_eff_measured == pytest.approx(expected, rel=0.03)


def test_same_seed_same_numbers_on_cpu():
    a = train_once(_digits_cfg("cvar"), seed=5)
    b = train_once(_digits_cfg("cvar"), seed=5)
    assert (a.success, a.clean_accuracy, a.alpha_eff_measured) == (b.success, b.clean_accuracy, b.alpha_eff_measured)
    c = train_once(_digits_cfg("cvar"), seed=6)
    assert (a.clean_accuracy, a.alpha_eff_measured) != (c.clean_accuracy, c.alpha_eff_measured)


@pytest.mark.parametrize("model", ["linear", "mlp", "cnn", "resnet"])
def test_every_model_builds_and_learns_digits(model):
    from collective_action.empirical.models import build_model

    net = build_model(model, (1, 8, 8), 10)
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    row = train_once(_digits_cfg("erm", model=model, epochs=3), seed=0)
    assert row.clean_accuracy > 0.5


def test_models_reject_wrong_inputs():
    from collective_action.empirical.models import build_model

    with pytest.raises(InputError, match="needs images"):
        build_model("cnn", (40,), 10)
    with pytest.raises(InputError, match="unknown model"):
        build_model("vit", (1, 8, 8), 10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_matches_cpu_closely():
    cpu = train_once(_digits_cfg("cvar"), seed=0, device="cpu")
    gpu = train_once(_digits_cfg("cvar"), seed=0, device="cuda")
    assert gpu.extra["device"].startswith("cuda")
    assert abs(cpu.clean_accuracy - gpu.clean_accuracy) < 0.05


def test_test_size_scores_every_seed_on_the_same_test_subset():
    from collective_action.empirical.runner import build_dataset
    from collective_action.empirical.splits import subsample_test

    cfg = _digits_cfg("erm")
    ds = build_dataset(cfg)
    a, b = subsample_test(ds, 120, seed=0), subsample_test(ds, 120, seed=0)
    assert len(a.y_test) == 120 and (a.x_test == b.x_test).all()
    assert not (subsample_test(ds, 120, seed=1).y_test == a.y_test).all()
    assert subsample_test(ds, None, seed=0) is ds and subsample_test(ds, 10**6, seed=0) is ds
    small = cfg.model_copy(update={"data": cfg.data.model_copy(update={"test_size": 120})})
    rows = [train_once(small, seed=s) for s in (0, 1)]
    assert all(r.extra["n_test"] == 120 for r in rows)
    # success is measured over every point of the subset (x ~ P0), attack success over those not
    # of class y* (here 3): the attack set is a subset, so their hit counts are nested
    assert rows[0].extra["success_se"] == pytest.approx(math.sqrt(rows[0].success * (1 - rows[0].success) / 120))
    n_attack = int((a.y_test != 3).sum())
    hits_attack = round(rows[0].attack_success * n_attack)
    assert hits_attack == pytest.approx(rows[0].attack_success * n_attack, abs=1e-6)
    assert round(rows[0].success * 120) >= hits_attack
    with pytest.raises(Exception):
        EmpiricalConfig.model_validate({**cfg.model_dump(), "data": {"name": "digits", "test_size": 5}})
