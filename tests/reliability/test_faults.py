"""Faults during a real `collective-action sweep` (a subprocess of the installed command): SIGKILL at
random moments, damaged rows, a damaged header, a full disk, lost write access. After each, the
store is consistent, the command ended with one line (or was killed), and running the same command
again ends with a store equal to an uninterrupted run's (apart from timing columns).

Every subprocess runs in the test's tmp folder: a checkout's root as the working folder would put
the source folder ahead of the installed package.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from collective_action.runs.store import ResultStore, comparable

COMMAND = Path(sys.executable).with_name("collective-action")
N_CELLS = 48
EXPERIMENT = """\
name: fault-sweep
pillar: simulate
seeds: 4
config:
  family: gaussian
  collective: {alpha: 0.05, target: 1}
  learner: {name: erm, params: {steps: 1500}}
  n_train: 4000
  n_test: 2000
grid:
  collective.alpha: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3]
  n_test: [2000, 3000]
"""
# one cell per batch: each finished cell is committed on its own, so a kill can land between any two
SWEEP = ["--batch-size", "1", "--no-progress"]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _run(args, cwd, preexec_fn=None, timeout=300):
    return subprocess.run([str(COMMAND), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env(), preexec_fn=preexec_fn)


def _without_root_override():
    """In the child: drop the capabilities that let root write anywhere, so that a folder's
    permissions bind it as they bind any user (chmod alone does not stop root)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _one_line(done) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-3000:]
    return lines[0]


def _frame(out: Path) -> pd.DataFrame:
    with ResultStore.open(out) as store:
        assert store.damaged_ids() == [] and store.count("failed") == 0
        return comparable(store.frame())


def _done_cells(out: Path) -> int:
    """Done cells in a store a killed run left behind, after SQLite's own integrity check."""
    path = out / "results.sqlite"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "cells" not in tables:  # killed before the schema was committed
            return 0
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT COUNT(*) FROM cells WHERE status='done'").fetchone()[0]
    finally:
        conn.close()


def _tree(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its comparable frame, store and duration."""
    root = tmp_path_factory.mktemp("reference")
    (root / "exp.yaml").write_text(EXPERIMENT)
    t0 = time.perf_counter()
    done = _run(["sweep", "exp.yaml", "--out", "out", "--executor", "serial", *SWEEP, "--json"], root)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    frame = _frame(root / "out")
    assert len(frame) == N_CELLS and frame["cell_id"].is_unique
    return {"frame": frame, "store": root / "out" / "results.sqlite", "seconds": seconds}


@pytest.fixture
def exp(tmp_path):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    return tmp_path / "exp.yaml"


def _rerun_equals_reference(tmp_path, out, reference, already_stored=None, executor="serial", preexec_fn=None):
    done = _run(["sweep", "exp.yaml", "--out", out, "--executor", executor, *SWEEP, "--json"], tmp_path,
                preexec_fn=preexec_fn)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    if already_stored is not None:  # it resumed: the stored cells were not run again
        assert summary["already_stored"] == already_stored and summary["ran"] == N_CELLS - already_stored
    pd.testing.assert_frame_equal(_frame(tmp_path / out), reference["frame"])
    return summary


# ------------------------------------------------------------------------------------------ SIGKILL


def _kill_at_random_moment(tmp_path, reference, seed: int, executor: str):
    rng = random.Random(seed)
    # anywhere from start-up (no store yet) through creation, mid-run, to just after the end
    delay = rng.uniform(0.0, 1.1 * reference["seconds"] + (2.0 if executor == "pool" else 0.0))
    args = ["sweep", "exp.yaml", "--out", "out", "--executor", executor, *SWEEP]
    if executor == "pool":
        args += ["--workers", "2"]
    proc = subprocess.Popen([str(COMMAND), *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), start_new_session=True)  # its own group: the pool's workers die too
    time.sleep(delay)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had already finished: the rerun must then run nothing
    proc.communicate(timeout=60)
    stored = _done_cells(tmp_path / "out")
    summary = _rerun_equals_reference(tmp_path, "out", reference, already_stored=stored)
    return delay, stored, summary


@pytest.mark.parametrize("seed, executor", [(101, "serial"), (202, "pool")])
def test_sigkill_at_a_random_moment_then_rerun_equals_uninterrupted(exp, tmp_path, reference, seed, executor):
    _kill_at_random_moment(tmp_path, reference, seed, executor)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(24))
def test_sigkill_at_random_moments_many(exp, tmp_path, reference, seed):
    _kill_at_random_moment(tmp_path, reference, 1000 + seed, "pool" if seed % 3 == 2 else "serial")


def test_sigkill_mid_run_keeps_every_committed_cell(exp, tmp_path, reference):
    """A kill while cells are being stored (not at a random moment): some but not all are kept."""
    proc = subprocess.Popen([str(COMMAND), "sweep", "exp.yaml", "--out", "out", "--executor", "serial", *SWEEP],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                            start_new_session=True)
    deadline = time.time() + 120
    while _done_cells(tmp_path / "out") < 10 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    stored = _done_cells(tmp_path / "out")
    assert 10 <= stored < N_CELLS
    _rerun_equals_reference(tmp_path, "out", reference, already_stored=stored)


# ------------------------------------------------------------------------------------------ damage


def test_damaged_rows_are_skipped_named_and_recomputed(exp, tmp_path, reference):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(reference["store"], out / "results.sqlite")
    with sqlite3.connect(out / "results.sqlite") as conn:
        ids = [r[0] for r in conn.execute("SELECT cell_id FROM cells ORDER BY cell_id LIMIT 3")]
        rows = conn.execute("SELECT rows FROM cells WHERE cell_id=?", (ids[0],)).fetchone()[0]
        conn.execute("UPDATE cells SET rows=? WHERE cell_id=?", (rows.replace('"success": 0', '"success": 1', 1)
                                                                  if '"success": 0' in rows else rows + " ", ids[0]))
        conn.execute("UPDATE cells SET rows=NULL WHERE cell_id=?", (ids[1],))
        conn.execute("UPDATE cells SET rows=substr(rows, 1, 40) WHERE cell_id=?", (ids[2],))
    conn.close()

    listed = _run(["results", "out"], tmp_path)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert "skipped 3 cell(s)" in listed.stderr and all(i in listed.stderr for i in ids)
    assert not any(i in listed.stdout for i in ids) and listed.stdout.count("\n") == N_CELLS - 3 + 1

    summary = _rerun_equals_reference(tmp_path, "out", reference)
    assert summary["ran"] == 3 and summary["already_stored"] == N_CELLS - 3


@pytest.mark.parametrize("damage", ["magic", "random-header", pytest.param("page-size", marks=pytest.mark.slow),
                                    pytest.param("zeroed-header", marks=pytest.mark.slow)])
def test_a_damaged_header_is_refused_by_readers_and_set_aside_by_a_run(exp, tmp_path, reference, damage):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "results.sqlite"
    data = bytearray(reference["store"].read_bytes())
    if damage == "magic":
        data[0:16] = b"NotSQLite format"
    elif damage == "page-size":
        data[16:18] = b"\x00\x03"
    elif damage == "random-header":
        data[0:100] = random.Random(7).randbytes(100)
    else:
        data[0:100] = bytes(100)
    path.write_bytes(bytes(data))
    before = _tree(out)
    for args in (["results", "out"], ["plot", "out", "--claim", "C1"]):
        done = _run(args, tmp_path)
        assert done.returncode == 2, (args, done.stderr[-2000:])
        line = _one_line(done)
        assert str(Path("out") / "results.sqlite") in line and "move it away" in line
        assert _tree(out) == before  # the file is byte for byte what it was, and nothing was added
    # a run sets the damaged store aside under another name (byte for byte) and computes afresh
    summary = _rerun_equals_reference(tmp_path, "out", reference)
    assert summary["ran"] == N_CELLS
    aside = sorted(out.glob("results.sqlite.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data)


# ------------------------------------------------------------------------------------------ disk full


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: room for the store's first cells, not for all 48 (about 5 KiB each)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): {made.stderr.strip()}")
    cwd = os.getcwd()
    yield disk
    os.chdir(tmp_path.parent)  # a mount is busy while it is the working folder
    subprocess.run(["umount", str(disk)], check=False)
    os.chdir(cwd)  # later tests resolve paths from the folder the suite started in


@pytest.mark.parametrize("when", ["mid-run", "before-the-store"])
def test_disk_full_keeps_the_store_consistent_and_is_one_line(exp, tmp_path, reference, small_disk, when):
    if when == "before-the-store":  # nothing left at all: the store cannot even be made
        fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
    done = _run(["sweep", "exp.yaml", "--out", small_disk / "out", "--executor", "serial", *SWEEP], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    line = _one_line(done)
    assert "results store" in line and "full" in line, line
    stored = _done_cells(small_disk / "out")
    if when == "mid-run":
        assert 0 < stored < N_CELLS and f"{stored} of {N_CELLS} cells are stored" in line
        assert "run the same command again" in line
        # what was stored is exactly the uninterrupted run's rows for those cells
        with ResultStore.open(small_disk / "out") as store:
            partial = comparable(store.frame())
        expected = reference["frame"][reference["frame"]["cell_id"].isin(partial["cell_id"])]
        pd.testing.assert_frame_equal(partial, expected.reset_index(drop=True))
        # a second try on the still-full disk: one line again, and the store is unchanged
        again = _run(["sweep", "exp.yaml", "--out", small_disk / "out", "--executor", "serial", *SWEEP], tmp_path)
        assert again.returncode == 2 and "full" in _one_line(again)
        assert _done_cells(small_disk / "out") == stored
    else:
        assert stored == 0
        (small_disk / "filler").unlink()
    # make room, run the same command again: it resumes and ends equal to an uninterrupted run
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    _rerun_equals_reference(tmp_path, small_disk / "out", reference, already_stored=stored)


# ------------------------------------------------------------------------------------------ permissions


@pytest.mark.parametrize("what", ["folder", "store-file"])
def test_write_access_lost_before_a_rerun_is_one_line_and_changes_nothing(exp, tmp_path, reference, what):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(reference["store"], out / "results.sqlite")
    with sqlite3.connect(out / "results.sqlite") as conn:  # a run that stored only some cells
        conn.execute("DELETE FROM cells WHERE rowid % 3 = 0")
    conn.close()
    stored = _done_cells(out)
    before = _tree(out)
    target = out if what == "folder" else out / "results.sqlite"
    target.chmod(0o555 if what == "folder" else 0o444)
    try:
        done = _run(["sweep", "exp.yaml", "--out", "out", "--executor", "serial", *SWEEP], tmp_path,
                    preexec_fn=_without_root_override)
        assert done.returncode == 2, done.stderr[-2000:]
        assert "not writable" in _one_line(done) or "cannot" in _one_line(done)
        assert _tree(out) == before
    finally:
        target.chmod(0o755 if what == "folder" else 0o644)
    _rerun_equals_reference(tmp_path, "out", reference, already_stored=stored, preexec_fn=_without_root_override)


def test_write_access_lost_mid_run_is_one_line_and_the_store_stays_whole(exp, tmp_path, reference):
    """`simulate` loses write access to its folder while cells are being stored: the open store
    keeps taking cells, the exports written after the run cannot be made: one line, and the
    store holds every cell; with access back, the same command reruns nothing."""
    out = tmp_path / "out"
    proc = subprocess.Popen([str(COMMAND), "simulate", "exp.yaml", "--out", "out", *SWEEP], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            preexec_fn=_without_root_override)
    deadline = time.time() + 120
    while _done_cells(out) < 5 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before write access could be taken away"
    out.chmod(0o555)
    try:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stderr[-2000:]
        line = _one_line(subprocess.CompletedProcess([], proc.returncode, stdout, stderr))
        assert "results.parquet" in line and "stored" in line
        assert not (out / "results.parquet").exists()
    finally:
        out.chmod(0o755)
    assert _done_cells(out) == N_CELLS
    pd.testing.assert_frame_equal(_frame(out), reference["frame"])
    again = _run(["simulate", "exp.yaml", "--out", "out", *SWEEP, "--json"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["ran"] == 0 and (out / "results.parquet").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_pool_workers_end_when_the_sweep_process_is_killed(tmp_path):
    """A sweep killed with SIGKILL (no clean-up runs) must not leave its workers training on: they
    hold cores (and a batch nobody will store) until they end."""
    code = ("import os, signal, sys, time\n"
            "from collective_action.runs.executors import WorkerPool\n"
            "pool = WorkerPool(1, 1)\n"
            "ex = pool.executor()\n"
            "print(ex.submit(os.getpid).result(), flush=True)\n"
            "ex.submit(time.sleep, 120)\n"
            "time.sleep(0.5)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    worker = int(proc.stdout.split()[0])

    def alive(pid):
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        return "\nState:\tZ" not in state  # a zombie has ended (its new parent reaps it)

    deadline = time.time() + 20
    while alive(worker) and time.time() < deadline:
        time.sleep(0.1)
    gone = not alive(worker)
    if not gone:
        os.kill(worker, signal.SIGKILL)
    assert gone, "the pool's worker outlived its killed parent"
