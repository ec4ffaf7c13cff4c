"""Theory drawn on a dense alpha grid, and C2's amplification panel, read back from the figures.

Experiments run through the real sweep runner and store (figures read stored rows); the drawn
lines are compared with theory's own functions (per-point thresholds, critical masses, Hardt's
critical mass, JTT's crossover), never with numbers written here.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from collective_action import theory
from collective_action.experiment import get_pillar
from collective_action.figures import c1, c2, common, theory_curves
from collective_action.runs.store import CellOutcome, ResultStore
from collective_action.runs.sweep import read_results, run_sweep
from collective_action.simulate.runner import discrete_problem
from collective_action.theory.experiment import TheoryConfig, build_problem

DISCRETE = {
    "name": "c1-dense-discrete", "pillar": "simulate", "seeds": 1,
    "config": {"family": "discrete", "collective": {"alpha": 0.1, "strategy": "feature-label", "target": 0},
               "learner": {"name": "plug-in"}, "n_train": 2000, "n_test": 1000,
               "discrete": {"n_points": 8, "n_labels": 3, "concentration": 1.0, "signal_size": 2,
                            "problem_seed": 0}},
    "grid": {"collective.alpha": [0.005, 0.02, 0.05, 0.1, 0.2, 0.5]},
}
THEORY = {
    "name": "c1-dense-theory", "pillar": "theory", "seeds": 3,
    "config": {"random": {"n_points": 8, "n_labels": 3, "concentration": 1.0, "seed": 0, "n_signal_points": 2,
                          "signal_mass": 0.1},
               "collective": {"alpha": 0.01, "strategy": "feature-label", "target": 0}},
    "grid": {"collective.alpha": [0.001, 0.01, 0.1, 0.5]},
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _run(tmp_path, spec):
    run_sweep(spec, tmp_path / spec["name"], executor="serial", progress=False)
    return read_results(tmp_path / spec["name"])


def _success_axes(fig):
    return [ax for ax in common.data_panels(fig) if "success" in ax.get_ylabel()]


def _jumps(line) -> tuple[np.ndarray, np.ndarray]:
    """(alphas where a steps-post line changes value, the values it takes there)."""
    xy = line.get_xydata()
    change = np.flatnonzero(np.abs(np.diff(xy[:, 1])) > 1e-12) + 1
    return xy[change, 0], xy[change, 1]


def test_discrete_exact_success_is_dense_and_jumps_where_theory_says(tmp_path):
    theory_curves.clear_cache()
    frame = _run(tmp_path, DISCRETE)
    (ax,) = _success_axes(c1.build(frame))
    exact = [ln for ln in ax.get_lines() if ln.get_label().endswith("(predicted)")]
    bound = [ln for ln in ax.get_lines() if ln.get_label().endswith("(bound)")]
    assert len(exact) == 1 and len(bound) == 1
    assert exact[0].get_drawstyle() == "steps-post" and bound[0].get_drawstyle() == "default"
    for line in exact + bound:
        assert len(line.get_xdata()) >= 200
    xs = exact[0].get_xdata()
    assert xs[0] == pytest.approx(min(DISCRETE["grid"]["collective.alpha"]))
    assert xs[-1] == pytest.approx(max(DISCRETE["grid"]["collective.alpha"]))

    cfg = get_pillar("simulate").config_model.model_validate(json.loads(frame["config"].iloc[0]))
    problem = discrete_problem(cfg)
    # theory's jumps: the per-point thresholds D / (P* + D) of the signal points inside the range
    law, gap = problem.signal_law, theory.joint_gap(problem)
    points = (law > 0) & (gap > 0)
    thresholds = np.asarray(theory.per_point_threshold().numeric(law[points], gap[points]), dtype=float)
    inside = np.sort(thresholds[(thresholds > xs[0]) & (thresholds < xs[-1])])
    assert len(inside) >= 1  # the problem has a step to draw in this range
    at, values = _jumps(exact[0])
    np.testing.assert_allclose(at, inside, rtol=1e-8)  # far finer than the grid's 1.9% spacing
    # and the level reached at each jump has that jump as its exact critical mass
    for alpha, level in zip(at, values):
        assert theory.bayes_critical_mass(problem, min(level, 1.0)) == pytest.approx(alpha, rel=1e-8)
    # the stored per-row theory agrees with the drawn steps at the experiment's alphas
    stored = frame.groupby("alpha")["success_theory"].mean()
    drawn = exact[0].get_ydata()[np.searchsorted(xs, stored.index.to_numpy(), side="right") - 1]
    np.testing.assert_allclose(drawn, stored.to_numpy(), atol=1e-9)

    # the bound is Hardt's curve: it crosses 1/2 at Hardt's critical mass for target 1/2
    delta, xi = theory.hardt_constants(problem)
    half = float(theory.critical_mass(delta, xi, 0.5))
    bx, by = bound[0].get_xdata(), bound[0].get_ydata()
    assert bx[0] < half < bx[-1]
    assert np.interp(half, bx, by) == pytest.approx(0.5, abs=2e-3)


def test_theory_pillar_line_is_the_mean_of_each_seeds_steps(tmp_path):
    theory_curves.clear_cache()
    frame = _run(tmp_path, THEORY)
    (ax,) = _success_axes(c1.build(frame))
    (exact,) = [ln for ln in ax.get_lines() if ln.get_label().endswith("(theory)")]
    (bound,) = [ln for ln in ax.get_lines() if ln.get_label().endswith("(bound)")]
    assert len(exact.get_xdata()) >= 200 and len(bound.get_xdata()) >= 200
    assert exact.get_drawstyle() == "steps-post"
    xs = exact.get_xdata()
    # jumps: the critical masses of every seed's problem, for every level its steps reach
    expected = []
    for seed in sorted(frame["seed"].unique()):
        problem, _ = build_problem(TheoryConfig.model_validate(json.loads(frame["config"].iloc[0])), int(seed))
        levels = np.unique(np.asarray(theory.bayes_success(problem, xs), dtype=float))
        for level in levels[levels > 0]:
            a = theory.bayes_critical_mass(problem, min(float(level), 1.0))
            if xs[0] < a < xs[-1]:
                expected.append(a)
    at, _ = _jumps(exact)
    np.testing.assert_allclose(at, np.unique(expected), rtol=1e-8)
    # at the stored alphas the line is the stored mean over seeds
    stored = frame.groupby("alpha")["success"].mean()
    drawn = exact.get_ydata()[np.searchsorted(xs, stored.index.to_numpy(), side="right") - 1]
    np.testing.assert_allclose(drawn, stored.to_numpy(), atol=1e-9)


# ------------------------------------------------------------------------------ amplification
AMP_ALPHAS = (0.002, 0.005, 0.01, 0.03, 0.1, 0.3)


def _jtt_rows(rng):
    """JTT rows whose stage-1 error shares cross (e* falls with alpha, e0 stays): theory's
    alpha_eff from them, the measured share a little noisy around it; ERM beside it."""
    rows = []
    for alpha in AMP_ALPHAS:
        for seed in range(4):
            e_star = float(np.clip(0.6 - 0.25 * np.log10(alpha / 0.002) + rng.normal(0, 0.01), 0, 1))
            e0 = 0.3
            predicted = float(theory.alpha_eff_jtt(alpha, 20.0, e_star, e0))
            rows.append(("jtt", "JTT (T=50, upweight=20)", alpha, seed, {
                "success": float(rng.uniform(0.3, 0.9)), "e_star": e_star, "e0": e0,
                "alpha_eff_predicted": predicted, "alpha_eff_measured": predicted * (1 + rng.normal(0, 0.01))}))
            rows.append(("erm", "ERM", alpha, seed, {"success": float(rng.uniform(0.1, 0.6)),
                                                     "alpha_eff_predicted": alpha, "alpha_eff_measured": alpha}))
    return rows


def test_amplification_panel_crosses_one_where_theory_predicts(tmp_path):
    rng = np.random.default_rng(5)
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for learner, series, alpha, seed, rec in _jtt_rows(rng):
            rec = dict(rec, alpha=alpha, learner=learner, series=series)
            store.write(CellOutcome(f"{learner}-{alpha}-{seed}", "c2-amp", "simulate", seed,
                                    {"alpha": alpha, "learner": learner}, [rec], None, "serial", "h", "a", "b", 0.0),
                        "test")
        frame = store.frame()
    fig = c2.build(frame)
    panels = [ax for ax in common.data_panels(fig) if ax.get_ylabel() == c2.RATIO_LABEL]
    assert len(panels) == 1  # the amplification panel replaces the y = x scatter
    ax = panels[0]
    assert not any(ln.get_label().startswith("y = x") for a in common.data_panels(fig) for ln in a.get_lines())
    assert ax.get_xscale() == "log"
    ones = [ln for ln in ax.get_lines() if ln.get_label() == c2.ONE_KEY]
    assert len(ones) == 1 and np.allclose(ones[0].get_ydata(), 1.0)
    # ERM does not reweight: only JTT is drawn
    (predicted,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(c2.PREDICTED_PREFIX)]
    assert "JTT" in predicted.get_label()
    xy = predicted.get_xydata()
    sign = np.sign(np.log(xy[:, 1]))
    (i,) = np.flatnonzero(sign[:-1] != sign[1:])  # one crossing of the predicted ratio
    lo, hi = xy[i, 0], xy[i + 1, 0]
    # theory's crossover e* = e0 (mean stage-1 errors) lies in the same grid interval
    means = frame[frame["learner"] == "jtt"].groupby("alpha")[["e_star", "e0"]].mean()
    e_cross = theory.jtt_crossover(means.index.to_numpy(), means["e_star"].to_numpy(), means["e0"].to_numpy())
    assert lo < e_cross < hi
    # the marked crossover is where the drawn (log-log) predicted line crosses 1
    (marked,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(c2.CROSSOVER_PREFIX)]
    x_star = marked.get_xdata()[0]
    t = np.log(xy[i, 1]) / (np.log(xy[i, 1]) - np.log(xy[i + 1, 1]))
    assert x_star == pytest.approx(np.exp(np.log(lo) + t * (np.log(hi) - np.log(lo))), rel=1e-9)
    # the measured ratio (mean over seeds) crosses 1 in the same interval
    (container,) = ax.containers
    my = np.asarray(container.lines[0].get_ydata(), dtype=float)
    assert np.flatnonzero(np.sign(np.log(my[:-1])) != np.sign(np.log(my[1:]))).tolist() == [i]
    # the measured points are alpha_eff_measured / alpha averaged over seeds
    jtt = frame[frame["learner"] == "jtt"]
    ratio = (jtt["alpha_eff_measured"] / jtt["alpha"]).groupby(jtt["alpha"]).mean()
    np.testing.assert_allclose(my, ratio.to_numpy(), rtol=1e-12)


def test_crossings_follow_the_log_log_line():
    a = np.geomspace(1e-3, 0.5, 7)
    ratio = (0.02 / a) ** 0.7  # a power law: straight on log-log axes, exactly 1 at alpha = 0.02
    np.testing.assert_allclose(theory_curves.crossings(a, ratio), [0.02], rtol=1e-12)
    assert len(theory_curves.crossings(a, ratio + 5)) == 0


def test_goal_bounds_give_every_strategy_its_hardt_form_bound_and_leave_the_default_alone(tmp_path):
    from collective_action.theory import hardt_goals

    theory_curves.clear_cache()
    spec = json.loads(json.dumps(DISCRETE))
    spec["name"] = "c6-dense-goals"
    spec["grid"]["collective.strategy"] = ["feature-label", "feature-only", "unplanting", "erasing"]
    frame = _run(tmp_path, spec)
    strategy = [json.loads(c)["collective"]["strategy"] for c in frame["config"]]
    lo, hi = theory_curves.alpha_range(frame["alpha"])
    for name in spec["grid"]["collective.strategy"]:
        rows = frame[[s == name for s in strategy]]
        cfg = get_pillar("simulate").config_model.model_validate(json.loads(rows["config"].iloc[0]))
        problem = discrete_problem(cfg)
        plain = theory_curves.theory_for_rows(rows, lo, hi)
        goals = theory_curves.theory_for_rows(rows, lo, hi, goal_bounds=True)
        # the exact success is the strategy's own either way (its goal's Bayes success)
        np.testing.assert_array_equal(plain.alpha, goals.alpha)
        np.testing.assert_array_equal(plain.exact, goals.exact)
        np.testing.assert_allclose(goals.exact, theory.bayes_success(problem, goals.alpha, name))
        np.testing.assert_allclose(goals.bound, hardt_goals.population_bound(problem, goals.alpha, name))
        if name == "feature-label":  # the same numbers as the default's Hardt bound
            np.testing.assert_allclose(goals.bound, plain.bound, rtol=1e-12)
        else:  # the default draws no dense bound for the other strategies (unchanged)
            assert plain.bound is None
        # and the dense bound passes through the simulator's own success_bound at the stored ends
        stored = rows.groupby("alpha")["success_bound"].mean()
        np.testing.assert_allclose(goals.bound[[0, -1]], stored.iloc[[0, -1]], rtol=1e-9)
