"""Theory against the simulator, on shared configurations (claim C5).

Tolerances (stated once, never loosened after a failure):

* exact/closed-form success vs Monte Carlo success: |difference| <= 3 combined standard errors;
* a bound vs simulated success: bound <= success + 3 SE (beyond Monte Carlo error = failure);
* predicted vs measured alpha_eff: 0.02 absolute (docs/RESULTS.md, C5), with the prediction
  recomputed here from theory's formulas and the row's measured statistics;
* the weighted-risk lemma with collective/base-constant weights: the weighted learner's success
  equals the ERM learner's at alpha_eff within 0.03 on the mean over seeds (both on the same
  test points; the residual is finite-sample noise of two different training sets);
* GD run long vs the hard-margin SVM on family 3: 0.05 absolute where theory says GD has reached
  the max-margin limit (separable data, T >= 2 t*).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from collective_action import theory
from collective_action.agreement import erm_success_at, gaussian_arrays, simulate_rows
from collective_action.simulate import run as simulate_run
from collective_action.simulate.logistic import fit_logistic

SEEDS = [0, 1, 2]

#: Family 2 as in c2_simulate_dro.yaml (classes 4 sigma apart: stage-1 error ~2%), quick size.
DRO_CONFIG = {
    "family": "gaussian",
    "collective": {"alpha": 0.01, "strategy": "feature-label", "target": 1},
    "n_train": 1000, "n_test": 4000,
    "gaussian": {"n_classes": 2, "d_class": 2, "separation": 4.0, "sigma": 1.0, "n_free": 2, "tau": 1.0,
                 "signal": {"placement": "free", "n_coords": 1, "amplitude": 4.0, "mode": "additive"}},
}
ERM = {"name": "erm", "params": {"steps": 300}}
DRO_LEARNERS = [
    {"name": "jtt", "params": {"steps": 300, "T": 50, "upweight": 20}},
    {"name": "cvar", "params": {"steps": 300, "beta": 0.2, "rounds": 3}},
    {"name": "chi2", "params": {"steps": 300, "rho": 1.0, "rounds": 3}},
    {"name": "lff", "params": {"steps": 300, "q": 0.7, "ema": 0.0, "rounds": 3}},
]
DRO_ALPHAS = [0.005, 0.02, 0.3]


@pytest.fixture(scope="module")
def dro_frame() -> pd.DataFrame:
    return simulate_rows(DRO_CONFIG, seeds=SEEDS, alphas=DRO_ALPHAS, learners=[ERM, *DRO_LEARNERS])


# ------------------------------------------------------------------------------ exact success
def test_closed_form_gaussian_success_matches_monte_carlo():
    """The exact-density Bayes learner on fresh signal points vs theory.gaussian's closed form."""
    spec = {"name": "c5-bayes", "pillar": "simulate", "seeds": [0, 1],
            "config": {"family": "gaussian", "collective": {"alpha": 0.1, "strategy": "feature-label", "target": 1},
                       "learner": {"name": "bayes"}, "n_train": 200, "n_test": 20000,
                       "gaussian": {"n_classes": 2, "d_class": 1, "separation": 1.0, "sigma": 1.0, "n_free": 1,
                                    "tau": 1.0, "signal": {"placement": "free", "n_coords": 1, "amplitude": 2.0,
                                                           "mode": "additive"}}},
            "grid": {"collective.alpha": [0.01, 0.05, 0.2, 0.5]}}
    df = simulate_run(spec, backend="numpy")
    assert set(df["success_theory_method"]) == {"closed-form"}
    for _, r in df.iterrows():
        se = math.hypot(r["success_se"], r["success_theory_se"])
        assert abs(r["success"] - r["success_theory"]) <= 3 * se, (
            f"alpha={r['alpha']}, seed={r['seed']}: Monte Carlo success {r['success']:.4f} vs closed form "
            f"{r['success_theory']:.4f} (3 SE = {3 * se:.4f})")
    # power: the closed form at a neighbouring alpha is told apart by the same check
    s_wrong = float(theory.gaussian_bayes_success_closed_form(_problem(spec), 0.5 * df["alpha_realised"].iloc[0]))
    r0 = df.iloc[0]
    assert abs(r0["success"] - s_wrong) > 3 * r0["success_se"], "the 3-SE check cannot tell alpha from alpha/2"


def _problem(spec):
    from collective_action.simulate.experiment import SimulateConfig
    from collective_action.simulate.runner import gaussian_problem

    return gaussian_problem(SimulateConfig.model_validate(spec["config"]))


def test_discrete_plug_in_success_matches_exact_bayes_and_bounds_hold():
    """Family 1: plug-in learner on 10^5 points vs exact Bayes success; Hardt's bound below it."""
    spec = {"name": "c5-discrete", "pillar": "simulate", "seeds": [0, 1],
            "config": {"family": "discrete", "collective": {"alpha": 0.1, "strategy": "feature-label", "target": 0},
                       "learner": {"name": "plug-in"}, "n_train": 100000, "n_test": 20000,
                       "discrete": {"n_points": 8, "n_labels": 3, "signal_size": 2, "problem_seed": 3}},
            "grid": {"collective.alpha": [0.02, 0.1, 0.3, 0.6]}}
    df = simulate_run(spec, backend="numpy")
    for _, r in df.iterrows():
        t = r["success_theory"]
        se = math.sqrt(t * (1 - t) / r["n_test"])
        assert abs(r["success"] - t) <= 3 * se + 1e-12, (
            f"alpha={r['alpha']} seed={r['seed']}: plug-in success {r['success']:.4f} vs exact Bayes "
            f"{t:.4f} (3 SE = {3 * se:.4f})")
        assert r["success_bound"] <= r["success"] + 3 * se + 1e-12, (
            f"alpha={r['alpha']}: Hardt bound {r['success_bound']:.4f} above simulated success {r['success']:.4f}")
    assert df["success"].min() < 0.5 < df["success"].max(), "the alpha grid does not cross the threshold"


def test_gaussian_bounds_below_every_learner(dro_frame):
    """Hardt's bound (integrated gap) never exceeds any learner's simulated success beyond MC error."""
    for _, r in dro_frame.iterrows():
        assert r["success_bound"] <= r["success"] + 3 * r["success_se"], (
            f"{r['series']} alpha={r['alpha']} seed={r['seed']}: bound {r['success_bound']:.4f} above "
            f"success {r['success']:.4f}")


# ------------------------------------------------------------------------------ alpha_eff
def _predicted(r) -> float:
    a = r["alpha_realised"]
    config = json.loads(r["config"]) if isinstance(r["config"], str) else r["config"]
    p = config["learner"]["params"]
    name = r["learner"]
    if name == "jtt":
        return float(theory.alpha_eff_jtt(a, p["upweight"], r["e_star"], r["e0"]))
    if name == "cvar":
        return float(theory.alpha_eff_cvar(a, p["beta"], r["tail_share"]))
    if name == "chi2":
        return float(theory.alpha_eff_chi2(a, r["collective_excess"], r["base_excess"]))
    if name == "lff":
        return float(theory.alpha_eff_lff(a, r["collective_mean_weight"], r["base_mean_weight"]))
    raise AssertionError(name)


def test_alpha_eff_predicted_from_measured_statistics_matches_measured_weight(dro_frame):
    dro = dro_frame[dro_frame["learner"] != "erm"]
    assert set(dro["learner"]) == {"jtt", "cvar", "chi2", "lff"}
    for _, r in dro.iterrows():
        predicted = _predicted(r)
        assert abs(predicted - r["alpha_eff_measured"]) <= 0.02, (
            f"{r['series']} alpha={r['alpha']} seed={r['seed']}: theory's alpha_eff {predicted:.4f} vs measured "
            f"training-weight share {r['alpha_eff_measured']:.4f}")


def test_dro_amplifies_small_and_dilutes_large_collectives_as_theory_says(dro_frame):
    """alpha_eff > alpha iff e* > e0 (JTT), and every DRO learner amplifies at 0.005, dilutes at 0.3."""
    dro = dro_frame[dro_frame["learner"] != "erm"]
    for _, r in dro[dro["learner"] == "jtt"].iterrows():
        if abs(r["e_star"] - r["e0"]) > 1e-9:
            assert (r["alpha_eff_measured"] > r["alpha_realised"]) == (r["e_star"] > r["e0"]), (
                f"JTT alpha={r['alpha']}: e*={r['e_star']:.3f}, e0={r['e0']:.3f} but alpha_eff "
                f"{r['alpha_eff_measured']:.4f} vs alpha {r['alpha_realised']:.4f}")
    means = dro.groupby(["learner", "alpha"])["alpha_eff_measured"].mean()
    for learner in ("jtt", "cvar", "chi2", "lff"):
        assert means[(learner, 0.005)] > 0.005, f"{learner}: mean alpha_eff {means[(learner, 0.005)]:.4f} <= alpha 0.005"
        assert means[(learner, 0.3)] < 0.3, f"{learner}: mean alpha_eff {means[(learner, 0.3)]:.4f} >= alpha 0.3"


def test_weighted_risk_lemma_group_constant_weights_equal_erm_at_alpha_eff():
    """Weights w_c on members and 1 on base points: theory says this IS ERM at alpha_eff.

    Weighted GD on a set with a collective of size alpha, against plain GD on a set (same seed:
    same base stream and test points) whose collective is alpha_eff = alpha w_c / (alpha w_c + 1 -
    alpha). Both use fit_logistic with the same settings.
    """
    alpha, w_c = 0.01, 8.0
    a_eff = float(theory.alpha_eff(alpha, w_c, 1.0))
    weighted, plain = [], []
    for seed in range(4):
        d = gaussian_arrays(alpha=alpha, seed=seed, n_train=2000, n_test=4000)
        w = np.where(d.member, w_c, 1.0)
        assert abs(float((w * d.member).sum() / w.sum()) - a_eff) < 0.01  # realised share
        f = fit_logistic(d.X[None], d.y[None], n_classes=2, sample_weight=w[None], steps=300, lr=0.5, backend="numpy")
        weighted.append(float((f.predict(d.X_signal)[0] == d.target).mean()))
        e = gaussian_arrays(alpha=a_eff, seed=seed, n_train=2000, n_test=4000)
        g = fit_logistic(e.X[None], e.y[None], n_classes=2, steps=300, lr=0.5, backend="numpy")
        plain.append(float((g.predict(e.X_signal)[0] == e.target).mean()))
    raw = []
    for seed in range(4):
        d = gaussian_arrays(alpha=alpha, seed=seed, n_train=2000, n_test=4000)
        f = fit_logistic(d.X[None], d.y[None], n_classes=2, steps=300, lr=0.5, backend="numpy")
        raw.append(float((f.predict(d.X_signal)[0] == d.target).mean()))
    assert abs(np.mean(weighted) - np.mean(plain)) <= 0.03, (
        f"weighted learner at alpha={alpha} (w_c={w_c}): success {np.mean(weighted):.4f}; ERM at alpha_eff="
        f"{a_eff:.4f}: {np.mean(plain):.4f}")
    # power: the raw alpha would predict a clearly different success
    assert np.mean(weighted) - np.mean(raw) > 0.1, (
        f"weighting did not move success: {np.mean(weighted):.4f} vs unweighted {np.mean(raw):.4f}")


def test_dro_success_moves_with_alpha_eff_in_the_direction_theory_predicts(dro_frame):
    """Seed means: where a DRO learner amplifies (alpha_eff >> alpha), it beats ERM at alpha, and the
    ERM learner at alpha_eff (theory's prediction from alpha_eff, reweighting of base points
    ignored) is at least as successful as ERM at alpha. Magnitudes are reported in
    docs/RESULTS.md (the prediction over-estimates small-alpha success by 0.03-0.15)."""
    erm = dro_frame[dro_frame["learner"] == "erm"].groupby("alpha")["success"].mean()
    small = dro_frame[(dro_frame["learner"].isin(["jtt", "chi2"])) & (dro_frame["alpha"] == 0.005)]
    for learner, sub in small.groupby("learner"):
        a_eff = sub["alpha_eff_measured"].to_numpy()
        assert a_eff.mean() > 2 * 0.005
        dro_success = sub["success"].mean()
        assert dro_success > erm[0.005], (
            f"{learner} at alpha 0.005 amplifies to alpha_eff {a_eff.mean():.4f} but its success {dro_success:.4f} "
            f"is not above ERM's {erm[0.005]:.4f}")
        predicted = erm_success_at(DRO_CONFIG, a_eff, sub["seed"].to_numpy(), ERM).mean()
        assert predicted > erm[0.005], (
            f"{learner}: ERM at alpha_eff {a_eff.mean():.4f} reaches {predicted:.4f}, not above ERM at alpha "
            f"{erm[0.005]:.4f}")


# ------------------------------------------------------------------------------ max-margin (family 3)
def test_max_margin_prediction_matches_long_run_gd_on_family_3():
    """A free signal in simplicity-bias data: the SVM's success (theory) vs GD run long."""
    from collective_action.simulate.simplicity import run_simplicity

    cfg = {"n_train": 400, "n_test": 2000, "alphas": [0.05, 0.2], "steps": 4000, "lr": 1.0,
           "signals": [{"placement": "free", "pattern": "neutral", "mode": "overwrite", "strength": 1.5}],
           "learners": ["gd"]}
    rows = run_simplicity(cfg, seeds=[0, 1], backend="numpy")
    checked = 0
    for r in rows:
        e = r.extra
        if e["separable"] and cfg["steps"] >= 4 * e["t_star"]:
            checked += 1
            assert abs(r.success - e["success_theory"]) <= 0.05, (
                f"alpha={r.alpha} seed={r.seed}: GD success {r.success:.4f} vs max-margin prediction "
                f"{e['success_theory']:.4f} (t*={e['t_star']:.0f}, T={cfg['steps']})")
    assert checked >= 3, f"only {checked} rows in the regime where the max-margin limit applies"
