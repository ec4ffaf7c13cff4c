"""A Ray worker killed in the middle of a sweep: Ray retries its batch, the sweep ends with every
cell stored once, and the rows equal a serial run's (slow: starts a local Ray cluster)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

# 8 seeds x 5 alphas, one cell per batch: the run lasts long enough that a batch is always in
# flight when the test looks for a worker to kill (the skip below is a safeguard, not the usual path)
SPEC = {"name": "ray-kill", "pillar": "simulate", "seeds": 8,
        "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
                   "learner": {"name": "erm", "params": {"steps": 400}}, "n_train": 20000, "n_test": 2000},
        "grid": {"collective.alpha": [0.01, 0.02, 0.05, 0.1, 0.2]}}
N_CELLS = 8 * 5


def _worker_pids() -> list[int]:
    """Processes running a sweep batch on a Ray worker (Ray names them after the task)."""
    out = subprocess.run(["pgrep", "-f", "ray::run_batch"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _done(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM cells WHERE status='done'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_killed_ray_worker_is_retried_and_no_cell_is_lost_or_doubled(tmp_path):
    pytest.importorskip("ray")
    if subprocess.run(["which", "pgrep"], capture_output=True).returncode != 0:
        pytest.skip("pgrep is not available to find the Ray worker")
    path = tmp_path / "ray.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    exe = str(Path(sys.executable).with_name("collective-action"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ray"
    proc = subprocess.Popen([exe, "sweep", str(path), "--executor", "ray", "--workers", "2", "--batch-size", "1",
                             "--array-backend", "numpy", "--no-progress", "--json", "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and killed is None:
        if _done(out / "results.sqlite") >= 2:  # mid-run: some cells stored, others in flight
            pids = _worker_pids()
            if pids:
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=300)
    if killed is None:
        pytest.skip("the sweep finished before a worker could be caught running a batch")
    assert proc.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["failed"] == 0 and report["ran"] == N_CELLS
    with sqlite3.connect(out / "results.sqlite") as con:
        ids = [r[0] for r in con.execute("SELECT cell_id FROM cells WHERE status='done'")]
    assert len(ids) == len(set(ids)) == N_CELLS
    serial = tmp_path / "serial"
    done = subprocess.run([exe, "sweep", str(path), "--executor", "serial", "--array-backend", "numpy",
                           "--no-progress", "--out", str(serial)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    def rows(folder):
        text = subprocess.run([exe, "results", str(folder), "--format", "json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True).stdout
        return sorted((r["cell_id"], r["success"], r["clean_accuracy"]) for r in json.loads(text))

    assert rows(out) == rows(serial)
