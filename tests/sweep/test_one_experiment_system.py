"""Every command that runs anything writes the same store: `results` and `plot` read the output
folder of simulate, train, sweep and reproduce (stress: tests/stress/test_battery.py); compute settings travel from the command line to
the pillar on every executor; a device that is not there is one line, before anything is written."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
import yaml

SIM = {
    "name": "c2-sim-store", "pillar": "simulate", "seeds": 2,
    "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
               "learner": {"name": "erm", "params": {"steps": 50}}, "n_train": 200, "n_test": 200},
    "grid": {"collective.alpha": [0.01, 0.1]},
}
EMP = {
    "name": "c2-emp-store", "pillar": "empirical", "seeds": 2,
    "config": {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.2, "target": 3},
               "signal": {"kind": "patch", "place": "corner", "size": 3}, "learner": {"name": "erm"},
               "train": {"model": "mlp", "width": 16, "epochs": 1, "batch_size": 64}},
    "grid": {"learner": [{"name": "erm"}, {"name": "cvar", "hparams": {"beta": 0.5}}]},
}


def _frame(text: str) -> pd.DataFrame:
    return pd.read_json(io.StringIO(text), orient="records")


def _write(tmp_path, spec, name):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def _results_and_plot_read(cli, out, n_rows):
    res = cli("results", out, "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert len(_frame(res.stdout)) == n_rows
    res = cli("plot", out, "--json")
    assert res.exit_code == 0, res.stderr
    assert (out / "figures" / "c2.png").exists()


def test_simulate_writes_the_store_results_and_plot_read_it_and_a_rerun_resumes(cli, tmp_path):
    out = tmp_path / "sim"
    r = cli("simulate", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--array-backend", "numpy", "--no-progress",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert (out / "results.sqlite").exists() and len(pd.read_parquet(out / "results.parquet")) == 4
    _results_and_plot_read(cli, out, 4)
    again = cli("simulate", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--no-progress", "--json")
    assert again.exit_code == 0 and again.json()["ran"] == 0 and again.json()["already_stored"] == 4


def test_train_writes_the_store_results_and_plot_read_it(cli, tmp_path):
    out = tmp_path / "emp"
    r = cli("train", _write(tmp_path, EMP, "emp.yaml"), "--out", out, "--device", "cpu", "--no-progress", "--json")
    assert r.exit_code == 0, r.stderr
    assert (out / "results.sqlite").exists() and (out / "results.csv").exists()
    _results_and_plot_read(cli, out, 4)


def test_sweep_and_reproduce_outputs_are_read_by_results(cli, tmp_path, toy, write_experiment):
    out = tmp_path / "sweep"
    assert cli("sweep", write_experiment(), "--out", out, "--executor", "serial", "--no-progress").exit_code == 0
    assert cli("results", out, "--format", "csv").exit_code == 0


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_compute_reaches_the_pillar_on_every_executor(cli, tmp_path, executor):
    out = tmp_path / executor
    r = cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--executor", executor, "--workers", "2",
            "--array-backend", "numpy", "--threads", "1", "--no-progress")
    assert r.exit_code == 0, r.stderr
    frame = _frame(cli("results", out, "--format", "json").stdout)
    assert set(frame["backend"]) == {"numpy"}


def test_executors_give_identical_rows(cli, tmp_path):
    frames = []
    for executor in ("serial", "pool"):
        out = tmp_path / executor
        assert cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--executor", executor,
                   "--array-backend", "numpy", "--no-progress").exit_code == 0
        f = _frame(cli("results", out, "--format", "json").stdout)
        frames.append(f.sort_values(["cell_id"]).reset_index(drop=True))
    for col in ("success", "attack_success", "clean_accuracy", "cell_id", "seed", "alpha"):
        assert frames[0][col].equals(frames[1][col]), col


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("command", [
    ("train", "EMP", "--device", "cuda"),
    ("sweep", "EMP", "--device", "cuda"),
    ("reproduce", "C2", "--quick", "--device", "cuda"),
    ("stress", "--quick", "--device", "cuda"),
])
def test_cuda_without_a_gpu_is_one_line_and_writes_nothing(cli, tmp_path, command):
    out = tmp_path / "never"
    args = [_write(tmp_path, EMP, "emp.yaml") if a == "EMP" else a for a in command]
    r = cli(*args, "--out", out)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "cuda" in r.stderr.lower(), r.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, fragment", [
    (("--array-backend", "tpu"), "array backend"), (("--device", "npu"), "device"), (("--threads", "0"), "threads"),
])
def test_bad_compute_words_are_one_line(cli, tmp_path, args, fragment):
    out = tmp_path / "never"
    r = cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", out, *args)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and fragment in r.stderr, r.stderr
    assert not out.exists()


@pytest.mark.slow
def test_reproduce_c2_quick_on_the_cpu_with_numpy(cli, tmp_path):
    out = tmp_path / "c2"
    r = cli("reproduce", "C2", "--quick", "--out", out, "--device", "cpu", "--array-backend", "numpy",
            "--no-progress", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["claims"][0]["failed"] == 0 and (out / "figures" / "c2.png").exists()


def test_pool_workers_receive_validated_cells_of_every_registry_algorithm(cli, tmp_path):
    spec = dict(SIM, grid={"learner": [{"name": n, "params": {"steps": 20}}
                                       for n in ("erm", "jtt", "cvar", "chi2", "lff", "group-dro")]})
    out = tmp_path / "pool"
    r = cli("sweep", _write(tmp_path, spec, "algos.yaml"), "--out", out, "--executor", "pool", "--workers", "2",
            "--array-backend", "numpy", "--no-progress")
    assert r.exit_code == 0, r.stderr
    frame = _frame(cli("results", out, "--format", "json").stdout)
    assert set(frame["learner"]) == {"erm", "jtt", "cvar", "chi2", "lff", "group-dro"} and len(frame) == 12


def test_ray_runs_real_pillars_from_the_checkout_root(cli, tmp_path, monkeypatch):
    """Ray workers start in the driver's folder; from a checkout's root its source folder
    collective_action/ (without the pillars the installed package maps in) must not shadow the
    installed package."""
    pytest.importorskip("ray")
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    out = tmp_path / "ray"
    r = cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--executor", "ray", "--workers", "2",
            "--array-backend", "numpy", "--no-progress", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["failed"] == 0 and r.json()["ran"] == 4
    serial = tmp_path / "serial"
    assert cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", serial, "--executor", "serial",
               "--array-backend", "numpy", "--no-progress").exit_code == 0
    a = _frame(cli("results", out, "--format", "json").stdout).sort_values("cell_id").reset_index(drop=True)
    b = _frame(cli("results", serial, "--format", "json").stdout).sort_values("cell_id").reset_index(drop=True)
    for col in ("success", "attack_success", "clean_accuracy", "cell_id"):
        assert a[col].equals(b[col]), col  # serial, pool (above) and Ray give identical rows


@pytest.mark.parametrize("address, fragment", [("127.0.0.1:1", "cannot reach a Ray cluster"),
                                               ("nohostport", "host:port")])
def test_an_unreachable_ray_address_is_one_line_quickly_and_writes_nothing(cli, tmp_path, address, fragment):
    pytest.importorskip("ray")
    out = tmp_path / "never"
    # checked before Ray is started (Ray itself would retry for minutes)
    r = cli("sweep", _write(tmp_path, SIM, "sim.yaml"), "--out", out, "--executor", "ray", "--address", address)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and fragment in r.stderr, r.stderr
    assert not out.exists()
