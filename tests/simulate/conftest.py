"""Shared fixtures of the simulate tests: the quick shipped experiments, run once per session."""

from __future__ import annotations

import os

import pytest

from collective_action.experiments import experiment_dir

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run_quick(name: str):
    from collective_action.simulate import run

    return run(experiment_dir() / name, quick=True, backend="numpy")


@pytest.fixture(scope="session")
def c2_quick():
    return _run_quick("c2_simulate_dro.yaml")


@pytest.fixture(scope="session")
def c1_gaussian_quick():
    return _run_quick("c1_simulate_gaussian.yaml")


@pytest.fixture(scope="session")
def c1_discrete_quick():
    return _run_quick("c1_simulate_discrete.yaml")
