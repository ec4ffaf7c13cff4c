"""benchmarks/dp_sgd_bench.py runs end to end (small, in this process) and its sides train alike;
benchmarks/results_log.py appends a run's heading and table. Not timed."""

import importlib
import sys

from collective_action.cli.commands.bench import benchmarks_folder

FOLDER = benchmarks_folder()
if str(FOLDER) not in sys.path:  # as `python benchmarks/dp_sgd_bench.py` sets it
    sys.path.insert(0, str(FOLDER))


def test_both_clipping_modes_train_the_same_mlp_for_an_epoch():
    bench = importlib.import_module("dp_sgd_bench")
    (row,) = bench.measure(n=600, repeats=1, quick=True)
    assert row["model"].startswith("MLP")
    # ghost clipping and stored per-point gradients: the same epoch to float32 rounding
    assert row["max_param_difference"] < 1e-5
    assert "| MLP 784-256-10 | 600 |" in bench.table([row])


def test_append_run_writes_heading_command_and_body(tmp_path):
    log = importlib.import_module("results_log")
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmarks\n")
    log.append_run("A title", "python benchmarks/x.py --quick", "medians of 3", "| a |\n|---|", path=path)
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n### A title (")  # appended, nothing before it lost
    assert "`python benchmarks/x.py --quick`, medians of 3; load average at the end [" in text
    assert text.endswith("| a |\n|---|\n")
