"""benchmarks/critical_mass_bench.py: the dense grid and the search at the grid's width.

Not timed: on a small family-1 case (the plug-in learner, four seeds) the dense side trains all
16 alphas per seed and the search rerun at each row's grid width closes its interval to that
width with fewer trainings.
"""

import importlib
import sys

from collective_action.cli.commands.bench import benchmarks_folder

FOLDER = benchmarks_folder()
if str(FOLDER) not in sys.path:
    sys.path.insert(0, str(FOLDER))
cb = importlib.import_module("critical_mass_bench")

SPEC = {
    "name": "bench-small", "pillar": "simulate", "seeds": 4,
    "config": {"family": "discrete", "collective": {"alpha": 0.1, "target": 0}, "learner": {"name": "plug-in"},
               "n_train": 200_000, "n_test": 5000,
               "discrete": {"n_points": 8, "n_labels": 3, "signal_size": 2, "problem_seed": 0}},
    "grid": {"collective.alpha": [0.002, 0.5]},
}


def test_dense_grid_and_the_search_at_its_width(tmp_path):
    dense, cells = cb.dense(SPEC, (0.5,), "success", tmp_path / "dense")
    assert cells == cb.GRID_POINTS * SPEC["seeds"] and len(dense) == 1
    width = float(dense["dense_ratio"].iloc[0])
    # one grid step over [0.002, 0.5] in log alpha is 250^(1/15) = 1.445: the grid's best
    assert width >= 250 ** (1 / 15) - 1e-9
    equal = cb.at_grid_width(SPEC, (0.5,), "success", dense)
    (row,) = equal.to_dict("records")
    assert row["equal_status"] == "found"
    assert row["equal_hi"] / row["equal_lo"] <= width * (1 + 1e-6)
    assert 0 < row["equal_trainings"] < cells
