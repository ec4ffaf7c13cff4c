"""Vectorised input checks for the numeric theory functions (scalars or arrays)."""

from __future__ import annotations

import numpy as np

from collective_action.errors import InputError


def as_float_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {value!r}")
    return arr


def _first_bad(arr: np.ndarray, bad: np.ndarray):
    return arr[bad].flat[0] if arr.ndim else arr.item()


def open_unit(name: str, value) -> np.ndarray:
    """``value`` with every entry in (0, 1)."""
    arr = as_float_array(name, value)
    bad = ~((arr > 0.0) & (arr < 1.0))
    if bad.any():
        raise InputError(f"{name} must lie in (0, 1), got {_first_bad(arr, bad)!r}")
    return arr


def closed_unit(name: str, value) -> np.ndarray:
    """``value`` with every entry in [0, 1]."""
    arr = as_float_array(name, value)
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        raise InputError(f"{name} must lie in [0, 1], got {_first_bad(arr, bad)!r}")
    return arr


def epsilon(value, name: str = "epsilon") -> np.ndarray:
    """Suboptimality eps with every entry in [0, 1)."""
    arr = as_float_array(name, value)
    bad = ~((arr >= 0.0) & (arr < 1.0))
    if bad.any():
        raise InputError(f"{name} must lie in [0, 1), got {_first_bad(arr, bad)!r}")
    return arr


def half_open_unit(name: str, value) -> np.ndarray:
    """``value`` with every entry in (0, 1] (a target success, a CVaR level)."""
    arr = as_float_array(name, value)
    bad = ~((arr > 0.0) & (arr <= 1.0))
    if bad.any():
        raise InputError(f"{name} must lie in (0, 1], got {_first_bad(arr, bad)!r}")
    return arr


def positive(name: str, value, minimum: float = 0.0, inclusive: bool = False) -> np.ndarray:
    arr = as_float_array(name, value)
    bad = ~(arr >= minimum) if inclusive else ~(arr > minimum)
    if bad.any():
        rel = ">=" if inclusive else ">"
        raise InputError(f"{name} must be {rel} {minimum:g}, got {_first_bad(arr, bad)!r}")
    return arr


def scalar_or_array(out: np.ndarray):
    """A Python float for 0-d results, the array otherwise."""
    out = np.asarray(out, dtype=float)
    return float(out) if out.ndim == 0 else out
