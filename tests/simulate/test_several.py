"""Family discrete-several: the plug-in learner with several collectives against theory.several."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from collective_action import theory
from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError
from collective_action.experiment import load_experiment
from collective_action.simulate import several as fam
from collective_action.simulate.runner import run
from collective_action.theory import several as sev

ROOT = Path(__file__).resolve().parents[2]
C7 = ROOT / "experiments" / "c7_several_discrete.yaml"


def _file(family_section: dict, family: str, alphas, seeds=(0, 1, 2), n_train=100_000, n_test=5000, target=1):
    return {"name": "sev-test", "pillar": "simulate", "seeds": list(seeds),
            "config": {"family": family, "collective": {"alpha": alphas[0], "target": target},
                       "learner": {"name": "plug-in"}, "n_train": n_train, "n_test": n_test, **family_section},
            "grid": {"collective.alpha": list(alphas)}}


# ------------------------------------------------------------------------------------------
# One collective, no noise: the discrete-counts plug-in path's numbers


@pytest.mark.parametrize("problem_seed,n_train,n_labels", [(4, 100_000, 3), (9, 300, 4), (2, 10_000_000, 2)])
def test_one_collective_equals_discrete_counts(problem_seed, n_train, n_labels):
    alphas = [1e-4, 0.003, 0.05, 0.3, 0.7]  # 1e-4 x 300 rounds to no member at the small n
    problem = {"n_points": 7, "n_labels": n_labels, "concentration": 1.0, "problem_seed": problem_seed}
    counts = run(_file({"counts": {**problem, "signal_size": 2}}, "discrete-counts", alphas, n_train=n_train))
    several = run(_file({"several": {**problem, "collectives": [{"signal_size": 2}]}}, "discrete-several",
                        alphas, n_train=n_train))
    key = ["alpha", "seed"]
    counts, several = counts.sort_values(key).reset_index(drop=True), several.sort_values(key).reset_index(drop=True)
    assert len(counts) == len(several) == len(alphas) * 3
    for col in ("success", "clean_accuracy", "success_se", "alpha_realised"):
        np.testing.assert_array_equal(several[col].to_numpy(), counts[col].to_numpy(), err_msg=col)
    for col in ("success_theory", "success_bound"):
        np.testing.assert_allclose(several[col].to_numpy(), counts[col].to_numpy(), rtol=1e-12, atol=1e-12,
                                   equal_nan=True, err_msg=col)
    assert (several["collective"] == 0).all()


# ------------------------------------------------------------------------------------------
# Property: exact Bayes success = the plug-in's success at large n, bounds below both


def _random_problem(rng) -> sev.SeveralProblem:
    return sev.SeveralProblem.random(rng, clean_share=0.4, max_noise=0.7)


def _undecided(problem: sev.SeveralProblem, n: int, z: float) -> np.ndarray:
    """Per collective, the P0-mass of its signal points where the Bayes decision is within z training SEs.

    Counts of labels y, y' at x differ by n (P(x,y) - P(x,y')) with standard error about
    sqrt(n (P(x,y) + P(x,y'))); where the Bayes label's lead over some label is within z of them,
    the plug-in may decide otherwise without anything being wrong.
    """
    P = problem.mixture()
    f = sev.classifier(P, problem.targets)
    lead = P[np.arange(problem.n_points), f][:, None] - P
    se = np.sqrt((P[np.arange(problem.n_points), f][:, None] + P) / n)
    close = ((lead <= z * se) & (np.arange(problem.n_labels) != f[:, None])).any(axis=1)
    return np.array([(problem.signal_law(k) * close).sum() for k in range(len(problem.collectives))])


def _check(problem, exact, n, seed, n_test, z_train=5.0):
    """(population mismatch beyond undecided mass, measured outside 3 SE, bound above exact, bound above measured)."""
    members = [int(round(c.alpha * n)) for c in problem.collectives]
    at = sev.SeveralProblem(problem.p0, tuple(sev.Collective(m / n, c.g, c.target, c.noise, c.kind)
                                              for m, c in zip(members, problem.collectives)))
    labels = sev.classifier(fam.train_counts(at, members, seed, n), at.targets, tol=0.0)
    pop = sev.success_of(at, labels)
    measured, _ = fam.measure(at, labels, seed, n_test)
    undecided = _undecided(at, n, z_train)
    se = np.sqrt(measured * (1 - measured) / n_test)
    pop_bad = np.abs(pop - exact) > undecided + 1e-12
    meas_out = np.abs(measured - exact) > 3 * se + undecided + 1e-12
    return at, pop_bad, meas_out, measured, se, undecided


def test_exact_success_equals_plug_in_at_large_n_and_bounds_hold():
    """1,000 random problems, 2-3 collectives, n = 10^7: the plug-in decides like Bayes at every point
    whose Bayes decision is clear by 5 training SEs (z = 5 because thousands of comparisons are made);
    the measured success lies within 3 test SEs (plus the undecided mass) for all but a chance share."""
    rng = np.random.default_rng(2025)
    n, n_test = 10_000_000, 20_000
    comparisons = outside = undecided_problems = 0
    for i in range(1000):
        problem = _random_problem(rng)
        members = [int(round(c.alpha * n)) for c in problem.collectives]
        at = sev.SeveralProblem(problem.p0, tuple(sev.Collective(m / n, c.g, c.target, c.noise, c.kind)
                                                  for m, c in zip(members, problem.collectives)))
        exact = sev.success(at)
        _, pop_bad, meas_out, measured, se, undecided = _check(problem, exact, n, i, n_test)
        assert not pop_bad.any(), (i, exact)
        b = sev.bounds(at)
        for key in ("base", "integrated", "shares"):
            assert np.all(b[key] <= exact + 1e-9), (i, key)
            assert np.all(b[key] <= measured + 3 * se + undecided + 1e-9), (i, key)
        comparisons += len(exact)
        outside += int(meas_out.sum())
        undecided_problems += int((undecided > 0).any())
    # 3 SE two-sided leaves ~0.3% outside by chance; far more means theory and learner disagree
    assert outside <= 0.01 * comparisons, (outside, comparisons)
    assert undecided_problems < 200  # the check is about decided points for most problems


def test_the_check_rejects_theory_that_ignores_the_others():
    """The property check has power: single-collective theory (the others ignored) fails it often."""
    rng = np.random.default_rng(7)
    n, rejected, tried = 10_000_000, 0, 0
    for i in range(300):
        problem = _random_problem(rng)
        c = problem.collectives[0]
        if not (c.noise == 0):
            continue
        alone = DiscreteProblem(problem.p0, c.g, c.target)
        wrong = np.full(len(problem.collectives), float(theory.bayes_success(alone, round(c.alpha * n) / n)))
        _, pop_bad, _, _, _, _ = _check(problem, wrong, n, i, 1000)
        rejected += int(pop_bad[0])
        tried += 1
    assert tried > 50 and rejected > 0.1 * tried, (rejected, tried)


# ------------------------------------------------------------------------------------------
# Configuration


def _several_file(collectives, **section):
    return _file({"several": {"n_points": 6, "n_labels": 3, "problem_seed": 1, "collectives": collectives,
                              **section}}, "discrete-several", [0.1], seeds=(0,))


@pytest.mark.parametrize("collectives,section,needle", [
    ([{"alpha": 0.1}], {}, "takes its alpha and target"),
    ([{}, {"target": 2}], {}, "give its share once"),
    ([{}, {"target": 2, "alpha": 0.1}], {"shares": {1: 0.2}}, "give its share once"),
    ([{}, {"target": 2, "alpha": 0.95}], {}, "sum to less than 1"),
    ([{}, {"target": 2, "alpha": 0.1, "same_signal_as": 1}], {}, "earlier collective"),
    ([{}, {"target": 7, "alpha": 0.1}], {}, "target must be a label"),
    ([{"noise_kind": "wander-off"}], {}, "noise_kind"),
    ([{"signal_size": 3}, {"target": 2, "alpha": 0.1, "signal_size": 4}], {}, "disjoint signal points"),
    ([{}], {"noise": {3: 0.1}}, "no collective 3"),
])
def test_invalid_configurations(collectives, section, needle):
    with pytest.raises(InputError, match=needle):
        load_experiment(_several_file(collectives, **section)).cells()


def test_signal_layouts_and_overrides():
    exp = load_experiment({**_several_file([{"signal_size": 2}, {"target": 2, "same_signal_as": 0},
                                            {"target": 0, "alpha": 0.05, "signal_size": 2}],
                                           shares={}, noise={}),
                           "grid": {"several.shares.1": [0.05, 0.2], "several.noise.0": [0.0, 0.5]}})
    cells = exp.cells()
    assert len(cells) == 4
    cfgs = [c.validated_config() for c in cells]
    p0, maps = fam.signal_maps(cfgs[0])
    assert np.array_equal(maps[0], maps[1])  # the tug of war shares the map
    assert not set(np.unique(maps[2])) & set(np.unique(maps[0]))  # disjoint by default
    assert sorted({tuple(fam.shares_of(v)) for v in cfgs}) == [(0.1, 0.05, 0.05), (0.1, 0.2, 0.05)]
    assert sorted({fam.noises_of(v)[0] for v in cfgs}) == [0.0, 0.5]


def test_tug_of_war_rows_and_experiment_file_quick():
    df = run(C7, quick=True)
    exp = load_experiment(C7)
    assert len(df) == 2 * len(exp.cells(quick=True))  # one row per collective
    assert set(df["collective"]) == {0, 1}
    tug = df[df["signal_layout"].str.contains("same-as-0")]
    # on the shared signal, the two targets cannot both hold the same signal point
    both = tug.pivot_table(index=["cell_id"], columns="collective", values="success_theory")
    assert (both.sum(axis=1) <= 1 + 1e-9).all()
    for key in ("success_bound", "success_bound_integrated", "success_bound_shares"):
        assert (df[key] <= df["success_theory"] + 1e-9).all()
    assert np.isfinite(df["success_theory"]).all()
    assert not math.isnan(df["clean_accuracy"].iloc[0])
