"""Where a run computes: one small settings object that travels from the command line through
the executor to the pillar, instead of hidden state.

* ``array_backend``: the simulator's array library, ``auto`` (CuPy when a CUDA device answers,
  else NumPy), ``numpy`` or ``cupy``; the Python API also takes a ``simulate.backend.Backend``;
* ``device``: the empirical pillar's torch device, ``auto`` (CUDA when torch sees one, else the
  CPU), ``cpu`` or ``cuda``;
* ``threads``: BLAS and torch threads per worker process (None: the executor's share of cores).

The executor (``--executor serial|pool|ray``) is not part of it: it decides where cells run, and
hands every cell the same Compute. Checking that a device exists is the orchestration's job
(``runs.compute_check``), so this module imports neither torch nor a pillar.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .errors import check_choice, check_positive_whole

EXECUTORS = ("serial", "pool", "ray")
ARRAY_BACKENDS = ("auto", "numpy", "cupy")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Compute:
    array_backend: Any = "auto"
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        if isinstance(self.array_backend, str):
            check_choice("array backend", self.array_backend, ARRAY_BACKENDS)
        check_choice("device", self.device, DEVICES)
        if self.threads is not None:
            check_positive_whole("threads", self.threads)

    def as_dict(self) -> dict:
        d = asdict(self)
        if not isinstance(self.array_backend, str):
            d["array_backend"] = getattr(self.array_backend, "name", str(self.array_backend))
        return d


def pass_compute(run_cells, cells, compute: Compute | None):
    """Call a pillar's ``run_cells``, with ``compute`` where it takes one (a pillar registered by a
    user may predate the settings object)."""
    import inspect

    try:
        takes = "compute" in inspect.signature(run_cells).parameters
    except (TypeError, ValueError):
        takes = False
    return run_cells(cells, compute=compute or Compute()) if takes else run_cells(cells)
