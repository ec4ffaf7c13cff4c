"""The sweep runner and its store: resume after SIGKILL, failures, corruption, export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from collective_action.runs.store import ResultStore, comparable
from collective_action.runs.sweep import read_results, run_sweep

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "sweep_driver.py"


def _driver(*args, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches the pool workers too
        **kwargs,
    )


def _done_count(out) -> int:
    path = out / "results.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM cells WHERE status='done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted_run(toy, write_experiment, tmp_path):
    exp = write_experiment(extra_config="sleep_s: 0.2\n")
    reference = run_sweep(exp, tmp_path / "reference", executor="serial", progress=False).frame()
    assert len(reference) == 24

    out = tmp_path / "killed"
    for kill_after in (3, 8):  # kill twice, at different points of the sweep
        proc = _driver("sweep", exp, "--out", out, "--workers", "2", "--batch-size", "1", "--no-progress")
        deadline = time.time() + 120
        while _done_count(out) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"sweep ended before it could be killed: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        stored = _done_count(out)
        assert kill_after <= stored < 24

    proc = _driver("sweep", exp, "--out", out, "--no-progress", "--json")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["already_stored"] == stored and summary["ran"] == 24 - stored

    with ResultStore.open(out) as store:
        resumed = store.frame()
        assert store.count() == 24
    assert resumed["cell_id"].is_unique
    pd.testing.assert_frame_equal(comparable(resumed), comparable(reference))


def test_pool_and_serial_agree_and_rerun_skips_everything(toy, write_experiment, tmp_path):
    exp = write_experiment()
    serial = run_sweep(exp, tmp_path / "s", executor="serial", progress=False)
    pool = run_sweep(exp, tmp_path / "p", executor="pool", workers=2, batch_size=5, progress=False)
    pd.testing.assert_frame_equal(comparable(serial.frame()), comparable(pool.frame()))
    again = run_sweep(exp, tmp_path / "p", executor="pool", progress=False)
    assert again.n_skipped == 24 and again.n_run == 0
    frame = pool.frame()
    # real numbers: success grows with alpha on average, and every row carries its provenance
    means = frame.groupby("alpha")["success"].mean()
    assert means.loc[0.3] > means.loc[0.01]
    for col in ("config", "seed", "package_version", "sweep_backend", "started_at", "finished_at", "wall_s"):
        assert frame[col].notna().all(), col
    assert set(frame["sweep_backend"]) == {"pool"} and set(frame["device"]) == {"cpu"}
    assert json.loads(frame["config"].iloc[0])["n_points"] == 300


def test_pool_worker_death_is_retried(toy, write_experiment, tmp_path):
    marker = tmp_path / "crashed-once"
    exp = write_experiment(extra_config=f"crash_marker: {marker}\n")
    report = run_sweep(exp, tmp_path / "out", executor="pool", workers=2, batch_size=4, progress=False)
    assert marker.exists(), "the worker never crashed, so the retry was not exercised"
    assert report.n_failed == 0 and len(report.frame()) == 24


def test_failing_cell_is_recorded_and_does_not_stop_the_sweep(toy, write_experiment, tmp_path, cli):
    exp = write_experiment()
    body = exp.read_text().replace("learner: [majority, smoothed]", "learner: [majority, smoothed]\n  fail: [false, true]")
    exp.write_text(body)
    out = tmp_path / "out"
    res = cli("sweep", exp, "--out", out, "--executor", "serial", "--batch-size", "4", "--no-progress", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout.splitlines()[0])["failed"] == 24
    with ResultStore.open(out) as store:
        assert store.count("done") == 24 and store.count("failed") == 24
        failures = store.failures()
    assert failures["error"].str.contains("RuntimeError: cell with seed").all()
    listed = cli("results", out, "--failed", "--format", "csv")
    assert listed.exit_code == 0 and len(pd.read_csv(pd.io.common.StringIO(listed.stdout))) == 24


def test_rerun_retries_failed_cells_and_keeps_done_ones(toy, write_experiment, tmp_path, cli):
    marker = tmp_path / "fixed"
    exp = write_experiment(extra_config=f"fail_marker: {marker}\n")
    out = tmp_path / "out"
    first = cli("sweep", exp, "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert first.exit_code == 1 and json.loads(first.stdout.splitlines()[0])["failed"] == 8  # seed 0 of 8 configs
    with ResultStore.open(out) as store:
        done_before = store.frame().set_index("cell_id")["finished_at"]
    marker.write_text("the cause is fixed")
    second = cli("sweep", exp, "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert second.exit_code == 0
    summary = json.loads(second.stdout)
    assert summary["already_stored"] == 16 and summary["ran"] == 8 and summary["failed"] == 0
    with ResultStore.open(out) as store:
        assert store.count("done") == 24 and store.count("failed") == 0
        after = store.frame().set_index("cell_id")["finished_at"]
    assert (after[done_before.index] == done_before).all()  # done cells were not recomputed


def test_other_experiment_in_the_same_folder_needs_resume(toy, write_experiment, tmp_path, cli):
    first = write_experiment()
    out = tmp_path / "out"
    assert cli("sweep", first, "--out", out, "--executor", "serial", "--no-progress").exit_code == 0
    other = write_experiment(name="other.yaml")
    other.write_text(other.read_text().replace("name: toy-sweep", "name: toy-other").replace("n_points: 300", "n_points: 200"))
    res = cli("sweep", other, "--out", out, "--executor", "serial", "--no-progress")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "toy-sweep" in res.stderr
    res = cli("sweep", other, "--out", out, "--executor", "serial", "--no-progress", "--resume")
    assert res.exit_code == 0
    assert set(read_results(out)["experiment"]) == {"toy-sweep", "toy-other"}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "checksum", "foreign"])
def test_corrupt_store_is_reported_never_used(toy, write_experiment, tmp_path, cli, damage):
    out = tmp_path / "out"
    run_sweep(write_experiment(), out, executor="serial", progress=False)
    path = out / "results.sqlite"
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(8192))
    elif damage == "checksum":
        with sqlite3.connect(path) as conn:  # flip one number inside a stored cell
            cell_id, rows = conn.execute("SELECT cell_id, rows FROM cells LIMIT 1").fetchone()
            conn.execute("UPDATE cells SET rows=? WHERE cell_id=?", (rows.replace('"seed"', '"seed" ', 1), cell_id))
    else:
        path.unlink()
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE something (x)")
    res = cli("results", out)
    if damage == "checksum":  # one damaged cell: skipped with its id named, never used
        assert res.exit_code == 0 and "skipped 1 cell" in res.stderr and cell_id in res.stderr
        assert cell_id not in res.stdout
        # the same sweep recomputes it, and then every cell is back
        res = cli("sweep", write_experiment(), "--out", out, "--executor", "serial", "--no-progress")
        assert res.exit_code == 0 and "damaged rows and run again" in res.stderr
        assert cell_id in cli("results", out).stdout
        return
    assert res.exit_code == 2, res.stdout[:200]
    assert res.stderr.count("\n") == 1 and "results store" in res.stderr
    damaged = path.read_bytes()
    # a run never overwrites it: the store is set aside byte for byte and the sweep starts afresh
    res = cli("sweep", write_experiment(), "--out", out, "--executor", "serial", "--no-progress")
    assert res.exit_code == 0 and "moved aside" in res.stderr, res.stderr
    aside = list(out.glob("results.sqlite.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert len(read_results(out)) == 24


def test_results_export_round_trips(toy, write_experiment, tmp_path, cli):
    out = tmp_path / "out"
    run_sweep(write_experiment(), out, executor="serial", progress=False)
    stored = read_results(out)
    for fmt in ("csv", "json", "parquet"):
        target = tmp_path / f"export.{fmt}"
        res = cli("results", out, "--format", fmt, "--output", target)
        assert res.exit_code == 0, res.stderr
        back = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](target)
        assert len(back) == len(stored) == 24
        assert sorted(back["cell_id"]) == sorted(stored["cell_id"])
        merged = back.set_index("cell_id")["success"].sort_index()
        assert (merged - stored.set_index("cell_id")["success"].sort_index()).abs().max() < 1e-12
    res = cli("results", out, "--format", "parquet")
    assert res.exit_code == 2 and "--output" in res.stderr
    res = cli("results", tmp_path / "nowhere")
    assert res.exit_code == 2 and "no results store" in res.stderr


def test_parquet_export_of_a_column_mixing_lists_and_numbers(tmp_path, cli):
    from collective_action.runs.store import CellOutcome

    with ResultStore.open(tmp_path / "out", create=True) as store:
        for i, extra in enumerate(([0.1, 0.2, 0.3], float("nan"))):
            record = {"alpha": 0.1, "learner": "erm", "success": 0.5, "alpha_eff_trajectory": extra,
                      "note": {"k": 1} if i == 0 else 2.5}  # a mapping next to a number: not one Arrow type
            store.write(CellOutcome(f"c{i}", "exp", "simulate", i, {"i": i}, [record], None, "serial", "h", "a", "b",
                                    0.0), "test")
    target = tmp_path / "mixed.parquet"
    res = cli("results", tmp_path / "out", "--format", "parquet", "--output", target)
    assert res.exit_code == 0, res.stderr
    value = pd.read_parquet(target)["alpha_eff_trajectory"][0]
    assert list(json.loads(value) if isinstance(value, str) else value) == [0.1, 0.2, 0.3]


def test_store_whose_creation_was_interrupted_is_started_afresh(toy, write_experiment, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.sqlite").write_bytes(b"")  # SIGKILL between creating the file and its schema
    report = run_sweep(write_experiment(), out, executor="serial", progress=False)
    assert report.n_run == 24 and len(report.frame()) == 24
