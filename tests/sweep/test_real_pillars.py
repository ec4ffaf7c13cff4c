"""The runner on a shipped experiment file of a real pillar (theory: exact, cheap)."""

from __future__ import annotations

import pandas as pd
import yaml

from collective_action import load_experiment

from collective_action.experiments import experiment_files
from collective_action.figures import c1
from collective_action.figures.common import data_panels
from collective_action.runs.store import comparable
from collective_action.runs.sweep import run_sweep


def test_theory_file_gives_the_same_table_cell_by_cell_and_batched(tmp_path):
    files = [f for f in experiment_files("C1") if f.name == "c1_theory_bounds.yaml"]
    assert files, "c1_theory_bounds.yaml must be shipped with the package"
    raw = yaml.safe_load(files[0].read_text())
    raw["seeds"] = 3  # the shipped grid with fewer seeds keeps the default suite fast
    exp = load_experiment(raw)
    # one cell per pillar call vs batches of 5 (the pool path itself is tested with the toy pillar)
    serial = run_sweep(exp, tmp_path / "one", executor="serial", batch_size=1, quick=True, progress=False)
    pooled = run_sweep(exp, tmp_path / "batched", executor="serial", batch_size=5, quick=True, progress=False)
    a, b = serial.frame(), pooled.frame()
    assert serial.n_failed == pooled.n_failed == 0 and len(a) == serial.n_cells
    pd.testing.assert_frame_equal(comparable(a), comparable(b))
    # the bound never exceeds the exact success (the claim C1 is about), and the figure draws it
    assert (a["success_bound"] <= a["success"] + 1e-12).all()
    fig = c1.build(a)
    success_ax = data_panels(fig)[0]
    assert success_ax.get_xscale() == "log"
    styles = [line.get_linestyle() for line in success_ax.get_lines()]
    n_series = a["series"].nunique()
    assert styles.count("-") == styles.count("--") == n_series  # exact success and Hardt's bound, as lines
