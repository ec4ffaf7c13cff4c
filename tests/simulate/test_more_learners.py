"""Group DRO, the max-margin learner against a reference solver, and family 3 delegation."""

from __future__ import annotations

import numpy as np

from collective_action.simulate import run


def test_group_dro_weights_follow_the_groups():
    spec = {"name": "gdro", "pillar": "simulate", "seeds": 2,
            "config": {"family": "gaussian", "collective": {"alpha": 0.01, "target": 1},
                       "learner": {"name": "group-dro", "params": {"steps": 150, "eta_q": 2.0, "rounds": 3}},
                       "n_train": 800, "n_test": 1000,
                       "gaussian": {"separation": 4.0, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 4.0}}},
            "grid": {"collective.alpha": [0.01, 0.3]}}
    df = run(spec, backend="numpy")
    assert np.all(np.abs(df.alpha_eff_measured - df.alpha_eff_predicted) <= 0.02)
    # a 30% collective labelled y* swells group y*; group DRO spreads that group's weight q_y*
    # over more points, so the collective gets less than its share
    big = df[df.alpha == 0.3]
    assert (big.alpha_eff_measured < big.alpha_realised).all()
    assert df.worst_group_accuracy.le(df.clean_accuracy + 1e-12).all()


def test_max_margin_learner_points_along_the_hard_margin_svm():
    from collective_action.simulate.backend import get_backend
    from collective_action.simulate.gaussian import make_problem, sample_batch
    from collective_action.simulate.learners import MaxMargin, MaxMarginParams
    from collective_action.theory.max_margin import binary_direction, direction_angle, hard_margin_svm

    problem = make_problem(n_classes=2, d_class=2, separation=8.0, sigma=1.0, n_free=1, tau=1.0,
                           placement="free", n_coords=1, amplitude=6.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    batch = sample_batch(problem, [0.05, 0.1], [0, 1], 60, 200)
    short = MaxMargin().fit(batch, [MaxMarginParams(steps=20)] * 2, get_backend("numpy"))
    long = MaxMargin().fit(batch, [MaxMarginParams(steps=20000)] * 2, get_backend("numpy"))
    for c in range(2):
        ref = hard_margin_svm(batch.X[c], batch.y[c], fit_intercept=True).direction
        a_short = direction_angle(binary_direction(short.model)[c], ref)
        a_long = direction_angle(binary_direction(long.model)[c], ref)
        assert a_long < a_short and a_long < 0.15, (a_short, a_long)


def test_family3_is_delegated_with_cell_identity():
    spec = {"name": "s3", "pillar": "simulate", "seeds": 2,
            "config": {"family": "simplicity", "collective": {"alpha": 0.05, "target": 1},
                       "learner": {"name": "erm", "params": {"steps": 100}},
                       "simplicity": {"n_train": 200, "n_test": 200, "signals": [{"placement": "free"}]}},
            "grid": {"collective.alpha": [0.05, 0.2]}}
    df = run(spec, backend="numpy")
    assert len(df) == 4 and (df.experiment == "s3").all() and df.cell_id.nunique() == 4
    assert df.success.between(0, 1).all() and df.clean_accuracy.notna().all()


def test_logistic_learner_with_the_newton_solver_matches_long_gd_and_rejects_l2_zero():
    import pytest

    from collective_action.errors import InputError

    def spec(params):
        return {"name": "newton", "pillar": "simulate", "seeds": 2,
                "config": {"family": "gaussian", "collective": {"alpha": 0.02, "target": 1},
                           "learner": {"name": "erm", "params": params},
                           "n_train": 400, "n_test": 2000,
                           "gaussian": {"separation": 3.0, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 3.0}}},
                "grid": {"collective.alpha": [0.005, 0.05]}}
    newton = run(spec({"solver": "newton", "steps": 30, "l2": 0.01}), backend="numpy")
    gd = run(spec({"steps": 20000, "lr": 2.0, "l2": 0.01}), backend="numpy")
    assert (newton.series == "ERM (logistic, Newton)").all()
    # the same penalised optimum: the same predictions on the 2000 signal and clean test points
    np.testing.assert_allclose(newton.success.to_numpy(), gd.success.to_numpy(), atol=1e-3)
    np.testing.assert_allclose(newton.clean_accuracy.to_numpy(), gd.clean_accuracy.to_numpy(), atol=1e-3)
    with pytest.raises(InputError, match="newton"):
        run(spec({"solver": "newton", "steps": 30}), backend="numpy")
