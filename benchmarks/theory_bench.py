"""Theory benchmark: lambdified grid evaluation versus sympy substitution on the same grid.

Run on demand (not a test):  python benchmarks/theory_bench.py [--points 400]

For each derived formula it evaluates the same random grid twice, through the compiled NumPy
function (``Formula.numeric``) and through exact ``expr.subs`` + ``float``, checks that both agree,
and reports the time per point of each and their ratio, all measured in this one run.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import sympy as sp

from collective_action.theory import (
    critical_mass_formula,
    cvar_formula,
    finite_sample_margin,
    hardt_bound_formula,
    jtt_formula,
    weighted_risk_lemma,
)

_COUNTS = {"n": (10, 100), "N": (200, 1000), "n_Xstar": (1, 5), "n_Y": (2, 5), "lambda": (1, 30)}


def _grid(formula, size, rng):
    return [rng.uniform(*_COUNTS.get(s.name, (0.01, 0.45)), size=size) for s in formula.symbols]


def bench(formula, n_subs: int, n_numeric: int, rng) -> dict:
    args = _grid(formula, n_numeric, rng)
    formula.numeric(*[a[:2] for a in args])  # compile once, outside the timing
    t0 = time.perf_counter()
    fast = formula.numeric(*args)
    t_numeric = (time.perf_counter() - t0) / n_numeric
    t0 = time.perf_counter()
    slow = np.array([float(formula.expr.subs({s: sp.Float(a[i]) for s, a in zip(formula.symbols, args)}))
                     for i in range(n_subs)])
    t_subs = (time.perf_counter() - t0) / n_subs
    max_err = float(np.max(np.abs(fast[:n_subs] - slow)))
    return {"formula": formula.name, "numeric_s_per_point": t_numeric, "subs_s_per_point": t_subs,
            "speedup": t_subs / t_numeric, "max_abs_difference": max_err}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=400, help="grid points evaluated by subs")
    parser.add_argument("--numeric-points", type=int, default=1_000_000,
                        help="grid points evaluated by the lambdified function")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    formulas = [hardt_bound_formula("contamination"), hardt_bound_formula("tv"),
                critical_mass_formula("contamination"), weighted_risk_lemma(), jtt_formula(),
                cvar_formula(), finite_sample_margin()]
    for formula in formulas:
        row = bench(formula, opts.points, opts.numeric_points, rng)
        if opts.json:
            print(json.dumps(row))
        else:
            print(f"{row['formula']:32s} lambdify {row['numeric_s_per_point'] * 1e9:9.1f} ns/pt   "
                  f"subs {row['subs_s_per_point'] * 1e6:9.1f} us/pt   ratio {row['speedup']:10.0f}x   "
                  f"max |diff| {row['max_abs_difference']:.1e}")


if __name__ == "__main__":
    from collective_action.errors import run_script

    run_script(main)
