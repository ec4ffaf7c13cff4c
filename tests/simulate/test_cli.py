"""`collective-action simulate`: results on disk, summary, --json, and one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from collective_action.simulate.backend import cupy_usable

GOOD = {
    "name": "cli-test", "pillar": "simulate", "seeds": 2,
    "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
               "learner": {"name": "erm", "params": {"steps": 50}}, "n_train": 200, "n_test": 200},
    "grid": {"collective.alpha": [0.01, 0.1]},
}


def _write(tmp_path, spec, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def test_writes_parquet_and_csv_and_prints_summary(cli, tmp_path):
    out = tmp_path / "res"
    r = cli("simulate", _write(tmp_path, GOOD), "--out", out, "--array-backend", "numpy", "--no-progress")
    assert r.exit_code == 0, r.stderr
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 4 and len(pd.read_csv(out / "results.csv")) == 4
    assert "ERM (logistic, GD)" in r.stdout and "[" in r.stdout  # mean [95% interval]


def test_json_summary(cli, tmp_path):
    r = cli("simulate", _write(tmp_path, GOOD), "--out", tmp_path / "o", "--json", "--no-progress")
    assert r.exit_code == 0, r.stderr
    payload = r.json()
    assert payload["rows"] == 4 and payload["backend"] in ("numpy", "cupy")
    assert {row["alpha"] for row in payload["summary"]} == {0.01, 0.1}
    assert all(row["seeds"] == 2 for row in payload["summary"])


def _bad(**changes):
    spec = yaml.safe_load(yaml.safe_dump(GOOD))
    for path, value in changes.items():
        node = spec
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return spec


@pytest.mark.parametrize("spec, needle", [
    (_bad(**{"config.learner": {"name": "svm"}}), "svm"),
    (_bad(**{"config.family": "poisson"}), "family"),
    (_bad(**{"config.learner": {"name": "jtt", "params": {"lambda": 3}}}), "lambda"),
    (_bad(**{"config.learner": {"name": "cvar", "params": {"beta": 1.5}}}), "beta"),
    (_bad(**{"config.learner": {"name": "plug-in"}}), "plug-in"),
    (_bad(**{"config.collective.target": 5}), "target"),
    (_bad(**{"config.discrete": {"n_points": 4}}), "discrete"),
    (_bad(**{"config.gaussian": {"n_classes": 3, "d_class": 2}}), "d_class"),
    (_bad(**{"config.gaussian": {"signal": {"n_coords": 5}}}), "n_coords"),
])
def test_bad_input_exits_2_with_one_line(cli, tmp_path, spec, needle):
    out = tmp_path / "never"
    r = cli("simulate", _write(tmp_path, spec), "--out", out)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not out.exists()


@pytest.mark.skipif(cupy_usable(), reason="a GPU is usable here")
def test_cupy_without_gpu_is_bad_input(cli, tmp_path):
    out = tmp_path / "never"
    r = cli("simulate", _write(tmp_path, GOOD), "--array-backend", "cupy", "--out", out)
    assert r.exit_code == 2 and "cupy" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_backend_and_missing_file(cli, tmp_path):
    r = cli("simulate", _write(tmp_path, GOOD), "--array-backend", "tpu")
    assert r.exit_code == 2 and "backend" in r.stderr
    r = cli("simulate", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "not found" in r.stderr


@pytest.mark.parametrize("section, fragment", [
    ({"alphas": [0.1]}, "collective.alpha (a grid axis)"), ({"learners": ["gd"]}, "learner (a grid axis)"),
    ({"steps": 10}, "learner.params.steps"),
])
def test_simplicity_family_points_moved_keys_to_the_grid(cli, tmp_path, section, fragment):
    spec = {"name": "s3", "pillar": "simulate",
            "config": {"family": "simplicity", "collective": {"alpha": 0.1},
                       "simplicity": {"n_train": 100, "n_test": 100, **section}}}
    r = cli("simulate", _write(tmp_path, spec), "--out", tmp_path / "never")
    assert r.exit_code == 2 and fragment in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()


def test_simplicity_alphas_and_learners_are_grid_axes(cli, tmp_path):
    spec = {"name": "s3", "pillar": "simulate", "seeds": 2,
            "config": {"family": "simplicity", "collective": {"alpha": 0.1, "target": 1},
                       "learner": {"name": "erm", "params": {"steps": 50}},
                       "simplicity": {"n_train": 100, "n_test": 200,
                                      "signals": [{"placement": "free", "pattern": "neutral", "mode": "overwrite"}]}},
            "grid": {"collective.alpha": [0.05, 0.2], "learner": [{"name": "erm", "params": {"steps": 50}},
                                                                   {"name": "max-margin"}]}}
    out = tmp_path / "s3"
    r = cli("simulate", _write(tmp_path, spec), "--out", out, "--no-progress", "--json")
    assert r.exit_code == 0, r.stderr
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 8 and set(frame["learner"]) == {"erm", "max-margin"}
    assert set(frame["alpha"]) == {0.05, 0.2} and frame["cell_id"].nunique() == 8
    # a cell's rows depend on its own alpha and seed only: the 0.2 cells alone give the same numbers
    alone = dict(spec, grid={"collective.alpha": [0.2], "learner": spec["grid"]["learner"]})
    out2 = tmp_path / "alone"
    assert cli("simulate", _write(tmp_path, alone, "alone.yaml"), "--out", out2, "--no-progress").exit_code == 0
    a = frame[frame.alpha == 0.2].sort_values(["cell_id"]).reset_index(drop=True)
    b = pd.read_parquet(out2 / "results.parquet").sort_values(["cell_id"]).reset_index(drop=True)
    assert a["success"].tolist() == b["success"].tolist() and a["cell_id"].tolist() == b["cell_id"].tolist()


def test_simplicity_rejects_top_level_sizes_it_would_ignore(tmp_path, cli):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\npillar: simulate\nconfig:\n  family: simplicity\n  n_train: 50\n"
        "  simplicity: {n_train: 300}\n"
    )
    res = cli("simulate", str(path), "--out", str(tmp_path / "out"))
    assert res.exit_code == 2 and "n_train" in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
