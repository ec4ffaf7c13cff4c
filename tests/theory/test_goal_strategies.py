"""The unplanting and erasing strategies and the goals in the vocabulary, and theory's exact
success of every goal on discrete problems (collective_action/collective.py, theory/bayes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from collective_action import Collective, DiscreteProblem, InputError
from collective_action.collective import ERASE, PLANT, PLANTING_STRATEGIES, STRATEGIES, UNPLANT, get_strategy
from collective_action.theory import bayes_success, bayes_success_by_enumeration
from collective_action.theory.bayes import goal_classifier, mixture_tables

P0 = np.array([[0.20, 0.10, 0.05], [0.05, 0.25, 0.05], [0.10, 0.02, 0.18]])
G = np.array([1, 1, 2])


def test_registry_keeps_the_planting_strategies_and_adds_the_goals():
    assert list(STRATEGIES)[:2] == ["feature-label", "feature-only"]
    assert PLANTING_STRATEGIES == ("feature-label", "feature-only")
    assert {n: get_strategy(n).goal for n in STRATEGIES} == {
        "feature-label": PLANT, "feature-only": PLANT, "unplanting": UNPLANT, "erasing": ERASE}


def test_goal_ties_go_against_the_collective():
    scores = np.array([[3, 3, 0], [0, 0, 0], [5, 1, 2], [1, 4, 4]])
    assert PLANT.predict(scores, 0).tolist() == [1, 1, 0, 1]      # y* must win strictly
    assert UNPLANT.predict(scores, 0).tolist() == [0, 0, 0, 1]    # y* keeps every tie
    assert UNPLANT.predict(scores, 1).tolist() == [1, 1, 0, 1]
    assert ERASE.predict(scores, 0).tolist() == [0, 0, 0, 1]      # first maximiser
    f_signal, f_clean = np.array([0, 1, 2]), np.array([0, 2, 2])
    assert PLANT.hits(f_signal, f_clean, 1).tolist() == [False, True, False]
    assert UNPLANT.hits(f_signal, f_clean, 1).tolist() == [True, False, True]
    assert ERASE.hits(f_signal, f_clean, 1).tolist() == [True, False, True]


def test_population_labels_and_pushforwards_by_hand():
    problem = DiscreteProblem(P0, G, target=0)
    # unplanting: the best label other than y* = 0 at each point
    assert problem.collective_labels("unplanting").tolist() == [1, 1, 2]
    assert problem.collective_labels("erasing").tolist() == [0, 1, 2]
    un = problem.pstar("unplanting")
    assert un.sum() == pytest.approx(1.0)
    assert un[1, 1] == pytest.approx(0.35 + 0.35) and un[2, 2] == pytest.approx(0.30)
    assert un[:, 0].sum() == 0.0  # y* is never reported
    er = problem.pstar("erasing")
    # x = 0 and x = 1 report y~(g(x)) = y~(1) = 1 at their own point, x = 2 reports y~(2) = 2
    expected = np.zeros_like(P0)
    expected[0, 1], expected[1, 1], expected[2, 2] = 0.35, 0.35, 0.30
    np.testing.assert_allclose(er, expected)
    with pytest.raises(InputError, match="other than y"):
        problem.pstar("unplanting", labels=np.array([1, 0, 2]))  # y* at a signal point


def test_apply_on_samples_matches_the_pushforward():
    """Row-level apply on a large sample of (x, y) and its empirical table = pushforward (within
    sampling error), with the collective's labels given as a lookup (labeler)."""
    rng = np.random.default_rng(0)
    problem = DiscreteProblem(P0, G, target=0)
    cells = rng.choice(P0.size, size=200_000, p=P0.ravel())
    x, y = np.divmod(cells, P0.shape[1])
    for name in ("feature-label", "feature-only", "unplanting", "erasing"):
        labels = problem.collective_labels(name)
        labeler = None if labels is None else (lambda pts, lab=labels: lab[pts])
        coll = Collective(alpha=0.5, target=0, signal=lambda pts: G[pts], strategy=name, labeler=labeler)
        xr, yr = coll.apply(x, y)
        table = np.zeros_like(P0)
        np.add.at(table, (xr, yr), 1.0 / len(y))
        np.testing.assert_allclose(table, problem.pstar(name), atol=5e-3)


def test_adaptive_strategies_need_a_labeler_that_respects_the_goal():
    coll = Collective(alpha=0.1, target=0, signal=lambda pts: pts, strategy="unplanting")
    with pytest.raises(InputError, match="labeler"):
        coll.apply(np.array([[0], [1]]), np.array([0, 1]))
    bad = Collective(alpha=0.1, target=0, signal=lambda pts: pts, strategy="unplanting",
                     labeler=lambda pts: np.zeros(len(pts), dtype=int))
    with pytest.raises(InputError, match="never y"):
        bad.apply(np.array([[0], [1]]), np.array([0, 1]))
    with pytest.raises(InputError, match="labeler"):
        Collective(alpha=0.1, target=0, signal=lambda p: p, strategy="erasing").apply(np.array([[0]]), np.array([1]))


def test_exact_success_of_each_goal_by_hand():
    problem = DiscreteProblem(P0, G, target=0)
    alpha = 0.3
    for name in ("unplanting", "erasing"):
        table = problem.mixture(alpha, name)
        f = goal_classifier(problem, table, name)
        hits = get_strategy(name).goal.hits(f[G], f, 0)
        assert bayes_success(problem, alpha, name) == pytest.approx(float((hits * problem.marginal).sum()))
    # by hand, unplanting at alpha = 0.3: point 1 scores y*=0: 0.035, label 1: 0.175 + 0.21 -> not y*;
    # point 2: y*: 0.07, label 2: 0.126 + 0.09 -> not y*: success 1
    assert bayes_success(problem, 0.3, "unplanting") == pytest.approx(1.0)
    # erasing at alpha = 0.3: f(1) = 1 and f(2) = 2; x = 0 needs f(0) = 1: 0.7*0.1 + 0.3*0.35 = 0.175 > 0.14
    assert bayes_success(problem, 0.3, "erasing") == pytest.approx(1.0)
    # at tiny alpha x = 0 keeps its own label 0 != f(g(0)) = 1: success 1 - P0(0) = 0.65
    assert bayes_success(problem, 1e-3, "erasing") == pytest.approx(0.65)


def test_adaptive_success_uses_the_labels_played():
    problem = DiscreteProblem(P0, G, target=0)
    worse = np.array([1, 2, 1])  # a poorer estimate of y^ at point 1
    assert bayes_success(problem, 0.05, "unplanting", labels=worse) <= bayes_success(problem, 0.05, "unplanting")
    np.testing.assert_allclose(mixture_tables(problem, 0.2, "unplanting", worse).sum(), 1.0)
    assert bayes_success_by_enumeration(problem, np.array([0.01, 0.5]), "erasing").shape == (2,)


def test_unplanting_success_is_one_minus_planting_y_star_for_the_same_classifier():
    rng = np.random.default_rng(3)
    for _ in range(200):
        problem = DiscreteProblem.random(rng, 5, 3, target=int(rng.integers(3)))
        table = problem.mixture(0.2, "unplanting")
        f = goal_classifier(problem, table, "unplanting")
        assert problem.success_of(f, "unplanting") == pytest.approx(1 - problem.success_of(f, "feature-label"))


def test_plant_in_training_set_fits_the_labels_on_the_members_own_rows():
    """With an estimator (here: the members' count table at each point), the collective plays the
    labels of its own sample: unplanting from n_est of its members, erasing from all of them."""
    rng = np.random.default_rng(5)
    cells = rng.choice(P0.size, size=5000, p=P0.ravel())
    x, y = np.divmod(cells, P0.shape[1])
    fitted = {}

    def count_estimator(xs, ys):
        table = np.zeros_like(P0)
        np.add.at(table, (xs, ys), 1.0)
        fitted["rows"] = len(ys)
        return lambda batch: table[batch]

    for name, rows in (("unplanting", 300), ("erasing", 1500)):
        coll = Collective(alpha=0.3, target=0, signal=lambda pts: G[pts], strategy=name,
                          estimator=count_estimator, n_est=300 if name == "unplanting" else None)
        x2, y2, members = coll.plant_in_training_set(x, y, np.random.default_rng(1))
        assert fitted["rows"] == rows and members.sum() == 1500
        np.testing.assert_array_equal(y2[~members], y[~members])
        played = y2[members]
        if name == "unplanting":
            assert np.all(x2[members] == G[x[members]]) and np.all(played != 0)
            # with 300 rows the estimate is the population's: label 1 at point 1, label 2 at point 2
            np.testing.assert_array_equal(played, np.where(G[x[members]] == 1, 1, 2))
        else:
            np.testing.assert_array_equal(x2[members], x[members])
            np.testing.assert_array_equal(played, DiscreteProblem(P0, G, 0).collective_labels("erasing")[G[x[members]]])
    with pytest.raises(InputError, match="estimator"):
        Collective(alpha=0.3, target=0, signal=lambda p: p, strategy="erasing").plant_in_training_set(x, y, rng)
    planting = Collective(alpha=0.3, target=0, signal=lambda pts: G[pts])
    a = planting.plant_in_training_set(x, y, np.random.default_rng(2))
    b = Collective(alpha=0.3, target=0, signal=lambda pts: G[pts], estimator=count_estimator).plant_in_training_set(
        x, y, np.random.default_rng(2))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))  # planting never estimates
