"""Inputs that used to end in a traceback, an endless run or a store opened in the wrong place:
each is now one line on stderr, exit 2, nothing written; limits can be raised deliberately."""

from __future__ import annotations

import pytest
import yaml

SIM = {
    "name": "limits", "pillar": "simulate", "seeds": 2,
    "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
               "learner": {"name": "erm", "params": {"steps": 10}}, "n_train": 100, "n_test": 100},
}


def _one_line_exit_2(result, fragment):
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("content, fragment", ids=["binary", "deep", "alias-bomb"], argvalues=[
    (b"\xff\xfe\x00\x01binary\x80\x81", "not a text file"),
    (b"a: " + b"[" * 5000 + b"]" * 5000, "nested"),
    (b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     b"g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n", "COLLECTIVE_ACTION_MAX_YAML_NODES"),
])
@pytest.mark.parametrize("command", [("sweep",), ("simulate",), ("theory", "exact", "--alpha", "0.1", "--problem")],
                         ids=["sweep", "simulate", "theory-exact"])
def test_malformed_files_are_one_line(cli, tmp_path, content, fragment, command):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    out = tmp_path / "never"
    args = [*command, path] + (["--out", out] if command[0] != "theory" else [])
    _one_line_exit_2(cli(*args), fragment)
    assert not out.exists()


def test_a_file_over_the_size_limit_is_refused_and_the_limit_can_be_raised(cli, tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(SIM) + "#" * (2 * 2**20) + "\n")
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_FILE_MB", "1")
    _one_line_exit_2(cli("sweep", path, "--out", tmp_path / "never"), "COLLECTIVE_ACTION_MAX_FILE_MB")
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_FILE_MB", "5")
    assert cli("sweep", path, "--out", tmp_path / "ok", "--executor", "serial", "--no-progress").exit_code == 0


@pytest.mark.parametrize("patch, fragment", [
    ({"seeds": 100_000_000}, "COLLECTIVE_ACTION_MAX_SEEDS"),
    ({"grid": {"collective.alpha": [0.01 + i * 1e-7 for i in range(2000)],
               "n_test": list(range(100, 1100))}}, "COLLECTIVE_ACTION_MAX_CELLS"),
])
def test_runaway_sizes_are_refused_before_expansion(cli, tmp_path, patch, fragment):
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump({**SIM, **patch}))
    _one_line_exit_2(cli("sweep", path, "--out", tmp_path / "never"), fragment)
    assert not (tmp_path / "never").exists()


def test_a_bad_limit_value_is_one_line(cli, tmp_path, monkeypatch):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(SIM))
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_CELLS", "many")
    _one_line_exit_2(cli("sweep", path, "--out", tmp_path / "never"), "COLLECTIVE_ACTION_MAX_CELLS")


@pytest.mark.parametrize("name", ["with?question", "with#hash", "with%25percent", "store.sqlite"])
def test_any_out_path_reruns_into_the_same_store(cli, tmp_path, name):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(SIM))
    out = tmp_path / name
    first = cli("sweep", path, "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert first.exit_code == 0, first.stderr
    again = cli("sweep", path, "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["already_stored"] == 2 and again.json()["ran"] == 0
    stray = [p.name for p in tmp_path.iterdir() if p.name not in ("ok.yaml", name, name + ".lock")]
    assert stray == []  # no second store opened beside --out
    assert cli("results", out, "--format", "csv").exit_code == 0


def test_out_under_a_regular_file_is_one_line_before_any_work(cli, tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(SIM))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_exit_2(cli("simulate", path, "--out", blocker / "sub"), "not a folder")
    _one_line_exit_2(cli("train", path, "--out", blocker), "")


def test_stress_out_under_a_file_is_one_line_before_the_battery_runs(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_exit_2(cli("stress", "--quick", "--scenario", "tiny-collective", "--out", blocker), "not a folder")
    _one_line_exit_2(cli("stress", "--quick", "--scenario", "tiny-collective", "--out", blocker / "sub"),
                     "not a folder")


BIG = {"name": "big", "pillar": "simulate", "seeds": 2,
       "config": {"family": "gaussian", "collective": {"alpha": 0.1, "target": 1},
                  "learner": {"name": "erm", "params": {"steps": 5}}, "n_train": 60_000_000, "n_test": 1000}}


def test_points_and_memory_of_one_cell_are_refused_before_any_work(cli, tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(BIG))
    out = tmp_path / "never"
    res = cli("sweep", path, "--out", out, "--executor", "serial")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "COLLECTIVE_ACTION_MAX_POINTS" in res.stderr and "points" in res.stderr and not out.exists()
    # raising the points limit lets the memory estimate speak (60M points x 4 coordinates: ~3.8 GB)
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_POINTS", "100000000")
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_MEMORY_MB", "1000")
    res = cli("simulate", path, "--out", out)
    assert res.exit_code == 2 and "COLLECTIVE_ACTION_MAX_MEMORY_MB" in res.stderr and not out.exists(), res.stderr


def test_memory_estimate_grows_with_the_cell_and_a_small_cell_passes(monkeypatch):
    from collective_action.experiment import load_experiment
    from collective_action.simulate.footprint import check_cells, footprint

    small = load_experiment({**BIG, "config": {**BIG["config"], "n_train": 1000}})
    big = load_experiment({**BIG, "config": {**BIG["config"], "n_train": 100_000}})
    (p_small, b_small), (p_big, b_big) = (footprint(e.cells()[0].validated_config()) for e in (small, big))
    assert p_big - p_small == 99_000 and b_big > 50 * b_small
    check_cells(small.cells())  # well inside the defaults
    monkeypatch.setenv("COLLECTIVE_ACTION_MAX_MEMORY_MB", "1")
    from collective_action.errors import InputError

    with pytest.raises(InputError, match="memory"):
        check_cells(big.cells())
