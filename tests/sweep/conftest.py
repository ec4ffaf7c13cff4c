"""Fixtures of the sweep tests: the test-only `toy` pillar and experiment files for it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

TOY_EXPERIMENT = """
    name: toy-sweep
    pillar: toy
    seeds: 3
    config:
      collective: {alpha: 0.1, target: 1}
      n_points: 300
    grid:
      collective.alpha: [0.01, 0.03, 0.1, 0.3]
      learner: [majority, smoothed]
"""


@pytest.fixture
def toy(monkeypatch):
    """Register the toy pillar (importable by name, so spawned pool workers find it too)."""
    from collective_action import experiment as exp_mod

    monkeypatch.syspath_prepend(str(HERE))
    import toy_pillar

    monkeypatch.setitem(exp_mod.PILLAR_MODULES, "toy", "toy_pillar")
    monkeypatch.setitem(exp_mod._PILLARS, "toy", toy_pillar.PILLAR)
    return toy_pillar


@pytest.fixture
def write_experiment(tmp_path):
    """write_experiment(text, name, extra_config) -> path of a YAML file (extra_config: YAML lines)."""

    def _write(text: str = TOY_EXPERIMENT, name: str = "exp.yaml", extra_config: str = "") -> Path:
        body = textwrap.dedent(text)
        if extra_config:
            body = body.replace("  n_points: 300\n", "  n_points: 300\n" + textwrap.indent(extra_config, "  "))
        path = tmp_path / name
        path.write_text(body)
        return path

    return _write
