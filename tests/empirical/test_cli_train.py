"""`collective-action train`: runs an experiment file, writes parquet + csv, fails cleanly."""

import textwrap

import pandas as pd
import pytest
import torch

from collective_action import empirical
from collective_action.empirical.summary import mean_interval

TINY = """
    name: tiny-digits
    pillar: empirical
    seeds: 2
    config:
      data: {name: digits, val_size: 200}
      collective: {alpha: 0.2, target: 3}
      signal: {kind: patch, place: corner, size: 3}
      learner: {name: erm}
      train: {model: mlp, width: 32, epochs: 2, batch_size: 64}
      selection: {validation: clean, metric: average}
    grid:
      learner: [{name: erm}, {name: cvar, hparams: {beta: 0.5}}]
    quick:
      train.epochs: 1
"""


def _write(tmp_path, text=TINY):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_train_writes_results_and_prints_json(cli, tmp_path):
    out = tmp_path / "res"
    result = cli("train", _write(tmp_path), "--quick", "--out", out, "--json", "--no-progress")
    assert result.exit_code == 0, result.stderr
    payload = result.json()
    assert payload["rows"] == 4 and payload["device"] == "cpu"
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 4 and (out / "results.csv").is_file()
    assert set(frame["learner"]) == {"erm", "cvar"} and set(frame["seed"]) == {0, 1}
    assert (frame["epochs"] == 1).all()  # the quick override was applied
    assert frame["clean_accuracy"].between(0, 1).all() and frame["alpha_eff_measured"].notna().all()
    assert {s["series"] for s in payload["summary"]} == {"ERM", "CVaR-DRO (beta=0.5)"}


def test_python_api_returns_one_row_per_config_and_seed(tmp_path):
    frame = empirical.run(_write(tmp_path), quick=True)
    assert len(frame) == 4 and frame["cell_id"].nunique() == 4
    assert '"learner"' in frame["config"].iloc[0]  # every row carries its full configuration


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_without_cuda_is_one_line_exit_2(cli, tmp_path):
    out = tmp_path / "res"
    result = cli("train", _write(tmp_path), "--device", "cuda", "--out", out)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "cuda" in result.stderr
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("patch, fragment", [
    ("[{name: erm},", "[{name: sgd},"),
    ("size: 3}", "size: 3, colour: red}"),
    ("alpha: 0.2,", "alpha: 1.5,"),
])
def test_bad_experiment_files_exit_2_with_one_line(cli, tmp_path, patch, fragment):
    text = textwrap.dedent(TINY).replace(patch, fragment, 1)
    result = cli("train", _write(tmp_path, text), "--out", tmp_path / "res")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_bad_place_for_the_data_is_one_line(cli, tmp_path):
    text = textwrap.dedent(TINY).replace("place: corner", "place: margin")  # digits have no margin
    result = cli("train", _write(tmp_path, text), "--out", tmp_path / "res")
    assert result.exit_code == 2 and "signal.place" in result.stderr


def test_wrong_pillar_is_rejected(cli, tmp_path):
    text = textwrap.dedent(TINY).replace("pillar: empirical", "pillar: simulate")
    result = cli("train", _write(tmp_path, text))
    assert result.exit_code == 2


def test_mean_interval_over_seeds():
    m, lo, hi = mean_interval([0.2, 0.4, 0.6])
    assert m == pytest.approx(0.4) and lo < 0.4 < hi and hi - 0.4 == pytest.approx(0.4 - lo)
    assert mean_interval([0.5])[1] != mean_interval([0.5])[1]  # NaN for one seed


@pytest.mark.parametrize("learner, key", [
    ("{name: cvar, hparams: {bta: 0.5}}", "bta"),            # misspelt
    ("{name: cvar, hparams: {beta: 2.0}}", "beta"),          # out of range
    ("{name: jtt, candidates: [{T: 1}, {upweight: 0.1}]}", "upweight"),  # a bad candidate
    ("{name: logistic}", "erm"),                             # renamed
    ("{name: max-margin}", "max-margin"),                    # a simulator-only learner
])
def test_bad_algorithm_parameters_stop_at_load_time(cli, tmp_path, learner, key):
    out = tmp_path / "res"
    result = cli("train", _write(tmp_path, TINY.replace("{name: cvar, hparams: {beta: 0.5}}", learner)),
                 "--quick", "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()  # nothing was written: no cell ran
