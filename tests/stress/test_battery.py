"""The battery on small scenarios: correct formulas give no violation, wrong ones are caught,
NaN and non-convergence flags fire on constructed cases, the CLI writes its outputs and rejects
bad input with exit code 2 and one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml

from collective_action import theory
from collective_action.simulate.stress import (DiscreteStress, Formulas, Scenario, discrete_problem, load_battery,
                                               run_battery, Battery)

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _battery(*scenarios) -> Battery:
    return Battery("test", [Scenario.model_validate(s) for s in scenarios])


TV = {"name": "tv", "engine": "discrete", "seeds": 2,
      "config": {"n_points": 4, "n_labels": 2, "signal_size": 1, "signal_mass": 0.0, "learner": "tv-adversary",
                 "epsilon": 0.01, "alphas": [0.01, 0.02, 0.03, 0.1], "n_train": 100000, "n_test": 2000}}


def _flags(result):
    return result.table["flags"].fillna("").tolist()


def test_tv_learner_with_the_tv_bound_is_not_flagged():
    res = run_battery(_battery(TV), backend="numpy")
    assert not any("VIOLATION" in f for f in _flags(res))
    assert (res.table["success_bound"] <= res.table["success_hi"] + 1e-9).all()


def test_contamination_bound_on_a_tv_learner_is_a_violation():
    wrong = {**TV, "config": {**TV["config"], "bound_definition": "contamination"}}
    res = run_battery(_battery(wrong), backend="numpy")
    hit = res.table[res.table["flags"].str.contains("VIOLATION")]
    assert list(hit["alpha"]) == [0.02]  # the counterexample of docs/theory.md §3: alpha = 2 eps
    assert "wrong formula" in hit["violation_cause"].iloc[0]


def test_injected_wrong_formula_is_caught_through_the_formula_hook():
    def contamination_for_everyone(alpha, delta, xi, epsilon=0.0, definition="contamination"):
        return theory.hardt_bound(alpha, delta, xi, epsilon, "contamination")

    res = run_battery(_battery(TV), backend="numpy", formulas=Formulas(hardt_bound=contamination_for_everyone))
    assert any("VIOLATION" in f for f in _flags(res))


def test_bound_with_halved_delta_xi_is_a_violation_near_the_threshold():
    # one signal point where the base data favour another label (D > 0): success jumps from 0 to 1
    # at the per-point threshold, where the correct bound is <= 0 and a halved one is not
    for seed in range(50):
        cfg = {"n_points": 6, "n_labels": 3, "signal_size": 1, "signal_mass": 0.05, "problem_seed": seed,
               "alphas": [0.5], "n_train": 10**7, "n_test": 20000}
        problem = discrete_problem(DiscreteStress.model_validate(cfg))
        x = problem.signal_set[0]
        gap = float(theory.joint_gap(problem)[x])
        if gap > 0.01:
            break
    assert gap > 0.01
    threshold = gap / (problem.signal_law[x] + gap)  # per-point condition: alpha P* > (1 - alpha) D
    sc = {"name": "halved", "engine": "discrete", "seeds": 2,
          "config": {**cfg, "alphas": [0.9 * threshold, 2.0 * threshold]}}
    good = run_battery(_battery(sc), backend="numpy")
    assert not any("VIOLATION" in f for f in _flags(good))

    def halved(alpha, delta, xi, epsilon=0.0, definition="contamination"):
        return theory.hardt_bound(alpha, delta / 2, xi, epsilon, definition)

    bad = run_battery(_battery(sc), backend="numpy", formulas=Formulas(hardt_bound=halved))
    flagged = bad.table[bad.table["flags"].str.contains("VIOLATION")]
    assert list(flagged["alpha"]) == [pytest.approx(0.9 * threshold)]


GAUSS = {"name": "g", "engine": "gaussian", "seeds": 2,
         "config": {"separation": 3.0, "tau": 1.0, "signal": {"amplitude": 3.0, "target": 1},
                    "learner": {"name": "erm", "params": {"steps": 200}}, "alphas": [0.05, 0.7],
                    "n_train": 600, "n_test": 1000, "theory_mc": 5000, "label_noise": 0.2,
                    "priors": [0.7, 0.3]}}


def test_gaussian_world_with_noise_and_imbalance_has_no_violation():
    res = run_battery(_battery(GAUSS), backend="numpy")
    t = res.table
    assert not any(f for f in _flags(res)), t["violation_cause"].tolist()
    assert (t["success_theory"].between(0, 1)).all() and t["clean_accuracy"].gt(0.6).all()
    assert len(res.raw) == 4 and {"success", "clean_accuracy", "config"} <= set(res.raw.columns)


def test_nan_and_not_converged_flags_fire_on_constructed_cases():
    empty = {"name": "empty", "engine": "discrete", "seeds": 2,
             "config": {"alphas": [1e-4], "n_train": 1000, "n_test": 100}}  # round(alpha n) = 0 members
    one_step = {**GAUSS, "name": "one-step",
                "config": {**GAUSS["config"], "learner": {"name": "erm", "params": {"steps": 1}},
                           "alphas": [0.3]}}
    adversary_empty = {**TV, "name": "adversary-empty", "config": {**TV["config"], "alphas": [1e-7]}}
    res = run_battery(_battery(empty, one_step, adversary_empty), backend="numpy")
    by = dict(zip(res.table["scenario"], res.table["flags"]))
    assert "NAN" in by["empty"] and "NAN" in by["adversary-empty"]
    assert "NOT_CONVERGED" in by["one-step"]


def test_shipped_battery_loads_and_quick_is_smaller():
    battery = load_battery()
    names = {s.name for s in battery.scenarios}
    assert {"tiny-collective", "many-classes", "high-dimension", "class-imbalance", "label-noise",
            "natural-signal", "signal-on-class-direction", "noisy-coordination", "two-collectives",
            "finite-sample-critical-mass", "jtt-extremes", "cvar-extremes", "chi2-extremes"} <= names
    full = sum(len(s.points()) for s in battery.scenarios)
    quick = sum(len(s.points(quick=True)) for s in battery.scenarios)
    assert quick < full
    ks = [cfg.n_classes for s in battery.scenarios if s.engine == "gaussian" for _, cfg, _ in s.points()]
    ds = [cfg.n_classes + cfg.n_free for s in battery.scenarios if s.engine == "gaussian" for _, cfg, _ in s.points()]
    alphas = [a for s in battery.scenarios if s.engine == "discrete" for _, cfg, _ in s.points() for a in cfg.alphas]
    assert max(ks) == 100 and max(ds) >= 10_000 and min(alphas) <= 1e-5


def test_cli_runs_a_user_battery_and_writes_everything(cli, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "scenarios": [TV]}))
    out = tmp_path / "out"
    res = cli("stress", "--file", path, "--array-backend", "numpy", "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    payload = res.json()
    assert payload["rows"] == 4 and payload["flags"]["VIOLATION"] == 0
    for name in ("stress_table.csv", "stress_table.parquet", "stress_raw.parquet", "stress_summary.md",
                 "stress_tightness.png", "stress_tightness.pdf"):
        assert (out / name).stat().st_size > 0
    assert "| tv |" in (out / "stress_summary.md").read_text()
    # the figure is drawn from the stored table, and the raw rows follow the shared schema
    from collective_action.figures.stress import draw_tightness
    from collective_action.results import validate_frame
    import pandas as pd

    png, pdf = draw_tightness(out / "stress_table.csv", tmp_path / "again" / "fig")
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    raw = validate_frame(pd.read_parquet(out / "stress_raw.parquet"))
    assert len(raw) == 4 * 2 and raw["config"].str.contains('"scenario": "tv"').all()


@pytest.mark.parametrize("args, needle", [
    (("--scenario", "no-such"), "unknown scenario"),
    (("--array-backend", "tpu"), "backend"),
    (("--file", "/no/such.yaml"), "not found"),
])
def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path, args, needle):
    res = cli("stress", "--out", tmp_path / "o", *args)
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "o").exists()


def test_cli_bad_scenario_file_exits_2(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    bad = {**TV, "config": {**TV["config"], "alphas": [1.5]}}
    path.write_text(yaml.safe_dump({"name": "bad", "scenarios": [bad]}))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "alphas" in res.stderr
    path.write_text(yaml.safe_dump({"name": "bad", "scenarios": [{**TV, "surprise": 1}]}))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "unknown key" in res.stderr


@pytest.mark.slow
def test_quick_battery_reports_no_violation(tmp_path):
    res = run_battery(load_battery(), quick=True, backend="numpy")
    flagged = res.table[res.table["flags"].str.contains("VIOLATION|NAN")]
    assert flagged.empty, flagged[["scenario", "point", "alpha", "violation_cause"]].to_string()
    # every scenario ran and produced rows with intervals over several seeds
    assert set(res.table["scenario"]) == {s.name for s in load_battery().scenarios}
    assert (res.table["seeds"] >= 2).all()


def test_chunked_run_equals_one_batch():
    one = run_battery(_battery(GAUSS), backend="numpy").table
    tiny = {**GAUSS, "config": {**GAUSS["config"], "memory_budget_mb": 0.001}}  # one configuration per chunk
    many = run_battery(_battery(tiny), backend="numpy").table
    for col in ("success", "clean_accuracy", "success_theory", "success_bound"):
        assert np.allclose(one[col], many[col]), col


def test_cli_lists_scenarios(cli):
    res = cli("stress", "--list", "--json")
    assert res.exit_code == 0
    names = [s["scenario"] for s in res.json()["scenarios"]]
    assert "tiny-collective" in names and "two-collectives" in names


def test_cli_bad_quick_seeds_exits_2(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "scenarios": [{**TV, "quick": {"seeds": 1}}]}))
    res = cli("stress", "--file", path, "--quick", "--out", tmp_path / "o")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "seeds" in res.stderr
