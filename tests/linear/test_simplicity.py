"""Family 3 (simplicity-bias data): generator properties, signal patterns, theory vs measurement."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from collective_action.errors import InputError
from collective_action.results import rows_to_frame
from collective_action.simulate import simplicity as s3
from collective_action.theory.max_margin import hard_margin_svm


def _cfg(**kw):
    return s3.as_config(kw)


def test_generator_blocks_have_the_stated_structure():
    cfg = _cfg(gamma=0.3, k_slabs=5, n_free=3)
    X, y = s3.make_simplicity_data([0, 1], 4000, cfg)
    assert X.shape == (2, 4000, 5) and y.shape == (2, 4000)
    sigma = 2 * y - 1
    # simple block: separable with margin gamma, values in [gamma, 1] on each class's side
    assert (sigma * X[..., 0]).min() >= 0.3 and (sigma * X[..., 0]).max() <= 1.0
    # complex block: the nearest slab centre gives the label (slab j carries label j mod 2)
    centers = s3.slab_centers(5)
    slab = np.abs(X[..., 1][..., None] - centers).argmin(axis=-1)
    assert np.array_equal(slab % 2, y)
    assert np.all(np.abs(X[..., 1] - centers[slab]) <= 0.5 / 4 + 1e-12)
    assert set(np.unique(slab).tolist()) == set(range(5))  # every slab is used
    # free coordinates are exactly zero by default; classes are balanced
    assert np.all(X[..., 2:] == 0)
    assert abs(y.mean() - 0.5) < 0.03


def test_complex_block_is_predictive_but_not_linearly_separable():
    cfg = _cfg(k_slabs=3)
    X, y = s3.make_simplicity_data([3], 300, cfg)
    with pytest.raises(InputError, match="not linearly separable"):
        hard_margin_svm(X[0][:, [1]], y[0], fit_intercept=True)
    hard_margin_svm(X[0][:, [0]], y[0], fit_intercept=True)  # the simple block alone separates


def test_generator_is_per_seed_deterministic():
    cfg = _cfg()
    a, ya = s3.make_simplicity_data([4, 7], 100, cfg)
    b, yb = s3.make_simplicity_data([7], 100, cfg)
    np.testing.assert_array_equal(a[1], b[0])
    np.testing.assert_array_equal(ya[1], yb[0])
    assert not np.array_equal(a[0], a[1])


def test_patterns_are_aligned_or_neutral_as_stated():
    cfg = _cfg(n_free=3, target=1)
    c = s3.class_direction(cfg)
    S = s3.SignalSpec3
    up = s3.pattern_vector(S(placement="simple", pattern="aligned", sign=1, strength=0.7), cfg)
    down = s3.pattern_vector(S(placement="simple", pattern="aligned", sign=-1, strength=0.7), cfg)
    assert up[0] == pytest.approx(0.7) and down[0] == pytest.approx(-0.7)  # y* = 1 sits at x_s > 0
    free = s3.pattern_vector(S(placement="free", pattern="neutral", strength=2.0), cfg)
    assert np.linalg.norm(free) == pytest.approx(2.0) and free @ c[2:] == pytest.approx(0.0)
    assert np.all(s3.pattern_vector(S(placement="simple", pattern="neutral"), cfg) == 0)
    # target 0: aligned+ points to negative x_s
    assert s3.pattern_vector(S(placement="simple", pattern="aligned", sign=1), _cfg(target=0))[0] < 0
    with pytest.raises(InputError, match="no class direction"):
        _cfg(signals=[{"placement": "free", "pattern": "aligned"}])
    with pytest.raises(InputError, match="neutral additive"):
        _cfg(signals=[{"placement": "simple", "pattern": "neutral", "mode": "additive"}])
    with pytest.raises(InputError, match="alphas"):
        _cfg(alphas=[0.0])
    with pytest.raises(InputError, match="unknown key"):
        _cfg(colour="red")


def test_uniqueness_and_gap_estimates():
    cfg = _cfg(gamma=0.2, match_tolerance=0.05)
    X, y = s3.make_simplicity_data([0], 20000, cfg)
    S = s3.SignalSpec3
    # x_s := -0.6 lies inside class 0's range [-1, -0.2]: xi = P(|x_s + 0.6| <= 0.05) = 0.5 * 0.1 / 0.8
    xi, delta = s3.uniqueness_and_gap(S(placement="simple", pattern="aligned", sign=-1, strength=0.6),
                                      cfg, X[0], y[0])
    assert xi == pytest.approx(0.0625, abs=0.006) and delta == 1.0
    # free coordinates: natural data never carry the pattern
    assert s3.uniqueness_and_gap(S(placement="free"), cfg, X[0], y[0]) == (0.0, 0.0)
    assert s3.hardt_bound(0.1, 0.0625, 1.0) == pytest.approx(1 - 9 * 0.0625) and s3.hardt_bound(0.1, 0.0, 1.0) == 1.0


SIGNALS = [
    {"placement": "free", "pattern": "neutral", "strength": 1.5},
    {"placement": "simple", "pattern": "aligned", "sign": 1, "strength": 1.5},
    {"placement": "simple", "pattern": "aligned", "sign": -1, "strength": 1.5},
    {"placement": "complex", "pattern": "neutral", "strength": 1.5},
]


@pytest.fixture(scope="module")
def measured():
    cfg = dict(n_train=300, n_test=1000, alphas=[0.004, 0.02, 0.1], signals=SIGNALS)
    frames = [rows_to_frame(s3.run_simplicity(dict(cfg, steps=steps), [0, 1], "numpy")).assign(T=steps)
              for steps in (60, 1500)]
    return pd.concat(frames, ignore_index=True)


def test_rows_follow_the_schema(measured):
    assert {"series", "success_theory", "success_bound", "success_se", "xi", "delta", "backend",
            "n_train", "n_test", "steps"} <= set(measured.columns)
    assert measured.success.dropna().between(0, 1).all()
    gd = measured[measured.learner == "erm"]
    assert gd.clean_accuracy.notna().all()  # clean accuracy is reported next to success
    assert (gd[gd.alpha == 0.004].clean_accuracy >= 0.97).all()
    assert set(measured.learner) == {"erm", "max-margin"}
    cfg = measured.config.iloc[0]
    assert '"alphas"' in cfg and '"signals"' in cfg  # each row carries its full configuration


def test_free_signal_matches_max_margin_analysis_at_the_steps_used(measured):
    """Stated tolerance: |success - success_theory| <= 0.05 where GD's steps are >= 4 t* (the
    prediction is the max-margin success) or <= t*/4 (the clean separator's success). Between
    2 t* and 4 t* test points still lag (up to 0.13 over 10 seeds; docs/simplicity.md)."""
    gd = measured[(measured.learner == "erm") & (measured.placement == "free")]
    decided = gd[(gd["T"] >= 4 * gd.t_star) | (gd["T"] <= gd.t_star / 4)]
    assert len(decided) >= 6, gd[["alpha", "seed", "T", "t_star"]]
    assert (decided.success - decided.success_theory).abs().max() <= 0.05
    # both regimes occur: the prediction changes with the steps, and GD follows it
    assert (decided["T"] <= decided.t_star / 4).any() and (decided["T"] >= 4 * decided.t_star).any()
    # the max-margin solution fits the free signal at small alpha
    svm = measured[(measured.learner == "max-margin") & (measured.placement == "free") & (measured["T"] == 1500)]
    assert svm[svm.alpha == 0.02].success.min() >= 0.95


def test_aligned_pattern_in_the_simple_block_wins_trivially(measured):
    rows = measured[(measured.learner == "erm") & (measured.series.str.startswith("simple: aligned+"))]
    assert (rows.success == 1.0).all() and (rows.success_theory == 1.0).all()


def test_anti_aligned_pattern_fails_for_linear_learners_though_unique(measured):
    """A finding, measured: x_s := -1.5 is never seen in natural data (xi = 0, so Hardt's bound
    promises a Bayes learner success 1), but no linear separator realises it: GD fails."""
    rows = measured[(measured.learner == "erm") & (measured.series.str.startswith("simple: aligned-"))]
    assert (rows.xi == 0).all() and (rows.success_bound == 1.0).all()
    assert (~rows.separable.astype(bool)).all() and rows.success_theory.isna().all()
    assert rows.success.max() <= 0.02


def test_free_coordinates_need_a_smaller_collective_than_the_complex_block(measured):
    gd = measured[(measured.learner == "erm") & (measured["T"] == 1500)]
    mean = gd.groupby(["placement", "alpha"]).success.mean()
    assert mean[("free", 0.02)] >= 0.9
    assert mean[("complex", 0.02)] <= 0.6
    assert mean[("complex", 0.1)] < mean[("free", 0.1)]


def test_two_runs_give_identical_rows():
    cfg = dict(n_train=120, n_test=200, alphas=[0.05], signals=SIGNALS[:2], steps=50)
    a = rows_to_frame(s3.run_simplicity(cfg, [5], "numpy"))
    b = rows_to_frame(s3.run_simplicity(cfg, [5], "numpy"))
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError, match="seed"):
        s3.run_simplicity(cfg, [], "numpy")


def test_feature_only_free_signal_is_ignored_by_the_max_margin_learner():
    """Theory: feature-only members are all of class y* and already on y*'s side, so the
    max-margin separator puts no weight on the free pattern (nothing to flip: t* = 0) and success
    stays at the share of class y*. GD follows within 0.02; feature-label does not stall."""
    cfg = dict(n_train=300, n_test=1000, alphas=[0.02, 0.1, 0.3], signals=[SIGNALS[0]], steps=1000,
               learners=["gd"])
    only = rows_to_frame(s3.run_simplicity(dict(cfg, strategy="feature-only"), [0, 1], "numpy"))
    assert (only.t_star == 0).all()
    assert (only.success - only.success_theory).abs().max() <= 0.02
    assert only.success.max() <= 0.55
    label = rows_to_frame(s3.run_simplicity(dict(cfg, strategy="feature-label"), [0, 1], "numpy"))
    assert label[label.alpha == 0.1].success.min() >= 0.95
