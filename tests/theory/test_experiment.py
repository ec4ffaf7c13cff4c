"""The theory pillar: experiment files validate strictly and rows carry exact numbers."""

import math

import pytest

from collective_action import InputError, load_experiment, rows_to_frame
from collective_action.experiments import experiment_files
from collective_action.results import validate_frame
from collective_action.theory import bayes_success, hardt_bound, hardt_constants
from collective_action.theory.experiment import TheoryConfig, build_problem


def _run(exp, quick=True):
    cells = exp.cells(quick=quick)
    return rows_to_frame([r for rows in exp.pillar.run_cells(cells) for r in rows])


THEORY_FILES = [p for p in experiment_files("C1") if load_experiment(p).spec.pillar == "theory"]


def test_theory_files_are_shipped():
    assert len(THEORY_FILES) >= 2, [p.name for p in experiment_files("C1")]


@pytest.mark.parametrize("path", THEORY_FILES, ids=lambda p: p.name)
def test_shipped_theory_files_run_quick_and_bounds_hold(path):
    exp = load_experiment(path)
    frame = validate_frame(_run(exp))
    assert len(frame) >= 2 * len(exp.spec.seeds)
    assert (frame["success_bound"] <= frame["success"] + 1e-9).all()
    assert frame["clean_accuracy"].between(0, 1).all()
    assert frame["seed"].nunique() == len(exp.spec.seeds) >= 3
    assert (frame["success_theory"] == frame["success"]).all()


def test_rows_match_direct_computation():
    exp = load_experiment({
        "name": "t", "pillar": "theory", "seeds": [0, 1, 2],
        "config": {"random": {"n_points": 5, "n_labels": 3, "seed": 7},
                   "collective": {"alpha": 0.2, "target": 1}},
    })
    frame = _run(exp, quick=False)
    for cell, (_, row) in zip(exp.cells(), frame.iterrows()):
        problem, _ = build_problem(TheoryConfig.model_validate(cell.config), cell.seed)
        delta, xi = hardt_constants(problem)
        assert row["success"] == pytest.approx(bayes_success(problem, 0.2))
        assert row["success_bound"] == pytest.approx(hardt_bound(0.2, delta, xi))
        assert (row["delta"], row["xi"]) == pytest.approx((delta, xi))
    assert frame["success"].nunique() > 1  # seeds give different problems


def test_explicit_problem_and_worst_case_rows():
    exp = load_experiment({
        "name": "counterexample", "pillar": "theory", "seeds": [0],
        "config": {"p0": [[0.3, 0.2], [0.1, 0.4], [0.0, 0.0]], "g": [2, 2, 2],
                   "collective": {"alpha": 0.1}, "epsilon": 0.05},
        "grid": {"definition": ["contamination", "tv"]},
    })
    frame = _run(exp, quick=False)
    assert list(frame["success"]) == [1.0, 0.0]
    assert frame["success_bound"].iloc[0] == pytest.approx(1 - 0.05 / 0.95 / 0.1)
    assert math.isnan(frame["problem_seed"].iloc[0])


@pytest.mark.parametrize("config, fragment", [
    ({"random": {"n_points": 3}, "collective": {"alpha": 0.1}, "bogus": 1}, "bogus"),
    ({"collective": {"alpha": 0.1}}, "either"),
    ({"random": {"n_points": 3, "n_labels": 2}, "collective": {"alpha": 0.1, "target": 5}}, "target"),
    ({"random": {"n_points": 3}, "collective": {"alpha": 0.1}, "definition": "l2"}, "definition"),
    ({"random": {"n_points": 3}, "collective": {"alpha": 0.1}, "epsilon": 1.0}, "epsilon"),
    ({"random": {"n_points": 40}, "collective": {"alpha": 0.1}, "epsilon": 0.1}, "at most"),
])
def test_bad_configs_are_rejected_with_the_field_named(config, fragment):
    with pytest.raises(InputError) as err:
        load_experiment({"name": "bad", "pillar": "theory", "seeds": [0], "config": config})
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_explicit_table_must_be_a_distribution():
    exp = load_experiment({"name": "x", "pillar": "theory", "seeds": [0],
                           "config": {"p0": [[0.5, 0.6]], "g": [0], "collective": {"alpha": 0.1}}})
    with pytest.raises(InputError, match="sum to 1"):
        _run(exp, quick=False)


def test_signal_mass_and_signal_points_shape_the_random_problem():
    config = TheoryConfig.model_validate({
        "random": {"n_points": 8, "n_labels": 3, "n_signal_points": 2, "signal_mass": 0.03},
        "collective": {"alpha": 0.1}})
    for seed in range(20):
        problem, _ = build_problem(config, seed)
        assert len(problem.signal_set) == 2
        assert hardt_constants(problem)[1] == pytest.approx(0.03)
    with pytest.raises(Exception, match="n_signal_points < n_points"):
        TheoryConfig.model_validate({"random": {"n_points": 3, "signal_mass": 0.1},
                                     "collective": {"alpha": 0.1}})
