"""One array backend chosen at run time: CuPy when a CUDA device is usable, NumPy otherwise.

Simulation code is written once against the array API namespace returned here
(array-api-compat wraps NumPy and CuPy alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from collective_action.errors import InputError, check_choice

BACKENDS = ("auto", "numpy", "cupy")


def cupy_usable() -> bool:
    """True when CuPy imports and a CUDA device answers (without a GPU any CuPy op raises)."""
    try:
        import cupy
    except Exception:
        return False
    try:
        return bool(cupy.cuda.is_available()) and cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@dataclass(frozen=True)
class Backend:
    """The chosen backend: ``name`` ('numpy' or 'cupy'), its array-API namespace ``xp``, and the
    host ``threads`` a batched fit may spread its chunks over (NumPy only; ``--threads``)."""

    name: str
    xp: Any
    device: str
    threads: int = 1

    def asarray(self, a, dtype=None):
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        if self.name == "cupy":
            import cupy

            return cupy.asnumpy(a)
        return np.asarray(a)


def get_backend(name: "str | Backend | None" = "auto") -> Backend:
    """The backend for ``name``; 'auto' (or None) falls back to NumPy silently, 'cupy' without a
    GPU errors. A :class:`Backend` (on any array-API namespace) is returned as it is."""
    if isinstance(name, Backend):
        return name
    name = name or "auto"
    check_choice("backend", name, BACKENDS)
    if name in ("auto", "cupy") and cupy_usable():
        import cupy

        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        label = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        return Backend("cupy", array_namespace(cupy.empty(0)), f"cuda:{dev.id} {label}")
    if name == "cupy":
        raise InputError("backend 'cupy' needs CuPy and a usable CUDA device; use --backend numpy or auto")
    return Backend("numpy", array_namespace(np.empty(0)), "cpu")
