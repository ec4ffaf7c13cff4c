"""The machine's measured matrix-multiply peak, which the simulate benchmarks set their achieved
GFLOP/s against (imported by the scripts beside it; not a benchmark of its own)."""

from __future__ import annotations

import time

import numpy as np


def matmul_peak_gflops(size: int = 2048, repeats: int = 3, backend=None, dtype: str = "float64") -> float:
    """GFLOP/s of a large square matrix product on ``backend`` (NumPy's BLAS, or the GPU)."""
    xp = np if backend is None else backend.xp
    a = xp.asarray(np.random.default_rng(0).standard_normal((size, size)), dtype=getattr(xp, dtype))
    b = xp.asarray(np.random.default_rng(1).standard_normal((size, size)), dtype=getattr(xp, dtype))
    # reading one entry back forces a GPU to finish the product before the clock stops
    product = (lambda: float((a @ b)[0, 0])) if backend is not None and backend.name == "cupy" else (lambda: a @ b)
    product()  # warm up BLAS / cuBLAS
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9
