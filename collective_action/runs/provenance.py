"""What computed a stored row: thread counts, the CPU's instruction set, library versions.

Training on the CPU gives results that differ in the last digits with the number of threads (a
matrix product sums in another order) and with the CPU's kernels (torch and BLAS pick them by
instruction set), and near a critical mass such a difference can move a seed's success. So every
row the sweep runner stores carries, next to the package version, the environment of the worker
that computed it (``ENVIRONMENT_COLUMNS``). Two runs of the same cells that disagree can then be
traced to what differed; :func:`environments` lists them per experiment, and the report and the
sweep say when one experiment's cells were computed under more than one.
"""

from __future__ import annotations

import platform
import sys

import pandas as pd

#: Row columns the runner stamps; like the store's timing columns they say how, not what.
ENVIRONMENT_COLUMNS = ("threads", "cpu", "library_versions")

# best first: the first instruction set NumPy finds on this CPU names it
_INSTRUCTION_SETS = ("AVX512_SPR", "AVX512_ICL", "AVX512_CLX", "AVX512_CNL", "AVX512_SKX", "AVX512F",
                     "AVX2", "AVX", "SSE42", "SVE", "ASIMD", "NEON", "VSX4", "VSX3", "VSX2", "VX")


def _blas_threads() -> str:
    """The thread count of every BLAS library loaded in this process (threadpoolctl reads it from
    the libraries themselves: environment variables set after a library loaded do not count)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "blas ?"
    counts = sorted({int(lib["num_threads"]) for lib in threadpool_info() if lib.get("user_api") == "blas"})
    return "blas " + "/".join(str(c) for c in counts) if counts else "blas none loaded"


def _cpu() -> str:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            features = {}
    best = next((name for name in _INSTRUCTION_SETS if features.get(name)), "baseline")
    return f"{platform.machine() or '?'} {best}"


def _versions() -> str:
    import numpy

    parts = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for name in ("torch", "cupy"):  # only what this process loaded: a NumPy-only cell never imports torch
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__version__", None):
            parts.append(f"{name} {module.__version__}")
    return ", ".join(parts)


def environment() -> dict[str, str]:
    """This process's environment, as stamped on the rows it computes (measured at each call:
    a worker sets its torch threads when a batch starts)."""
    threads = _blas_threads()
    torch = sys.modules.get("torch")
    if torch is not None:
        threads = f"torch {torch.get_num_threads()}, {threads}"
    return {"threads": threads, "cpu": _cpu(), "library_versions": _versions()}


def environments(frame: pd.DataFrame) -> pd.DataFrame:
    """The distinct environments of ``frame``'s rows, with how many cells each computed.

    Columns: ``experiment``, the environment columns, ``cells``; rows stored before environments
    were recorded count under ``not recorded``."""
    columns = ["experiment", *ENVIRONMENT_COLUMNS, "cells"]
    if not len(frame):
        return pd.DataFrame(columns=columns)
    keys = frame[["experiment", "cell_id"]].astype(str).copy()
    for col in ENVIRONMENT_COLUMNS:
        values = frame[col] if col in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        keys[col] = values.where(values.notna(), "not recorded").astype(str)
    per_cell = keys.drop_duplicates()
    counts = per_cell.groupby(["experiment", *ENVIRONMENT_COLUMNS], sort=True)["cell_id"].nunique()
    return counts.rename("cells").reset_index()[columns]


def describe(row) -> str:
    """One line for an environment: threads, CPU, versions."""
    return f"threads {row['threads']} · {row['cpu']} · {row['library_versions']}"


def mixed_environments_note(count: int) -> str:
    """What a reader of an experiment computed under ``count`` > 1 environments should know."""
    return (f"these cells were computed under {count} environments (threads, CPU or library versions); "
            "training on the CPU can differ in the last digits between them, which near a critical mass "
            "can move a seed's success: compare learners within one environment, or rerun in a new folder")
