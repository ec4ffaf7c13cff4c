"""Every stored row carries the environment that computed it (threads, CPU, library versions); a
resumed experiment whose cells come from two environments is flagged by the sweep and the report."""

from __future__ import annotations

import sqlite3

import pandas as pd

from collective_action import load_experiment
from collective_action.compute import Compute
from collective_action.runs import sweep as sweep_mod
from collective_action.runs.provenance import ENVIRONMENT_COLUMNS, environment, environments
from collective_action.runs.report import build_report
from collective_action.runs.store import ResultStore, comparable
from collective_action.runs.sweep import run_sweep

SPEC = {
    "name": "provenance", "pillar": "empirical", "seeds": [0, 1],
    "config": {"data": {"name": "digits", "val_size": 200, "train_size": 400},
               "collective": {"alpha": 0.05, "target": 3},
               "signal": {"kind": "patch", "place": "corner", "size": 3}, "learner": {"name": "erm"},
               "train": {"model": "mlp", "epochs": 1, "batch_size": 64, "lr": 0.1}},
    "grid": {"collective.alpha": [0.05, 0.2]},
}


def _delete(folder, n: int) -> list[str]:
    with sqlite3.connect(folder / "results.sqlite") as con:
        ids = [r[0] for r in con.execute("SELECT cell_id FROM cells ORDER BY cell_id LIMIT ?", (n,))]
        con.execute(f"DELETE FROM cells WHERE cell_id IN ({','.join('?' * n)})", ids)
    return ids


def test_rows_carry_the_environment_and_comparable_leaves_it_out(tmp_path):
    from threadpoolctl import threadpool_info

    before = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
    exp = load_experiment(SPEC)
    one = run_sweep(exp, tmp_path / "one", executor="serial", progress=False, compute=Compute(threads=1))
    two = run_sweep(exp, tmp_path / "two", executor="serial", progress=False, compute=Compute(threads=2))
    a, b = one.frame(), two.frame()
    assert one.n_failed == two.n_failed == 0
    here = environment()
    for frame, threads in ((a, 1), (b, 2)):
        assert set(ENVIRONMENT_COLUMNS) <= set(frame.columns)
        # the serial executor's worker is this process: --threads reaches torch and BLAS alike
        assert (frame["threads"] == f"torch {threads}, blas {threads}").all()
        assert (frame["cpu"] == here["cpu"]).all() and frame["cpu"].iloc[0].split()[1] != "baseline"
        assert frame["library_versions"].str.contains(r"python \S+, numpy \S+, torch \S+").all()
    # the columns say how, not what: two runs that differ only in threads compare on the rest
    assert not set(ENVIRONMENT_COLUMNS) & set(comparable(a).columns)
    assert (comparable(a)["cell_id"] == comparable(b)["cell_id"]).all()
    after = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
    assert {path: after[path] for path in before} == before  # the cap ends with the sweep


def test_a_resume_under_other_threads_is_flagged_by_the_sweep_and_the_report(tmp_path, capsys):
    exp = load_experiment(SPEC)
    out = tmp_path / "run"
    run_sweep(exp, out, executor="serial", progress=False, compute=Compute(threads=1))
    capsys.readouterr()
    # a resume in the same environment says nothing
    _delete(out, 1)
    run_sweep(exp, out, executor="serial", progress=False, compute=Compute(threads=1))
    assert "environments" not in capsys.readouterr().err
    page = build_report(out)
    assert "mixed-environments" not in page and "threads torch 1, blas" in page and "(4 cells)" in page
    # a resume with two threads mixes environments: one note, and the report names both with their counts
    _delete(out, 2)
    sweep_mod._NOTED_MIXED.clear()
    run_sweep(exp, out, executor="serial", progress=False, compute=Compute(threads=2))
    err = capsys.readouterr().err
    assert err.count("computed under 2 environments") == 1
    assert "threads torch 1, blas" in err and "threads torch 2, blas" in err
    with ResultStore.open(out) as store:
        envs = environments(store.frame())
    assert sorted(envs["cells"]) == [2, 2] and envs["threads"].str.startswith("torch 1,").sum() == 1
    page = build_report(out)
    assert 'class="note mixed-environments"' in page and "(2 cells); threads torch" in page


def test_rows_stored_before_environments_were_kept_count_as_not_recorded():
    old = pd.DataFrame({"experiment": ["e", "e", "e", "f"], "cell_id": ["a", "a", "b", "c"], "success": [0.1] * 4})
    envs = environments(old)
    assert envs.to_dict("records") == [
        {"experiment": "e", "threads": "not recorded", "cpu": "not recorded", "library_versions": "not recorded",
         "cells": 2},
        {"experiment": "f", "threads": "not recorded", "cpu": "not recorded", "library_versions": "not recorded",
         "cells": 1}]
    assert environments(old.iloc[:0]).empty
