"""benchmarks/memory_traffic.py: the op-by-op byte count the baselines benchmark reports.

Not timed. The count must be exact on operations whose traffic is known by hand, must not count
views, and must leave fit_logistic's answer unchanged.
"""

import importlib
import sys

import numpy as np

from collective_action.cli.commands.bench import benchmarks_folder
from collective_action.simulate.logistic import fit_logistic

FOLDER = benchmarks_folder()
if str(FOLDER) not in sys.path:
    sys.path.insert(0, str(FOLDER))
mt = importlib.import_module("memory_traffic")
bb = importlib.import_module("baselines_bench")


def test_counts_operands_and_results_of_each_op_and_not_views():
    backend, counter = mt.counting_backend()
    xp = backend.xp
    a = xp.asarray(np.ones((4, 5)))          # no copy: nothing moved
    assert counter[0] == 0
    b = a * 2.0                              # read a, write b
    assert counter[0] == 2 * a.nbytes
    c = a + b                                # read two, write one
    assert counter[0] == 5 * a.nbytes
    before = counter[0]
    t = xp.permute_dims(c, (1, 0))           # a view
    r = xp.reshape(c, (20,))                 # a view of a contiguous array
    assert counter[0] == before and t.shape == (5, 4) and r.shape == (20,)
    s = xp.sum(c, axis=1)                    # a reduction: read c, write 4 numbers
    assert counter[0] == before + c.nbytes + s.nbytes
    before = counter[0]
    m = xp.matmul(c, xp.ones((5, 3)))        # create (5, 3), then read both and write (4, 3)
    assert counter[0] == before + 5 * 3 * 8 + c.nbytes + 5 * 3 * 8 + m.nbytes
    before = counter[0]
    k = xp.ascontiguousarray(t)              # a transposed copy: read and write
    assert counter[0] == before + 2 * c.nbytes and k.flags.c_contiguous
    before = counter[0]
    x = xp.linalg.solve(xp.asarray(np.eye(3) * 2.0), xp.asarray(np.ones((3, 1))))
    np.testing.assert_allclose(np.asarray(x), 0.5)
    assert counter[0] == before + 9 * 8 + 3 * 8 + 3 * 8


def test_the_counted_fit_is_the_fit_and_its_traffic_grows_with_the_data():
    small = bb.draw(bb.make_benchmark_problem(), 20, 100, 10)
    large = bb.draw(bb.make_benchmark_problem(), 20, 400, 10)
    # the array kernel: its NumPy operations are what is counted (the fused kernel has none)
    kw = dict(n_classes=2, steps=25, l2=1e-3, solver="newton", tol=1e-6, newton_kernel="array")
    counts = []
    for batch in (small, large):
        moved, counted = mt.count_fit_traffic(batch.X, batch.y, **kw)
        plain = fit_logistic(batch.X, batch.y, backend="numpy", **kw)
        assert np.array_equal(np.asarray(counted.W), np.asarray(plain.W))
        assert np.array_equal(counted.steps_run, plain.steps_run)
        # at least one read of the features per Newton step taken
        assert moved > batch.X.nbytes * plain.steps_run.max()
        counts.append(moved)
    assert 2.5 < counts[1] / counts[0] < 6      # four times the points, about four times the bytes


def test_scaling_spreads():
    cells = [{"n": 200, "configs": 100, "fit_ns_per_point": 30.0}, {"n": 200, "configs": 1000, "fit_ns_per_point": 20.0},
             {"n": 2000, "configs": 100, "fit_ns_per_point": 24.0}]
    sc = bb.scaling(cells)
    assert sc["across_C"] == {200: 1.5} and sc["across_n"] == {100: 1.25} and sc["overall"] == 1.5
    assert bb.scaling([]) == {"ns_per_point": {}, "across_C": {}, "across_n": {}, "overall": None}


def test_stream_bandwidth_is_positive():
    bw = mt.stream_bandwidth(megabytes=8, repeats=2)
    assert bw["copy_gb_s"] > 0 and bw["read_gb_s"] > 0 and bw["best_gb_s"] == max(bw["copy_gb_s"], bw["read_gb_s"])
