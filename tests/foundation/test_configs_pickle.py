"""Every validated configuration reaches worker processes by pickling (pool and Ray executors):
the shipped files, and the several-collectives item form of each pillar, must round-trip."""

from __future__ import annotations

import pickle

import pytest

from collective_action.experiment import load_experiment
from collective_action.experiments import experiment_dir

SHIPPED = sorted(p.name for p in experiment_dir().glob("*.yaml"))

ITEM_FORMS = {
    "discrete-several": {
        "name": "items-discrete", "pillar": "simulate", "seeds": [0],
        "config": {"family": "discrete-several", "collective": {"alpha": 0.1, "target": 1},
                   "learner": {"name": "plug-in"}, "n_train": 10_000, "n_test": 1000,
                   "several": {"n_points": 6, "n_labels": 3, "problem_seed": 1,
                               "collectives": [{"signal": {}, "noise": {"share": 0.2, "kind": "corrupted-signal"}},
                                               {"alpha": 0.05, "target": 2, "signal": {"same_as": 0}}]}}},
    "gaussian-world": {
        "name": "items-world", "pillar": "simulate", "seeds": [0],
        "config": {"family": "gaussian-world", "collective": {"alpha": 0.1, "target": 1},
                   "learner": {"name": "bayes"}, "n_train": 500, "n_test": 500, "theory_mc_samples": 2000,
                   "world": {"n_classes": 3, "d_class": 3, "separation": 2.0, "n_free": 2, "tau": 1.0,
                             "collectives": [{"signal": {"placement": "free", "offset": 0, "amplitude": 3.0}},
                                             {"alpha": 0.05, "target": 2,
                                              "signal": {"placement": "free", "offset": 1, "amplitude": 3.0}}]}}},
}


def _round_trip(cells):
    for cell in cells:
        config = cell.validated_config()
        again = pickle.loads(pickle.dumps(config))
        assert again == config and type(again) is type(config)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configurations_pickle(name):
    _round_trip(load_experiment(experiment_dir() / name).cells(quick=True)[:4])


@pytest.mark.parametrize("family", sorted(ITEM_FORMS))
def test_several_collectives_item_forms_pickle(family):
    _round_trip(load_experiment(ITEM_FORMS[family]).cells())
