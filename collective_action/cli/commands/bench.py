"""`collective-action bench NAME [ARGS...]`: run one benchmark of benchmarks/ (on demand).

The benchmarks are scripts in the source checkout's benchmarks/ folder, so that they can be read
and run without the CLI too (``python benchmarks/<name>.py``). This command finds that folder
(next to the package, or in the current folder) and runs the script in a fresh interpreter, since
a benchmark must not inherit this process's imports, threads or allocations. Every further
argument goes to the script, e.g. ``collective-action bench simulate --dtype float32 --write``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from ...errors import InputError, check_choice

#: command name -> (script, what it compares)
BENCHMARKS = {
    "simulate": ("simulate_bench.py", "batched simulator vs a scikit-learn loop, matched accuracy"),
    "simulate-logistic": ("simulate_logistic_bench.py", "batched fit_logistic vs scikit-learn, by GD steps"),
    "empirical": ("empirical_bench.py", "stacked MLPs vs one by one; a CNN epoch vs a plain loop"),
    "theory": ("theory_bench.py", "lambdified formulas vs sympy substitution"),
    "baselines": ("baselines_bench.py", "batched Newton vs scikit-learn (parallel), NumPy and torch batched Newton"),
    "critical-mass": ("critical_mass_bench.py", "adaptive critical-mass search vs a dense 16-point grid: trainings"),
    "sampling": ("sampling_bench.py", "family-2 sampling once per seed vs per-configuration and per-seed copied draws"),
    "startup": ("startup_bench.py", "a one-cell `train` run's start-up vs a plain PyTorch script's"),
    "stacking": ("stacking_bench.py", "empirical cells stacked (ERM, JTT, CVaR) vs one at a time"),
    "dp-sgd": ("dp_sgd_bench.py", "a DP-SGD epoch: ghost clipping vs stored per-point gradients (Opacus)"),
    "chunk-budget": ("chunk_budget_bench.py", "the Newton fit under several CPU chunk budgets (same parameters)"),
}


#: Runs a script as ``python SCRIPT ARGS`` would, except that a bad argument is one line
#: (argparse would print its whole usage first): ``bench NAME --typo`` is bad input like any other.
_RUN_SCRIPT = """
import argparse, os, runpy, sys
def _one_line(parser, message):
    sys.stderr.write(f"error: {parser.prog}: {' '.join(str(message).split())}\\n")
    sys.exit(2)
argparse.ArgumentParser.error = _one_line
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))  # as `python SCRIPT` sets it, not the cwd
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def benchmarks_folder() -> Path:
    """benchmarks/ of the source checkout: next to the package (an editable install or a run from
    the checkout), else in the current folder (the package installed from the checkout by
    .ci/setup, run from its root)."""
    for folder in (Path(__file__).resolve().parents[3] / "benchmarks", Path.cwd() / "benchmarks"):
        if all((folder / script).is_file() for script, _ in BENCHMARKS.values()):
            return folder
    raise InputError("benchmarks/ not found next to the package or in the current folder: run `bench` "
                     "from the root of a source checkout")


def register(app: typer.Typer) -> None:
    @app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                 help="Run a benchmark of benchmarks/ (" + ", ".join(BENCHMARKS) + "); further arguments "
                      "go to the script (e.g. --write appends the result to benchmarks/RESULTS.md; "
                      "`bench NAME -- --help` lists them).")
    def bench(
        ctx: typer.Context,
        name: str = typer.Argument(..., help=" | ".join(BENCHMARKS)),
    ) -> int:
        check_choice("benchmark", name, BENCHMARKS)
        script = benchmarks_folder() / BENCHMARKS[name][0]
        # the script's own exit status is the command's; its output streams through unchanged
        return subprocess.run([sys.executable, "-c", _RUN_SCRIPT, str(script), *ctx.args], check=False).returncode
