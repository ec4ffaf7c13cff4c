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
