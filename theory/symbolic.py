"""The record every derived result is returned in: a sympy expression plus what it assumes.

A :class:`Formula` keeps the exact expression (for LaTeX and symbolic checks), the symbols in
the order the numeric function takes them, the assumptions under which it was derived, and a
compiled numeric function. The numeric function is built by ``sympy.lambdify`` once per array
namespace: NumPy by default, and whatever namespace ``array_api_compat`` finds for the
arguments otherwise (torch tensors, CuPy arrays), so one derivation serves every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from .compiled import evaluate


#: How symbols whose plain names are identifiers should read in LaTeX.
LATEX_NAMES = {
    "q_star": r"q^{*}",
    "e_star": r"e^{*}",
    "e_0": r"e_{0}",
    "E_star_w": r"\mathbb{E}_{P^*}[w]",
    "E_0_w": r"\mathbb{E}_{P_0}[w]",
    "E_star_excess": r"\mathbb{E}_{P^*}[(\ell-\eta)_+]",
    "E_0_excess": r"\mathbb{E}_{P_0}[(\ell-\eta)_+]",
    "W_star": r"\bar W^{*}",
    "W_0": r"\bar W_{0}",
    "p_star": r"P^*(x')",
    "D": r"D(x')",
    "Phat_star": r"\hat P^*(x)",
    "Dhat": r"\hat D(x)",
    "n_Xstar": r"|X^*|",
    "n_Y": r"|\mathcal{Y}|",
    "N_test": r"N_{\mathrm{test}}",
    "S_t": r"S_t",
    "a_c": r"a_c",
}


def _namespace_of(args) -> tuple[str, Any]:
    """(name, namespace) of the first non-NumPy array among ``args``; NumPy otherwise."""
    for arg in args:
        if isinstance(arg, (int, float, complex, np.ndarray, np.generic, list, tuple)):
            continue
        try:
            from array_api_compat import array_namespace

            xp = array_namespace(arg)
        except TypeError:
            continue
        return xp.__name__, xp
    return "numpy", np


@dataclass(frozen=True, eq=False)
class Formula:
    """A derived result: ``expr`` in terms of ``symbols``, valid under ``assumptions``.

    ``name`` is a short identifier, ``statement`` one sentence saying what the expression is.
    Call :meth:`numeric` (or the formula itself) with arrays that broadcast together.
    """

    name: str
    expr: sp.Expr
    symbols: tuple[sp.Symbol, ...]
    assumptions: tuple[str, ...]
    statement: str = ""
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def latex(self, lhs: str | None = None, relation: str = "=") -> str:
        """LaTeX of the expression, as ``lhs <relation> ...`` when ``lhs`` is given."""
        names = {s: LATEX_NAMES[s.name] for s in self.expr.free_symbols if s.name in LATEX_NAMES}
        body = sp.latex(self.expr, symbol_names=names)
        return f"{lhs} {relation} {body}" if lhs else body

    def subs(self, **values) -> sp.Expr:
        """Exact substitution (slow; for checks): keyword names are the symbol names."""
        by_name = {s.name: s for s in self.symbols}
        return self.expr.subs({by_name[k]: v for k, v in values.items()})

    def _compile(self, ns_name: str, xp) -> Callable:
        if ns_name not in self._compiled:
            # Numeric constants such as sqrt(2) become floats so that array libraries that do
            # not accept Python ints in their elementwise functions (torch) still work.
            expr = sp.N(self.expr)
            if ns_name == "numpy":
                modules = ["numpy"]
            else:
                table = {k: getattr(xp, k) for k in dir(xp) if not k.startswith("_")}
                modules = [table, "numpy"]
            self._compiled[ns_name] = sp.lambdify(self.symbols, expr, modules=modules)
        return self._compiled[ns_name]

    def numpy_source(self) -> tuple[str, str]:
        """(source, function name) of the NumPy code ``lambdify`` generates (cached by theory/compiled.py)."""
        import inspect

        fn = self._compile("numpy", np)
        return inspect.getsource(fn), fn.__name__

    def numeric(self, *args):
        """Evaluate on numbers or arrays (NumPy, torch, CuPy) that broadcast together."""
        if len(args) != len(self.symbols):
            raise TypeError(f"{self.name} takes {len(self.symbols)} arguments "
                            f"({', '.join(s.name for s in self.symbols)}), got {len(args)}")
        ns_name, xp = _namespace_of(args)
        if ns_name == "numpy":
            return evaluate(self._compile(ns_name, xp), args)
        return self._compile(ns_name, xp)(*args)

    __call__ = numeric
