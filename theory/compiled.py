"""Derived formulas evaluated without sympy: the lambdified NumPy code, cached on disk.

Deriving a formula in sympy and compiling it with ``lambdify`` costs about a second per process
(sympy's import alone is 0.4 s), which every training run paid to report its predicted alpha_eff.
The compiled code is a few lines of plain Python arithmetic, so the first run stores its source
and later runs execute the stored source in the namespace ``lambdify`` itself gives NumPy code:
the same text compiled by the same interpreter, hence the same numbers bit for bit
(tests/theory/test_compiled.py). An entry's name carries a hash of everything the code depends on
(the deriving module's and symbolic.py's source, the sympy and NumPy versions), so a changed
derivation is never served from a stale entry. Without a usable cache folder (disk_cache.py) the
formula is derived as before.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np

from collective_action.disk_cache import cache_root, write_text_atomically

_FORMAT = 1
#: What ``lambdify(..., modules="numpy")`` puts in the generated function's namespace.
_NAMESPACE_SETUP = "import numpy\nfrom numpy import *\nfrom numpy.linalg import *\nI = 1j\n"


def evaluate(fn: Callable, args: tuple):
    """What ``Formula.numeric`` returns for NumPy input: a float, or an array of the broadcast shape."""
    args = tuple(np.asarray(a, dtype=float) for a in args)
    out = np.asarray(fn(*args), dtype=float)
    if out.ndim == 0:
        return float(out)
    # lambdify returns a scalar for constant expressions: give it the broadcast shape.
    return np.broadcast_to(out, np.broadcast_shapes(*(np.shape(a) for a in args))).copy()


@lru_cache(maxsize=None)
def numpy_function(module: str, factory: str) -> Callable:
    """The compiled NumPy function of the Formula ``collective_action.theory.<module>.<factory>()``."""
    path = _entry_path(module, factory)
    if path is not None:
        try:
            stored = json.loads(path.read_text())
            return _compile(stored["source"], stored["name"])
        except (OSError, ValueError, KeyError, TypeError, SyntaxError):
            pass  # absent or damaged: derive again (and rewrite it)
    formula = getattr(importlib.import_module(f"collective_action.theory.{module}"), factory)()
    source, name = formula.numpy_source()
    fn = _compile(source, name)
    if path is not None:
        write_text_atomically(path, json.dumps({"source": source, "name": name, "formula": formula.name}))
    return fn


def _numpy_namespace() -> dict:
    """What ``_NAMESPACE_SETUP`` (lambdify's NumPy namespace) binds, without importing numpy's lazy
    submodules: ``from numpy import *`` loads every name of numpy.__all__, and that includes fft,
    testing, f2py ... (0.1 s of start-up, f2py alone); they are modules, never a formula's function."""
    loaded = vars(np)
    namespace = {k: loaded[k] for k in np.__all__ if k in loaded}
    namespace.update({k: getattr(np.linalg, k) for k in np.linalg.__all__})
    namespace.update(numpy=np, I=1j)
    return namespace


def _compile(source: str, name: str) -> Callable:
    namespace = _numpy_namespace()
    exec(compile(source, f"<compiled formula {name}>", "exec"), namespace)  # noqa: S102 - code sympy generated
    return namespace[name]


def _entry_path(module: str, factory: str) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    return root / "formulas" / f"{module}.{factory}-{_dependency_hash(module)}.json"


@lru_cache(maxsize=None)
def _dependency_hash(module: str) -> str:
    digest = hashlib.sha256(f"{_FORMAT} sympy {version('sympy')} numpy {np.__version__}".encode())
    for name in (module, "symbolic"):
        origin = importlib.util.find_spec(f"collective_action.theory.{name}").origin
        digest.update(Path(origin).read_bytes())
    return digest.hexdigest()[:20]
