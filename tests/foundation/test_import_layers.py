"""The layers import only downward: the core (vocabulary, errors, result rows) imports neither
torch nor a pillar nor the orchestration; theory imports no pillar; the simulator and the
algorithm registry import no torch. Each check imports the module in a fresh interpreter and
lists what came with it; the last test shows a check fails when a layer is crossed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

PILLARS = ("collective_action.simulate", "collective_action.empirical", "collective_action.figures")
ORCHESTRATION = ("collective_action.runs", "collective_action.agreement", "collective_action.cli")


def _loaded(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    # run outside the checkout: from its root, the source folder collective_action/ (without the
    # pillars, which the installed package maps in) would shadow the installed package
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=empty)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _crossed(loaded: set[str], forbidden) -> list[str]:
    return sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden))


CORE = ("collective_action", "collective_action.collective", "collective_action.discrete",
        "collective_action.errors", "collective_action.experiment", "collective_action.intervals",
        "collective_action.results")


@pytest.mark.parametrize("module", CORE)
def test_core_imports_no_torch_no_pillar_no_orchestration(module):
    loaded = _loaded(module)
    assert not _crossed(loaded, ("torch", "ray") + PILLARS + ORCHESTRATION + ("collective_action.theory",)), module


def test_theory_imports_no_pillar_and_no_torch():
    loaded = _loaded("collective_action.theory")
    assert not _crossed(loaded, ("torch",) + PILLARS + ORCHESTRATION)


@pytest.mark.parametrize("module", ["collective_action.simulate", "collective_action.algorithms"])
def test_simulator_and_registry_import_no_torch(module):
    loaded = _loaded(module)
    assert not _crossed(loaded, ("torch", "collective_action.empirical") + ORCHESTRATION), module


def test_a_crossed_layer_is_caught():
    assert "torch" in _crossed(_loaded("collective_action.empirical"), ("torch",))


def test_tests_and_scripts_import_pillars_through_the_package():
    """CI installs the built package: a bare `import empirical` (or simulate, theory, figures) works
    only from an editable checkout and fails there, so nothing may import a pillar that way."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bare = re.compile(r"^\s*(from|import)\s+(empirical|simulate|theory|figures|experiments)(\.|\s)", re.M)
    offenders = [str(p.relative_to(root)) for folder in ("tests", "benchmarks", "scripts")
                 for p in (root / folder).rglob("*.py") if bare.search(p.read_text())]
    assert not offenders, offenders
