"""The shared vocabulary: collectives, strategies, discrete problems, result rows."""

import json
import math

import numpy as np
import pytest

from collective_action import Collective, DiscreteProblem, InputError, ResultRow, rows_to_frame
from collective_action.results import CORE_COLUMNS, validate_frame


def small_problem():
    p0 = np.array([[0.2, 0.1], [0.05, 0.25], [0.3, 0.1]])
    return DiscreteProblem(p0=p0, g=np.array([1, 1, 2]), target=1)


def test_feature_label_pushforward_moves_all_mass_to_signal_points_with_target():
    prob = small_problem()
    pstar = prob.pstar("feature-label")
    assert pstar.sum() == pytest.approx(1.0)
    assert pstar[:, 0].sum() == 0.0
    # g sends x=0 and x=1 to 1, x=2 to 2
    assert pstar[1, 1] == pytest.approx(0.3 + 0.3)
    assert pstar[2, 1] == pytest.approx(0.4)
    assert pstar[0, 1] == 0.0


def test_feature_only_pushforward_keeps_non_target_labels_in_place():
    prob = small_problem()
    pstar = prob.pstar("feature-only")
    assert pstar.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(pstar[:, 0], prob.p0[:, 0])
    assert pstar[1, 1] == pytest.approx(0.1 + 0.25)
    assert pstar[2, 1] == pytest.approx(0.1)


def test_mixture_is_a_distribution_and_interpolates():
    prob = small_problem()
    mix = prob.mixture(0.3)
    assert mix.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(mix, 0.7 * prob.p0 + 0.3 * prob.pstar())


def test_signal_law_and_signal_set():
    prob = small_problem()
    np.testing.assert_array_equal(prob.signal_set, [1, 2])
    np.testing.assert_allclose(prob.signal_law, [0.0, 0.6, 0.4])


@pytest.mark.parametrize(
    "p0, g, target, fragment",
    [
        ([[0.5, 0.6]], [0], 0, "sum to 1"),
        ([[-0.1, 1.1]], [0], 0, "non-negative"),
        ([[0.5, 0.5]], [1], 0, "map X into X"),
        ([[0.5, 0.5]], [0], 2, "target"),
        ([[1.0]], [0], 0, "|Y| >= 2"),
    ],
)
def test_discrete_problem_rejects_bad_tables(p0, g, target, fragment):
    with pytest.raises(InputError, match=None) as err:
        DiscreteProblem(p0=np.array(p0), g=np.array(g), target=target)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_collective_validates_alpha_and_strategy():
    with pytest.raises(InputError, match="alpha"):
        Collective(alpha=1.0, target=0, signal=lambda x: x)
    with pytest.raises(InputError, match="strategy"):
        Collective(alpha=0.1, target=0, signal=lambda x: x, strategy="bribe")


def test_plant_in_training_set_replaces_exactly_alpha_n_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3))
    y = rng.integers(0, 3, size=1000)

    def signal(batch):
        out = batch.copy()
        out[:, 2] = 5.0
        return out

    coll = Collective(alpha=0.05, target=2, signal=signal, strategy="feature-label")
    x2, y2, members = coll.plant_in_training_set(x, y, rng)
    assert members.sum() == 50
    assert np.all(x2[members, 2] == 5.0) and np.all(y2[members] == 2)
    np.testing.assert_array_equal(x2[~members], x[~members])
    np.testing.assert_array_equal(y2[~members], y[~members])

    only = Collective(alpha=0.05, target=2, signal=signal, strategy="feature-only")
    x3, y3, m3 = only.plant_in_training_set(x, y, np.random.default_rng(1))
    np.testing.assert_array_equal(y3, y)  # labels never change
    planted = m3 & (y == 2)
    assert np.all(x3[planted, 2] == 5.0)
    np.testing.assert_array_equal(x3[m3 & (y != 2)], x[m3 & (y != 2)])


def test_result_rows_make_a_frame_with_the_core_schema():
    rows = [
        ResultRow("exp", "theory", {"a": 1}, seed=s, alpha=0.1, learner="bayes", success=0.5,
                  extra={"bound": 0.2})
        for s in range(3)
    ]
    frame = rows_to_frame(rows)
    assert tuple(frame.columns[: len(CORE_COLUMNS)]) == CORE_COLUMNS
    assert "bound" in frame.columns
    assert math.isnan(frame["worst_group_accuracy"].iloc[0])
    assert json.loads(frame["config"].iloc[0]) == {"a": 1}
    validate_frame(frame)
    frame.loc[0, "success"] = 1.5
    with pytest.raises(ValueError, match="success"):
        validate_frame(frame)
