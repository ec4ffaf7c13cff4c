"""The registry: every entry is complete, names are the same in every pillar, parameters are
checked when a file is loaded, and an incomplete entry is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from collective_action import InputError
from collective_action.algorithms import (ALGORITHMS, Algorithm, algorithms_for, check_entry, get_algorithm,
                                          validate_params)
from collective_action.experiment import StrictModel


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_entry_is_complete_and_predicts_alpha_eff(name):
    cls = check_entry(ALGORITHMS[name])
    alg = get_algorithm(name)
    assert alg.series().startswith(cls.label)
    # the theory function gives a share in (0, 1) from plausible statistics, NaN outside alpha's range
    value = alg.predict_alpha_eff(0.05, 0.5, 0.2)
    assert 0.0 < value < 1.0
    assert math.isnan(alg.predict_alpha_eff(0.0, 0.5, 0.2))
    batched = alg.predict_alpha_eff(np.array([0.01, 0.05, 1.0]), np.array([0.5, 0.5, 0.5]), np.array([0.2, 0.2, 0.2]))
    assert batched.shape == (3,) and np.isfinite(batched[:2]).all() and math.isnan(batched[2])


def test_an_incomplete_entry_is_refused_naming_what_it_lacks():
    class NoTheory(Algorithm):
        name = "no-theory"
        label = "no theory"
        Params = StrictModel

        def weigh(self, state, losses, idx=None):
            return {"main": losses["main"] * 0 + 1}, None

    with pytest.raises(TypeError, match="predict_alpha_eff"):
        check_entry(NoTheory)

    class NoLabel(NoTheory):
        label = ""

        def predict_alpha_eff(self, alpha, collective_mean, base_mean):
            return alpha

    with pytest.raises(TypeError, match="label"):
        check_entry(NoLabel)

    class NoColumns(NoLabel):
        label = "x"
        statistic = "weight"

    with pytest.raises(TypeError, match="stat_columns"):
        check_entry(NoColumns)


def test_both_pillars_implement_the_same_names_with_the_same_parameters():
    from collective_action.empirical.learners import make_learner
    from collective_action.simulate.learners import LEARNERS

    for name in algorithms_for("simulate"):
        if name == "erm":
            continue
        sim_fields = LEARNERS[name].Params.model_fields
        for key, field in ALGORITHMS[name].Params.model_fields.items():
            assert sim_fields[key].default == field.default, (name, key)
        assert make_learner(name).params == ALGORITHMS[name].Params()
    assert set(algorithms_for("empirical")) >= set(algorithms_for("simulate"))


@pytest.mark.parametrize("name, params, key", [
    ("cvar", {"beta": 0}, "beta"), ("cvar", {"beta": 1.5}, "beta"), ("chi2", {"rho": -1}, "rho"),
    ("jtt", {"T": 0}, "T"), ("jtt", {"T": 1.5}, "T"), ("jtt", {"upweight": 0.5}, "upweight"),
    ("lff", {"q": 2}, "q"), ("lff", {"ema": 1.0}, "ema"), ("group-dro", {"eta_q": 0}, "eta_q"),
    ("label-smoothing", {"smoothing": 1.0}, "smoothing"), ("cvar", {"bta": 0.2}, "bta"),
])
def test_bad_parameters_name_the_key(name, params, key):
    with pytest.raises(InputError, match=key):
        validate_params(name, params)


def test_renamed_names_get_a_hint():
    with pytest.raises(InputError, match="now called 'erm'"):
        get_algorithm("logistic")
    with pytest.raises(InputError, match="now called 'T'"):
        validate_params("jtt", {"stage1_steps": 50})


def test_label_smoothing_targets_give_the_same_loss_as_its_loss():
    import numpy as np

    from collective_action.algorithms import rules

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 4))
    y = rng.integers(0, 4, size=7)
    alg = get_algorithm("label-smoothing", {"smoothing": 0.3})
    targets = alg.targets(np.eye(4)[y])
    log_p = logits - logits.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    np.testing.assert_allclose(-(targets * log_p).sum(1), rules.smoothed_cross_entropy(logits, y, 0.3), atol=1e-12)


def test_label_smoothing_loss_is_torchs():
    logits = torch.randn(16, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (16,))
    ours = get_algorithm("label-smoothing", {"smoothing": 0.2}).loss(logits, y)
    ref = torch.nn.functional.cross_entropy(logits, y, reduction="none", label_smoothing=0.2)
    assert torch.allclose(ours, ref, atol=1e-12)
    ours.sum().backward()  # differentiable through the array API namespace
    assert logits.grad is not None


def test_docs_and_readme_name_every_algorithm_and_parameter():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "algorithms.md").read_text()
    readme = (root / "README.md").read_text()
    for name, cls in ALGORITHMS.items():
        for text, where in ((docs, "docs/algorithms.md"), (readme, "README.md")):
            assert f"`{name}`" in text, f"{where} does not name {name}"
            for key, field in cls.Params.model_fields.items():
                assert f"`{key}` ({field.default:g}" in text, f"{where} lacks {name}'s {key} with its default"


def test_label_smoothing_runs_in_the_simulator_with_steps_and_is_refused_with_rounds():
    from collective_action.experiment import load_experiment
    from collective_action.simulate import run

    spec = {"name": "ls", "pillar": "simulate", "seeds": 2,
            "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
                       "learner": {"name": "label-smoothing", "params": {"steps": 30, "schedule": "steps"}},
                       "n_train": 200, "n_test": 200}}
    frame = run(spec, backend="numpy")
    assert len(frame) == 2 and frame["series"].iloc[0] == "label smoothing (smoothing=0.1)"
    bad = dict(spec, config={**spec["config"], "learner": {"name": "label-smoothing", "params": {"steps": 30}}})
    with pytest.raises(InputError, match="schedule: steps"):
        load_experiment(bad).cells()
