"""The flag logic on constructed rows: each check fires on its bug and stays quiet otherwise."""

from __future__ import annotations

import math

from collective_action.assess import assess_row as assess, mean_se, tightness


def test_bound_below_measurement_is_not_flagged():
    a = assess(success=0.8, success_se=0.01, bound=0.79, exact=0.8)
    assert a.flags == []


def test_bound_above_measurement_beyond_error_is_a_violation_and_names_the_formula():
    a = assess(success=0.5, success_se=0.01, bound=0.7, exact=0.5, assumption="Bayes learner")
    assert a.flags == ["VIOLATION"]
    assert "wrong formula" in a.cause_text


def test_violation_within_monte_carlo_error_is_not_flagged():
    assert assess(success=0.5, success_se=0.05, bound=0.6).flags == []  # 2 SE: noise


def test_learner_below_exact_success_blames_the_learner_not_the_bound():
    a = assess(success=0.5, success_se=0.01, bound=0.6, exact=0.9, assumption="Bayes learner")
    assert a.flags == ["VIOLATION"]
    assert "not the one the bound assumes" in a.cause_text


def test_exact_prediction_that_disagrees_is_a_bug():
    a = assess(success=0.5, success_se=0.01, exact=0.6, exact_applies=True, expected=("success",))
    assert a.flags == ["VIOLATION"] and "bug" in a.cause_text
    assert assess(success=0.5, success_se=0.01, exact=0.6, exact_applies=False, expected=("success",)).flags == []


def test_alpha_eff_mismatch_and_nan_and_not_converged():
    a = assess(success=0.5, success_se=0.01, alpha_eff_predicted=0.1, alpha_eff_measured=0.2,
               expected=("success", "alpha_eff_measured"))
    assert a.flags == ["VIOLATION"]
    b = assess(success=math.nan, success_se=math.nan, bound=0.3)
    assert b.flags == ["NAN"] and "success" in b.cause_text
    c = assess(success=0.5, success_se=0.01, bound=0.1, not_converged_share=0.5, convergence_note="gradient")
    assert c.flags == ["NOT_CONVERGED"] and "50%" in c.cause_text


def test_tightness_and_interval():
    assert tightness(0.5, 1.0) == 0.5
    assert math.isnan(tightness(0.5, 0.0)) and math.isnan(tightness(math.nan, 1.0))
    m, lo, hi, se = mean_se([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert (m, lo, hi, se) == (1.0, 1.0, 1.0, 0.0)
    m, lo, hi, se = mean_se([0.4, 0.5, 0.6], [0.01] * 3)
    assert lo < 0.4 and hi > 0.6 and abs(se - 0.1 / math.sqrt(3)) < 1e-12


def test_loose_fires_only_below_the_threshold_and_only_when_asked():
    assert assess(success=0.9, success_se=0.01, bound=0.05).flags == []
    a = assess(success=0.9, success_se=0.01, bound=0.05, loose_below=0.1)
    assert a.flags == ["LOOSE"] and "loose" in a.cause_text
    assert assess(success=0.9, success_se=0.01, bound=0.2, loose_below=0.1).flags == []
    assert assess(success=0.9, success_se=0.01, bound=-1.0, loose_below=0.1).flags == []  # vacuous, not loose


def test_z_sets_how_many_standard_errors_a_gap_must_exceed():
    assert assess(success=0.5, success_se=0.01, bound=0.52, z=3.0).flags == []
    assert assess(success=0.5, success_se=0.01, bound=0.52, z=1.0).flags == ["VIOLATION"]
