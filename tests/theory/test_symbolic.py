"""Derived expressions: lambdified functions agree with sympy substitution on NumPy and torch."""

import numpy as np
import pytest
import sympy as sp

from collective_action.theory import (
    chi2_formula,
    critical_mass_formula,
    cvar_formula,
    finite_sample_margin,
    hardt_bound_formula,
    jtt_formula,
    lff_formula,
    per_point_margin,
    per_point_threshold,
    weighted_risk_lemma,
)
from collective_action.theory.finite_sample import hoeffding_radius

FORMULAS = [
    per_point_margin(),
    per_point_threshold(),
    hardt_bound_formula("contamination"),
    hardt_bound_formula("tv"),
    hardt_bound_formula("tv", with_epsilon=False),
    critical_mass_formula("contamination"),
    critical_mass_formula("tv"),
    weighted_risk_lemma(),
    jtt_formula(),
    cvar_formula(),
    chi2_formula(),
    lff_formula(),
    hoeffding_radius(),
    finite_sample_margin(),
]

# Arguments inside every formula's domain: probabilities in (0, 0.5), counts large.
_COUNTS = {"n": (10, 100), "N": (200, 1000), "k": (5, 500), "n_Xstar": (1, 5), "n_Y": (2, 5),
           "lambda": (1, 30)}


def _draw(rng, symbol, size=None):
    lo, hi = _COUNTS.get(symbol.name, (0.01, 0.45))
    return rng.uniform(lo, hi, size=size)


@pytest.mark.parametrize("formula", FORMULAS, ids=lambda f: f.name)
def test_lambdified_matches_substitution_on_numpy_grids(formula):
    rng = np.random.default_rng(0)
    args = [_draw(rng, s, size=7) for s in formula.symbols]
    fast = formula.numeric(*args)
    assert isinstance(fast, np.ndarray) and fast.shape == (7,)
    for i in range(7):
        exact = float(formula.expr.subs({s: sp.Float(a[i]) for s, a in zip(formula.symbols, args)}))
        assert fast[i] == pytest.approx(exact, rel=1e-9, abs=1e-12)
    # Scalars in, float out; and broadcasting of a column against a row.
    scalar = formula.numeric(*[a[0] for a in args])
    assert isinstance(scalar, float) and scalar == pytest.approx(fast[0], rel=1e-12)
    grid = formula.numeric(args[0][:, None], *[a[:1][None, :] for a in args[1:]])
    assert grid.shape == (7, 1)


@pytest.mark.parametrize("formula", FORMULAS, ids=lambda f: f.name)
def test_lambdified_accepts_torch_tensors(formula):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    args = [_draw(rng, s, size=5) for s in formula.symbols]
    out = formula.numeric(*[torch.tensor(a, dtype=torch.float64) for a in args])
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), formula.numeric(*args), rtol=1e-12)


def test_formula_reports_wrong_arity_and_exports_latex_with_assumptions():
    formula = hardt_bound_formula("contamination")
    with pytest.raises(TypeError):
        formula.numeric(0.1, 0.2)
    assert r"\epsilon" in formula.latex() and formula.latex("S").startswith("S = ")
    assert any("contamination" in a or "(1-eps) P_alpha + eps Q" in a for a in formula.assumptions)


def test_derived_forms_match_the_spec_formulas_as_a_second_opinion():
    a, d, x, e, s = sp.symbols("alpha Delta xi epsilon S_t", positive=True)
    spec = {
        ("contamination", True): 1 - (1 - a) / a * d * x - e / ((1 - e) * a),
        ("tv", True): 1 - (1 - a) / a * d * x - 2 * e / a,
        ("tv", False): 1 - (1 - a) / a * d * x,
    }
    for (definition, with_eps), expected in spec.items():
        assert sp.simplify(hardt_bound_formula(definition, with_eps).expr - expected) == 0
    star = critical_mass_formula("contamination").expr
    assert sp.simplify(star - (d * x + e / (1 - e)) / (1 - s + d * x)) == 0
    assert sp.simplify(critical_mass_formula("tv").expr - (d * x + 2 * e) / (1 - s + d * x)) == 0
    assert sp.simplify(per_point_threshold().expr - sp.Symbol("D", real=True)
                       / (sp.Symbol("D", real=True) + sp.Symbol("p_star", real=True))) == 0


def test_theory_import_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    code = "import sys, collective_action.theory; print('torch' in sys.modules)"
    # cwd outside the source tree: `python -c` puts cwd first on sys.path, and the installed
    # package (not the bare source folder) is what users import.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == "False"
