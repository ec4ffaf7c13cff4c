"""`collective-action bench`: runs a benchmark script of benchmarks/ with its own arguments."""

import json
import subprocess
import sys

from collective_action.cli.commands.bench import BENCHMARKS, benchmarks_folder
from collective_action.cli.main import main


def test_every_listed_benchmark_exists():
    folder = benchmarks_folder()
    assert all((folder / script).is_file() for script, _ in BENCHMARKS.values())


def test_unknown_benchmark_is_one_line_exit_2(capsys):
    assert main(["bench", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown benchmark 'nope'" in err and "theory" in err


def test_bench_runs_the_script_with_the_given_arguments():
    # a real (small) run of the theory benchmark: lambdified vs sympy values, timed in one run
    out = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "theory",
                          "--points", "2", "--numeric-points", "1000", "--json"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == 7
    assert all(r["speedup"] > 1 and r["max_abs_difference"] < 1e-9 for r in rows)


def test_a_benchmark_given_bad_input_says_one_line_and_exits_2():
    # an unknown backend is bad input on every machine, with a GPU or without
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "simulate",
                           "--backend", "nope", "--configs", "10"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: unknown backend 'nope'")


def test_the_critical_mass_benchmark_trains_both_sides_and_counts_per_group():
    # both cases for real with 2 seeds (seconds): the adaptive search spends fewer trainings than the grid
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "critical-mass",
                           "--seeds", "2"], capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr  # 1: the one-third goal missed, which is a result
    text = done.stdout
    assert "`python benchmarks/critical_mass_bench.py --seeds 2`" in text
    assert text.count("; 2 seeds)") == 2
    ratios = [float(line.split("**ratio ")[1].split("**")[0]) for line in text.splitlines() if "**ratio " in line]
    assert len(ratios) == 2 and all(0 < r < 1 for r in ratios)
    groups = [line for line in text.splitlines() if line.startswith("| problem_seed=") or line.startswith("| learner=")]
    assert len(groups) == 10
    cols = [[c.strip() for c in line.strip().strip("|").split("|")] for line in groups]
    assert all(c[8] == "32" for c in cols)  # the dense grid: 16 alphas x 2 seeds
    # the search rerun at the grid's width: an interval and fewer trainings than the grid, per row
    assert all(c[9] in ("found", "limited-by-seeds", "budget") and 0 < int(c[11]) < 32 for c in cols)
    assert text.count(" of the grid's trainings.") == 2


def test_the_critical_mass_benchmark_refuses_one_seed_in_one_line():
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "critical-mass",
                           "--seeds", "1"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == "error: --seeds must be at least 2 (intervals over seeds), got 1\n"


def test_the_chunk_budget_benchmark_times_every_setting_on_the_same_parameters():
    # a real quick run; 0.05 MB puts one configuration in each chunk (spread over two threads too),
    # and the script itself stops with an error if any setting's parameters differ from the first's
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "chunk-budget", "--quick",
                           "--budgets-mb", "0.05", "4", "--threads", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["default_mb"] == 16
    for size in result["sizes"]:
        settings = [(r["budget_mb"], r["threads"]) for r in size["rows"]]
        assert settings == [(0.05, 1), (0.05, 2), (4.0, 1), (4.0, 2), ("default", 1), ("default", 2)]
        assert all(r["fit_s"] > 0 for r in size["rows"])
        assert next(r for r in size["rows"] if (r["budget_mb"], r["threads"]) == (4.0, 1))["vs_former"] == 1.0


def test_the_chunk_budget_benchmark_refuses_a_budget_of_zero_in_one_line():
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "chunk-budget",
                           "--budgets-mb", "0"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--budgets-mb must be positive" in done.stderr


def test_the_sampling_benchmark_draws_the_same_arrays_on_every_side():
    # a real quick run; the script asserts that both baselines' arrays equal the toolkit's
    done = subprocess.run([sys.executable, "-m", "collective_action.cli.main", "bench", "sampling", "--quick",
                           "--repeats", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 200 ") or line.startswith("| 2000 ")]
    assert len(rows) == 2
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(float(c) > 0 for c in cells[3:6])
        assert all(float(c.strip("*x")) > 0 for c in cells[6:8])
