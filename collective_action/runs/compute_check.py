"""Check, before anything runs or is written, that the compute a user asked for exists."""

from __future__ import annotations

from ..compute import Compute


def check_compute(compute: Compute) -> Compute:
    """InputError (one line) when ``--array-backend cupy`` has no CuPy or no device, or
    ``--device cuda`` has no CUDA device. ``auto`` always passes: it falls back to the CPU."""
    if compute.array_backend == "cupy":
        from ..simulate.backend import get_backend

        get_backend("cupy")
    if compute.device == "cuda":
        from ..empirical.train import resolve_device

        resolve_device("cuda")
    return compute
