"""Experiment files: strict validation, grid expansion, stable cell identities."""

import textwrap

import pytest
from pydantic import Field

from collective_action import InputError, load_experiment
from collective_action import experiment as exp_mod
from collective_action.experiment import CollectiveSpec, Pillar, StrictModel


class _ToyConfig(StrictModel):
    collective: CollectiveSpec
    n: int = Field(10, ge=1)


@pytest.fixture
def toy_pillar(monkeypatch):
    monkeypatch.setitem(exp_mod.PILLAR_MODULES, "toy", "collective_action.experiment")
    pillar = Pillar("toy", _ToyConfig, run_cells=lambda cells: [[] for _ in cells])
    monkeypatch.setitem(exp_mod._PILLARS, "toy", pillar)
    return pillar


def _write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """
    name: toy-exp
    pillar: toy
    seeds: 2
    config:
      collective: {alpha: 0.1, strategy: feature-label, target: 1}
      n: 5
    grid:
      collective.alpha: [0.01, 0.1]
      n: [5, 6, 7]
    quick:
      n: 3
"""


def test_grid_times_seeds_gives_stable_unique_cells(tmp_path, toy_pillar):
    exp = load_experiment(_write(tmp_path, GOOD))
    cells = exp.cells()
    assert len(cells) == 2 * 3 * 2
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == len(ids)
    again = load_experiment(_write(tmp_path, GOOD)).cells()
    assert [c.cell_id for c in again] == ids
    quick = exp.cells(quick=True)
    assert len(quick) == 2 * 1 * 2 and all(c.config["n"] == 3 for c in quick)


@pytest.mark.parametrize(
    "patch, fragment",
    [
        (("n: 5", "n: 5\n  bogus: 1"), "bogus: unknown key"),
        (("seeds: 2", "seeds: 2\nextra_top: 1"), "extra_top: unknown key"),
        (("pillar: toy", "pillar: nope"), "unknown pillar"),
        (("collective.alpha: [0.01, 0.1]", "collective.alpha: [0.01, 1.5]"), "collective.alpha"),
        (("collective.alpha: [0.01, 0.1]", "collective.alpha: []"), "empty"),
        (("strategy: feature-label", "strategy: bribe"), "unknown strategy"),
        (("n: [5, 6, 7]", "n: [five]"), "n:"),
    ],
)
def test_malformed_files_give_one_line_naming_the_problem(tmp_path, toy_pillar, patch, fragment):
    text = textwrap.dedent(GOOD).replace(*patch)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_experiment(path)
    message = str(err.value)
    assert fragment in message, message
    assert "\n" not in message


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_experiment(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="mapping"):
        load_experiment(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="YAML"):
        load_experiment(path)


def test_omitted_seeds_default_to_one_seed(tmp_path, toy_pillar):
    text = textwrap.dedent(GOOD).replace("seeds: 2\n", "")
    exp = load_experiment(_write(tmp_path, text))
    assert exp.spec.seeds == [0]
    assert len(exp.cells()) == 2 * 3
