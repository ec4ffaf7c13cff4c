"""The battery on small scenarios: correct formulas give no violation, wrong ones are caught,
NaN and non-convergence flags fire on constructed cases, the CLI writes its outputs and rejects
bad input with exit code 2 and one line. Scenarios are ordinary experiment files with an
``assess:`` section, swept into a results store and assessed from it."""

from __future__ import annotations

import copy
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from collective_action import theory
from collective_action.experiment import load_experiment
from collective_action.runs.stress import load_scenarios, run_stress
from collective_action.simulate import stress as stress_family
from collective_action.simulate.experiment import SimulateConfig

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _scenario(name, family, config, alphas, *, seeds=2, grid=None, assess=None, quick=None):
    spec = {"name": name, "pillar": "simulate", "description": f"test scenario {name}", "seeds": seeds,
            "config": {"family": family, **copy.deepcopy(config)},
            "grid": {**(grid or {}), "collective.alpha": list(alphas)}, "assess": assess or {}}
    if quick:
        spec["quick"] = quick
    return spec


def _run(tmp_path, *specs, quick=False, **kw):
    exps = [load_experiment(s) for s in specs]
    return run_stress(exps, tmp_path / "out", quick=quick, executor="serial", compute=None, **kw)


TV_CONFIG = {"collective": {"alpha": 0.01, "target": 0},
             "learner": {"name": "tv-adversary", "params": {"epsilon": 0.01}}, "n_train": 100000, "n_test": 2000,
             "counts": {"n_points": 4, "n_labels": 2, "signal_size": 1, "signal_mass": 0.0}}
TV = _scenario("tv", "discrete-counts", TV_CONFIG, [0.01, 0.02, 0.03, 0.1])


def _flags(run):
    return run.table["flags"].fillna("").tolist()


def test_tv_learner_with_the_tv_bound_is_not_flagged(tmp_path):
    run = _run(tmp_path, TV)
    assert len(run.table) == 4 and not any("VIOLATION" in f for f in _flags(run))
    assert (run.table["success_bound"] <= run.table["success_hi"] + 1e-9).all()
    assert (run.table["seeds"] == 2).all() and len(run.raw) == 8


def test_contamination_bound_on_a_tv_learner_is_a_violation(tmp_path):
    wrong = copy.deepcopy(TV)
    wrong["config"]["counts"]["bound_definition"] = "contamination"
    run = _run(tmp_path, wrong)
    hit = run.table[run.table["flags"].str.contains("VIOLATION")]
    assert list(hit["alpha"]) == [0.02]  # the counterexample of docs/theory.md §3: alpha = 2 eps
    assert "wrong formula" in hit["violation_cause"].iloc[0]


def test_injected_wrong_formula_is_caught_through_the_formula_hook(tmp_path, monkeypatch):
    def contamination_for_everyone(alpha, delta, xi, epsilon=0.0, definition="contamination"):
        return theory.hardt_bound(alpha, delta, xi, epsilon, "contamination")

    monkeypatch.setattr(stress_family, "FORMULAS", stress_family.Formulas(hardt_bound=contamination_for_everyone))
    run = _run(tmp_path, TV)
    assert any("VIOLATION" in f for f in _flags(run))


def test_a_flag_the_scenario_does_not_raise_is_left_out(tmp_path):
    wrong = copy.deepcopy(TV)
    wrong["config"]["counts"]["bound_definition"] = "contamination"
    wrong["assess"] = {"flags": ["NAN", "NOT_CONVERGED"]}
    run = _run(tmp_path, wrong)
    assert not any(_flags(run))
    assert any("wrong formula" in c for c in run.table["violation_cause"])  # the cause is still reported


def test_bound_with_halved_delta_xi_is_a_violation_near_the_threshold(tmp_path, monkeypatch):
    # one signal point where the base data favour another label (D > 0): success jumps from 0 to 1
    # at the per-point threshold, where the correct bound is <= 0 and a halved one is not
    base = {"collective": {"alpha": 0.5, "target": 0}, "n_train": 10**7, "n_test": 20000,
            "counts": {"n_points": 6, "n_labels": 3, "signal_size": 1, "signal_mass": 0.05}}
    for seed in range(50):
        base["counts"]["problem_seed"] = seed
        problem = stress_family.discrete_problem(SimulateConfig.model_validate({"family": "discrete-counts", **base}))
        x = problem.signal_set[0]
        gap = float(theory.joint_gap(problem)[x])
        if gap > 0.01:
            break
    assert gap > 0.01
    threshold = gap / (problem.signal_law[x] + gap)  # per-point condition: alpha P* > (1 - alpha) D
    sc = _scenario("halved", "discrete-counts", base, [0.9 * threshold, 2.0 * threshold])
    good = _run(tmp_path, sc)
    assert not any("VIOLATION" in f for f in _flags(good))

    def halved(alpha, delta, xi, epsilon=0.0, definition="contamination"):
        return theory.hardt_bound(alpha, delta / 2, xi, epsilon, definition)

    monkeypatch.setattr(stress_family, "FORMULAS", stress_family.Formulas(hardt_bound=halved))
    bad = run_stress([load_experiment(sc)], tmp_path / "bad", executor="serial")
    flagged = bad.table[bad.table["flags"].str.contains("VIOLATION")]
    assert list(flagged["alpha"]) == [pytest.approx(0.9 * threshold)]


GAUSS_CONFIG = {"collective": {"alpha": 0.05, "target": 1}, "learner": {"name": "erm", "params": {"steps": 200}},
                "n_train": 600, "n_test": 1000, "theory_mc_samples": 5000,
                "world": {"separation": 3.0, "tau": 1.0, "signal": {"amplitude": 3.0}, "label_noise": 0.2,
                          "priors": [0.7, 0.3]}}
GAUSS = _scenario("g", "gaussian-world", GAUSS_CONFIG, [0.05, 0.7])


def test_gaussian_world_with_noise_and_imbalance_has_no_violation(tmp_path):
    run = _run(tmp_path, GAUSS)
    t = run.table
    assert not any(f for f in _flags(run)), t["violation_cause"].tolist()
    assert (t["success_theory"].between(0, 1)).all() and t["clean_accuracy"].gt(0.6).all()
    assert len(run.raw) == 4 and {"success", "clean_accuracy", "config", "success_bound"} <= set(run.raw.columns)


def test_nan_and_not_converged_flags_fire_on_constructed_cases(tmp_path):
    empty = _scenario("empty", "discrete-counts", {"collective": {"alpha": 1e-4, "target": 0}, "n_train": 1000,
                                                    "n_test": 100}, [1e-4])  # round(alpha n) = 0 members
    one_step = copy.deepcopy(GAUSS)
    one_step.update(name="one-step")
    one_step["config"]["learner"] = {"name": "erm", "params": {"steps": 1}}
    one_step["grid"]["collective.alpha"] = [0.3]
    adversary_empty = copy.deepcopy(TV)
    adversary_empty.update(name="adversary-empty")
    adversary_empty["grid"]["collective.alpha"] = [1e-7]
    run = _run(tmp_path, empty, one_step, adversary_empty)
    by = dict(zip(run.table["scenario"], run.table["flags"]))
    assert "NAN" in by["empty"] and "NAN" in by["adversary-empty"]
    assert "NOT_CONVERGED" in by["one-step"]


def test_two_collectives_give_a_row_each_and_the_second_keeps_its_share(tmp_path):
    two = copy.deepcopy(GAUSS)
    two.update(name="two")
    two["config"]["world"] = {"n_classes": 3, "d_class": 3, "separation": 3.0, "tau": 1.0,
                              "signal": {"amplitude": 3.0, "offset": 0},
                              "second": {"alpha": 0.1, "target": 2, "signal": {"amplitude": 3.0, "offset": 1}}}
    run = _run(tmp_path, two)
    second = run.table[run.table["collective"] == 1]
    assert len(run.table) == 4 and len(second) == 2 and (second["alpha"] == 0.1).all()
    assert sorted(second["alpha_collective0"]) == [0.05, 0.7]


def test_a_world_alpha_that_leaves_no_base_data_is_refused_when_loaded():
    from collective_action.errors import InputError

    bad = copy.deepcopy(GAUSS)
    bad["config"]["world"]["second"] = {"alpha": 0.5, "target": 0}
    bad["grid"]["collective.alpha"] = [0.6]
    with pytest.raises(InputError, match="below 1"):
        load_experiment(bad)


def test_shipped_scenarios_load_and_quick_is_smaller():
    scenarios = load_scenarios()
    names = {s.name for s in scenarios}
    assert {"tiny-collective", "many-classes", "high-dimension", "class-imbalance", "label-noise",
            "natural-signal", "signal-on-class-direction", "noisy-coordination", "two-collectives",
            "finite-sample-critical-mass", "jtt-extremes", "cvar-extremes", "chi2-extremes"} <= names
    assert sum(len(s.cells(quick=True)) for s in scenarios) < sum(len(s.cells()) for s in scenarios)
    configs = [c.validated_config() for s in scenarios for c in s.cells()]
    worlds = [c.world for c in configs if c.family == "gaussian-world"]
    alphas = [c.collective.alpha for c in configs if c.family == "discrete-counts"]
    assert max(w.n_classes for w in worlds) == 100 and max(w.n_classes + w.n_free for w in worlds) >= 10_000
    assert min(alphas) <= 1e-5


def test_results_and_plot_read_the_stress_folder(cli, tmp_path):
    run = _run(tmp_path, TV)
    out = tmp_path / "out"
    res = cli("results", out, "--assess", "--format", "json")
    assert res.exit_code == 0, res.stderr
    table = pd.read_json(__import__("io").StringIO(res.stdout))
    assert list(table["flags"].fillna("")) == list(run.table["flags"].fillna(""))
    assert np.allclose(table["success"], run.table["success"])
    rows = cli("results", out)
    assert rows.exit_code == 0 and rows.stdout.count("\n") == 1 + 8  # header + one row per cell
    res = cli("plot", out, "--figures", tmp_path / "figs", "--json")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "figs" / "stress_tightness.png").stat().st_size > 0


def test_cli_runs_a_user_scenario_file_and_writes_everything(cli, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(TV))
    out = tmp_path / "out"
    res = cli("stress", "--file", path, "--array-backend", "numpy", "--executor", "serial", "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    payload = res.json()
    assert payload["rows"] == 4 and payload["flags"]["VIOLATION"] == 0
    for name in ("stress_table.csv", "stress_table.parquet", "stress_raw.parquet", "stress_summary.md",
                 "stress_tightness.png", "stress_tightness.pdf", "results.sqlite"):
        assert (out / name).stat().st_size > 0
    assert "| tv |" in (out / "stress_summary.md").read_text()
    from collective_action.figures.stress import draw_tightness
    from collective_action.results import validate_frame

    png, pdf = draw_tightness(out / "stress_table.csv", tmp_path / "again" / "fig")
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    raw = validate_frame(pd.read_parquet(out / "stress_raw.parquet"))
    assert len(raw) == 4 * 2 and (raw["experiment"] == "tv").all()
    # a rerun resumes: nothing is recomputed and the table is the same
    again = cli("stress", "--file", path, "--executor", "serial", "--out", out, "--json")
    assert again.exit_code == 0 and again.json()["flags"] == payload["flags"]
    assert sum(s["rows"] for s in again.json()["scenarios"]) == 4


def test_the_same_scenario_file_runs_through_sweep(cli, tmp_path):
    path = tmp_path / "tv.yaml"
    path.write_text(yaml.safe_dump(TV))
    res = cli("sweep", path, "--executor", "serial", "--out", tmp_path / "sw", "--no-progress")
    assert res.exit_code == 0, res.stderr
    res = cli("results", tmp_path / "sw", "--assess")
    assert res.exit_code == 0 and res.stdout.count("\n") == 1 + 4


@pytest.mark.parametrize("args, needle", [
    (("--scenario", "no-such"), "unknown scenario"),
    (("--array-backend", "tpu"), "backend"),
    (("--executor", "threads"), "executor"),
    (("--device", "tpu"), "device"),
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
    bad = copy.deepcopy(TV)
    bad["grid"]["collective.alpha"] = [1.5]
    path.write_text(yaml.safe_dump(bad))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "alpha" in res.stderr
    path.write_text(yaml.safe_dump({**TV, "assess": {"against": "bound", "surprise": 1}}))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "surprise" in res.stderr
    path.write_text(yaml.safe_dump({**TV, "assess": {"flags": ["WRONG"]}}))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "unknown flag" in res.stderr
    no_assess = {k: v for k, v in TV.items() if k != "assess"}
    path.write_text(yaml.safe_dump(no_assess))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "no assess: section" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_quick_battery_reports_no_violation(tmp_path):
    run = run_stress(load_scenarios(), tmp_path / "q", quick=True, executor="serial")
    flagged = run.table[run.table["flags"].str.contains("VIOLATION|NAN", na=False)]
    assert flagged.empty, flagged[["scenario", "point", "alpha", "violation_cause"]].to_string()
    assert set(run.table["scenario"]) == {s.name for s in load_scenarios()}
    assert (run.table["seeds"] >= 2).all()


def test_chunked_run_equals_one_batch(tmp_path):
    one = _run(tmp_path, GAUSS).table
    tiny = copy.deepcopy(GAUSS)
    tiny["config"]["memory_budget_mb"] = 0.001  # one configuration per chunk
    many = run_stress([load_experiment(tiny)], tmp_path / "tiny", executor="serial").table
    for col in ("success", "clean_accuracy", "success_theory", "success_bound"):
        assert np.allclose(one[col], many[col]), col


def test_executors_give_identical_tables(tmp_path):
    serial = _run(tmp_path, GAUSS, TV).table
    pool = run_stress([load_experiment(GAUSS), load_experiment(TV)], tmp_path / "pool", executor="pool",
                      workers=2).table
    cols = ["success", "clean_accuracy", "success_theory", "success_bound", "flags"]
    pd.testing.assert_frame_equal(serial[cols], pool[cols])


def test_cli_lists_scenarios(cli):
    res = cli("stress", "--list", "--json")
    assert res.exit_code == 0
    names = [s["scenario"] for s in res.json()["scenarios"]]
    assert "tiny-collective" in names and "two-collectives" in names


def test_quick_seeds_override(tmp_path):
    sc = copy.deepcopy(TV)
    sc["seeds"] = 3
    sc["quick"] = {"seeds": 2}
    exp = load_experiment(sc)
    assert len(exp.cells()) == 12 and len(exp.cells(quick=True)) == 8
    bad = {**sc, "quick": {"seeds": 0}}
    from collective_action.errors import InputError

    with pytest.raises(InputError, match="seeds"):
        load_experiment(bad)


def test_assess_over_must_name_a_grid_axis(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TV, "assess": {"over": "n_test"}}))
    res = cli("stress", "--file", path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "not a grid axis" in res.stderr and not (tmp_path / "o").exists()
