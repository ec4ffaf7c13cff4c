"""The console script's start-up: the package's shared names load on first use, and `run()` (the
console script) defers the collector's full collections during the imports of a CLI run and skips
the one at exit, without changing what the run writes or returns. Each check runs in a fresh
interpreter outside the checkout, so that the installed package is the one imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import yaml

# one MLP on scikit-learn's digits with a 4x4 patch collective: the smallest real `train` run
ONE_CELL = yaml.safe_dump({
    "name": "startup-check", "pillar": "empirical", "seeds": 1,
    "config": {"data": {"name": "digits", "val_size": 200},
               "collective": {"alpha": 0.1, "strategy": "feature-label", "target": 8},
               "signal": {"kind": "patch", "place": "center", "size": 4}, "learner": {"name": "erm"},
               "train": {"model": "mlp", "width": 16, "epochs": 2, "batch_size": 64, "lr": 0.05},
               "selection": {"validation": "clean", "metric": "last"}}})

# Counts full (oldest-generation) collections until the command returns, then runs it as the
# console script does (run) or as an in-process caller does (main).
COUNTING = """\
import gc, json, sys
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None)
side, *argv = sys.argv[1:]
sys.argv = ["collective-action", *argv]
try:
    if side == "run":
        from collective_action.cli import run
        run()
    else:
        from collective_action.cli.main import main
        sys.exit(main())
except SystemExit as done:
    sys.stderr.write(json.dumps({"code": done.code, "full": len(full)}) + "\\n")
    raise
"""


def _python(code: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd)


def test_package_names_load_on_first_use(tmp_path):
    code = ("import sys, json, collective_action as ca\n"
            "before = sorted(m for m in ('pandas', 'pydantic', 'collective_action.results') if m in sys.modules)\n"
            "star = {}\n"
            "exec('from collective_action import *', star)\n"
            "print(json.dumps({'before': before, 'star': sorted(k for k in star if not k.startswith('__')),\n"
            "                  'all': sorted(n for n in ca.__all__ if n != '__version__'),\n"
            "                  'same': ca.Collective is __import__('collective_action.collective').collective.Collective,\n"
            "                  'dir': set(ca.__all__) <= set(dir(ca))}, default=list))\n"
            "try:\n    ca.no_such_name\nexcept AttributeError as err:\n    print(err)\n")
    proc = _python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.strip().splitlines()
    got = json.loads(first)
    assert got["before"] == []  # a bare import pays for neither pandas nor pydantic
    assert got["star"] == got["all"] and len(got["all"]) == 17
    assert got["same"] and got["dir"]
    assert "no_such_name" in second


def test_run_defers_full_collections_and_writes_the_same_results(tmp_path):
    (tmp_path / "one.yaml").write_text(ONE_CELL)
    counts, frames = {}, {}
    for side in ("main", "run"):
        proc = _python(COUNTING, side, "train", "one.yaml", "--out", side, "--no-progress", "--threads", "1",
                       cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stderr.strip().splitlines()[-1])
        assert report["code"] == 0
        counts[side] = report["full"]
        frames[side] = pd.read_parquet(tmp_path / side / "results.parquet")
    # the default thresholds walk the whole heap during the imports; the console script does not
    assert counts["main"] >= 1 and counts["run"] < counts["main"], counts
    cols = ["success", "clean_accuracy", "alpha_realised", "n_train", "cell_id"]
    pd.testing.assert_frame_equal(frames["main"][cols], frames["run"][cols])


def test_run_returns_the_exit_code_of_bad_input(tmp_path):
    proc = _python(COUNTING, "run", "train", "missing.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and "Traceback" not in proc.stderr
    assert json.loads(lines[-1])["code"] == 2


def test_pool_workers_defer_full_collections_and_the_caller_keeps_its_settings():
    import gc

    from collective_action.gc_settings import FULL_COLLECTION_THRESHOLD
    from collective_action.runs.executors import WorkerPool

    before = gc.get_threshold()
    with WorkerPool(workers=1, threads=1) as pool:
        in_worker = pool.executor().submit(gc.get_threshold).result(timeout=120)
    assert in_worker[2] == FULL_COLLECTION_THRESHOLD and in_worker[:2] == before[:2]
    assert gc.get_threshold() == before  # a library caller's interpreter is left as it was


def test_lazy_exports_match_the_imports_type_checkers_see():
    # _EXPORTS (what runs) and the TYPE_CHECKING block (what IDEs see) are written twice: a name
    # added to one and not the other, or pointed at another module, fails here
    import ast
    import inspect

    import collective_action as ca

    tree = ast.parse(inspect.getsource(ca))
    guarded = [node for node in tree.body if isinstance(node, ast.If)
               and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    assert len(guarded) == 1
    seen = {alias.name: node.module for node in guarded[0].body if isinstance(node, ast.ImportFrom)
            for alias in node.names}
    assert seen == ca._EXPORTS
    for name, module in ca._EXPORTS.items():  # every name resolves to the object its module defines
        assert getattr(ca, name) is getattr(__import__(f"collective_action.{module}", fromlist=[name]), name)
