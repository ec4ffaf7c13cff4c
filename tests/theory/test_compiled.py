"""Formulas evaluated from their cached compiled code equal the sympy derivation's values bit for bit,
and a run that only needs alpha_eff never imports sympy."""

import json
import subprocess
import sys

import numpy as np
import pytest

from collective_action.disk_cache import CACHE_ENV
from collective_action.theory import compiled, effective_size

FACTORIES = {"weighted_risk_lemma": 3, "jtt_formula": 4, "cvar_formula": 3, "chi2_formula": 3, "lff_formula": 3}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    compiled.numpy_function.cache_clear()
    yield tmp_path / "cache"
    compiled.numpy_function.cache_clear()


def _args(n_args, rng):
    return tuple(rng.uniform(0.05, 0.95, size=(7, 3)) if i else rng.uniform(0.01, 0.5, size=(7, 3))
                 for i in range(n_args))


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_stored_code_gives_the_derivations_numbers(fresh_cache, factory):
    args = _args(FACTORIES[factory], np.random.default_rng(0))
    expected = getattr(effective_size, factory)().numeric(*args)
    first = compiled.evaluate(compiled.numpy_function("effective_size", factory), args)  # derives, stores
    compiled.numpy_function.cache_clear()  # a new process: only the disk entry remains
    stored = list((fresh_cache / "formulas").glob(f"effective_size.{factory}-*.json"))
    assert len(stored) == 1
    again = compiled.evaluate(compiled.numpy_function("effective_size", factory), args)
    assert np.array_equal(first, expected) and np.array_equal(again, expected)
    scalar = compiled.evaluate(compiled.numpy_function("effective_size", factory), tuple(a[0, 0] for a in args))
    assert isinstance(scalar, float) and scalar == expected[0, 0]


def test_a_damaged_or_stale_entry_is_never_used(fresh_cache):
    compiled.numpy_function("effective_size", "jtt_formula")
    (entry,) = (fresh_cache / "formulas").glob("effective_size.jtt_formula-*.json")
    # wrong code under the current key: the test proves the entry is what gets executed...
    stored = json.loads(entry.read_text())
    entry.write_text(json.dumps({**stored, "source": stored["source"].replace("return ", "return 2 * ")}))
    compiled.numpy_function.cache_clear()
    assert compiled.numpy_function("effective_size", "jtt_formula")(0.1, 20.0, 0.3, 0.1) == pytest.approx(
        2 * effective_size.jtt_formula().numeric(0.1, 20.0, 0.3, 0.1), rel=1e-12)
    # ...so a damaged entry must be rebuilt, not trusted
    entry.write_text("{not json")
    compiled.numpy_function.cache_clear()
    assert compiled.numpy_function("effective_size", "jtt_formula")(0.1, 20.0, 0.3, 0.1) == \
        effective_size.jtt_formula().numeric(0.1, 20.0, 0.3, 0.1)
    # and the key follows the derivation's source: another module text is another entry name
    compiled._dependency_hash.cache_clear()
    key_now = compiled._dependency_hash("effective_size")
    assert key_now in entry.name and key_now != compiled._dependency_hash("hardt")


def test_without_a_cache_the_formula_is_derived(monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")
    compiled.numpy_function.cache_clear()
    try:
        assert effective_size.alpha_eff_cvar(0.1, 0.5, 0.7) == pytest.approx(0.1 * 0.7 / 0.5, rel=1e-15)
    finally:
        compiled.numpy_function.cache_clear()


def test_alpha_eff_needs_no_sympy_once_compiled(tmp_path):
    code = ("import sys\n"
            "import collective_action.theory as theory\n"
            "from collective_action.algorithms import get_algorithm\n"
            "print(theory.alpha_eff_jtt(0.1, 20.0, 0.3, 0.1), theory.alpha_eff(0.2, 2.0, 1.0))\n"
            "print('sympy' in sys.modules, 'numpy.f2py' in sys.modules)\n")
    env = {**__import__("os").environ, CACHE_ENV: str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/",
                           env=env).stdout.split("\n") for _ in range(2)]
    assert runs[0][0] == runs[1][0]  # same numbers from derivation and from the stored code
    # the first run derived, the second did not, and did not load numpy's lazy f2py (0.1 s)
    assert runs[0][1].startswith("True") and runs[1][1] == "False False"


def test_the_namespace_is_lambdifys_without_numpys_lazy_submodules():
    star: dict = {}
    exec(compiled._NAMESPACE_SETUP, star)  # noqa: S102 - what lambdify's NumPy printer assumes
    ours = compiled._numpy_namespace()
    lazy = {k for k, v in star.items() if isinstance(v, type(np)) and k != "numpy"}
    assert {"f2py", "testing", "fft"} <= lazy
    # the same bindings; a lazy submodule appears only once something else has imported it
    assert set(ours) <= set(star) and set(star) - {"__builtins__"} - set(ours) <= lazy
    assert all(ours[k] is star[k] for k in ours if k != "I") and ours["I"] == star["I"] == 1j


def test_lazy_package_exports_every_name():
    import collective_action.theory as theory

    for name in theory.__all__:
        assert getattr(theory, name) is not None
    assert set(theory.__all__) <= set(dir(theory))
    with pytest.raises(AttributeError):
        theory.no_such_result  # noqa: B018
    code = "import collective_action.theory as t; print(t.max_margin.__name__, callable(t.bayes.mixture_breakpoints))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.split() == ["collective_action.theory.max_margin", "True"]


def test_the_gaussian_closed_form_from_stored_code_equals_a_fresh_lambdify(fresh_cache):
    import sympy as sp

    from collective_action.theory import gaussian

    d = gaussian.binary_free_condition()
    a, L, _ = d["symbols"]
    direct_thr = sp.lambdify((a, L), sp.log(d["r_star"]), "numpy")
    direct_moments = sp.lambdify(d["subs"], [d["log_r"][0], d["log_r"][1], d["log_L_target"][0],
                                              d["log_L_target"][1], d["log_L_other"][0], d["log_L_other"][1]], "numpy")
    for derive in (True, False):       # the first call derives and stores, the second reads the entry
        gaussian._closed_form_functions.cache_clear()
        compiled.numpy_function.cache_clear()
        thr, moments = gaussian._closed_form_functions()
        for alpha, l_ratio in ((0.01, 0.2), (0.3, 0.7), (0.9, 1e-6)):  # L < 1, where it is used
            assert thr(alpha, l_ratio) == direct_thr(alpha, l_ratio)
        assert moments(2.0, 1.0, 1.5, 0.8) == direct_moments(2.0, 1.0, 1.5, 0.8)
        assert len(list((fresh_cache / "formulas").glob("gaussian.closed_form_*.json"))) == 2
    gaussian._closed_form_functions.cache_clear()


@pytest.mark.parametrize("definition", ["contamination", "tv"])
def test_hardt_bound_and_critical_mass_from_stored_code_equal_the_derivation(fresh_cache, definition):
    from collective_action.theory import hardt

    rng = np.random.default_rng(1)
    alpha, delta, xi = rng.uniform(0.01, 0.99, size=(3, 20))
    eps, target = rng.uniform(0.0, 0.2, size=20), rng.uniform(0.1, 1.0, size=20)
    bound = hardt.hardt_bound_formula(definition, True).numeric(alpha, delta, xi, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = hardt.critical_mass_formula(definition, True).numeric(delta, xi, target, eps)
    for _ in range(2):                 # derives and stores, then reads the stored entries
        compiled.numpy_function.cache_clear()
        assert np.array_equal(hardt.hardt_bound(alpha, delta, xi, eps, definition), bound)
        got = hardt.critical_mass(delta, xi, target, eps, definition)
        finite = np.isfinite(root) & (root < 1) & (root > 0)
        assert finite.any() and np.array_equal(got[finite], root[finite])
    assert len(list((fresh_cache / "formulas").glob(f"hardt.*_{definition}-*.json"))) == 2
