"""The option words every command that runs anything shares: where cells run (--executor) and
what they compute on (--array-backend, --device, --threads), gathered into one Compute."""

from __future__ import annotations

import typer

from ..compute import Compute

EXECUTOR_OPTION = typer.Option("pool", "--executor", help="serial | pool (local processes) | ray")
SERIAL_EXECUTOR_OPTION = typer.Option("serial", "--executor", help="serial (default) | pool (local processes) | ray")
ARRAY_BACKEND_OPTION = typer.Option("auto", "--array-backend",
                                    help="The simulator's array library: auto (CuPy when a GPU answers) | numpy | cupy.")
DEVICE_OPTION = typer.Option("auto", "--device", help="The empirical pillar's torch device: auto | cpu | cuda.")
THREADS_OPTION = typer.Option(None, "--threads", help="BLAS/torch threads per worker (default: its share of cores).")
WORKERS_OPTION = typer.Option(None, "--workers", help="Parallel workers (pool, ray; default: CPU cores).")
ADDRESS_OPTION = typer.Option(None, "--address", help="Ray cluster address (with --executor ray).")
#: the former name of --executor (sweep, reproduce) or of --array-backend (simulate, stress)
LEGACY_BACKEND_OPTION = typer.Option(None, "--backend", hidden=True)


def make_compute(array_backend: str = "auto", device: str = "auto", threads: int | None = None) -> Compute:
    """The Compute of the options, checked to exist (one-line InputError otherwise)."""
    from ..runs.compute_check import check_compute

    return check_compute(Compute(array_backend=array_backend, device=device, threads=threads))
