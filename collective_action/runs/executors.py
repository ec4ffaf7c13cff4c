"""Where a sweep's batches run: in this process, in a local process pool, or on a Ray cluster.

A *batch* is a list of cells of one pillar that ``pillar.run_cells`` computes in one call (so
the simulator stays vectorised). Every backend runs :func:`run_batch` and yields, for each batch,
one :class:`~collective_action.runs.store.CellOutcome` per cell; the sweep's parent process is the
only one that writes to the store. Every batch carries the run's :class:`~collective_action.compute.Compute`
(array library, device, threads) to its pillar, on every executor and every Ray worker.

Worker deaths are retried: the pool rebuilds itself and resubmits the unfinished batches, Ray
resubmits the task (``max_retries``). A batch that keeps killing its worker ends as failed cells.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from ..compute import EXECUTORS, Compute, pass_compute
from ..errors import InputError
from ..experiment import PILLAR_MODULES, Cell, get_pillar
from ..gc_settings import defer_full_collections
from ..results import ResultRow
from .provenance import environment
from .store import CellOutcome

BACKENDS = EXECUTORS  # the executors, by name

#: How often a batch is resubmitted after its worker process died.
WORKER_RETRIES = 2

Batch = list[Cell]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def one_line(err: BaseException, limit: int = 400) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _records_of(cell: Cell, rows, env: dict[str, str]) -> list[dict]:
    """Turn a pillar's rows for ``cell`` into plain records stamped with the cell's identity and
    the environment (runs/provenance.py) that computed them."""
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"pillar {cell.pillar!r} returned {type(rows).__name__} for a cell, expected a list of rows")
    records = []
    for row in rows:
        rec = row.to_record() if isinstance(row, ResultRow) else dict(row)
        # The runner, not the pillar, owns these: they must match the stored cell exactly.
        rec.update(cell_id=cell.cell_id, experiment=cell.experiment, pillar=cell.pillar, seed=cell.seed)
        rec.update(env)
        # Pillars that compute on an accelerator report their device; the runner itself only
        # uses the CPU, so a row that names none was computed there.
        if rec.get("device") is None or rec.get("device") != rec.get("device"):
            rec["device"] = "cpu"
        for col in ("success", "clean_accuracy", "worst_group_accuracy"):
            value = rec.get(col)
            if isinstance(value, (int, float)) and value == value and not (-1e-12 <= value <= 1 + 1e-12):
                raise ValueError(f"row column {col}={value!r} lies outside [0, 1]")
        records.append(rec)
    return records


def run_batch(pillar_name: str, pillar_module: str, cells: Batch, sweep_backend: str,
              compute: Compute | None = None) -> list[CellOutcome]:
    """Run one batch through its pillar; never raises for a failing cell.

    If the batch as a whole raises, its cells are run one at a time so that only the cells
    that really fail are marked failed (with their one-line error).
    """
    PILLAR_MODULES.setdefault(pillar_name, pillar_module)  # lets a worker find a pillar registered at run time
    host = socket.gethostname()
    started, t0 = utc_now(), time.perf_counter()
    try:
        pillar = get_pillar(pillar_name)
        with _blas_threads_capped(None if compute is None else compute.threads):
            results = pass_compute(pillar.run_cells, list(cells), compute)
            env = environment()  # after the pillar ran (it sets torch's threads), under the cap
        if len(results) != len(cells):
            raise RuntimeError(f"pillar {pillar_name!r} returned {len(results)} results for {len(cells)} cells")
        records = [_records_of(cell, rows, env) for cell, rows in zip(cells, results)]
    except Exception as err:  # noqa: BLE001 - a failing cell must not end the sweep
        if len(cells) > 1:
            out: list[CellOutcome] = []
            for cell in cells:
                out.extend(run_batch(pillar_name, pillar_module, [cell], sweep_backend, compute))
            return out
        wall = time.perf_counter() - t0
        cell = cells[0]
        return [_outcome(cell, None, one_line(err), sweep_backend, host, started, utc_now(), wall)]
    finished, wall = utc_now(), time.perf_counter() - t0
    share = wall / len(cells)  # a vectorised batch has no per-cell time; report its share
    return [_outcome(c, r, None, sweep_backend, host, started, finished, share) for c, r in zip(cells, records)]


def _outcome(cell, records, error, backend, host, started, finished, wall) -> CellOutcome:
    return CellOutcome(
        cell_id=cell.cell_id, experiment=cell.experiment, pillar=cell.pillar, seed=cell.seed,
        config=cell.config, records=records, error=error, sweep_backend=backend, host=host,
        started_at=started, finished_at=finished, wall_s=wall,
    )


def _died(batch: Batch, backend: str, why: str) -> list[CellOutcome]:
    now = utc_now()
    return [_outcome(c, None, why, backend, socket.gethostname(), now, now, 0.0) for c in batch]


# ------------------------------------------------------------------------------------ serial
def run_serial(batches: list[Batch], compute: Compute | None = None) -> Iterator[list[CellOutcome]]:
    for batch in batches:
        yield run_batch(batch[0].pillar, PILLAR_MODULES[batch[0].pillar], batch, "serial", compute)


@contextmanager
def _blas_threads_capped(threads: int | None):
    """``--threads`` for BLAS and OpenMP in whatever process runs a batch: this one (serial), a pool
    worker or a Ray worker. Libraries already loaded ignore environment variables set after them,
    so threadpoolctl sets the count; the previous counts come back after the batch."""
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads)):
        yield


# ------------------------------------------------------------------------------------ pool
def _pool_initialiser(threads: int, parent: int | None = None) -> None:
    # Workers share the machine's cores: keep each one's BLAS/torch from spawning a thread per core.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if parent is not None:  # in a worker (the parent calls this only for the thread caps)
        defer_full_collections()  # the worker imports torch or sympy next: no full collections over them
        _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """Linux: end this worker when the process that started it dies (killed, or stopped by a signal
    that skips clean-up), instead of training on for a batch nobody will store. Elsewhere a
    worker notices when it next talks to its parent. (Linux ties the signal to the thread that
    spawned the worker, the one that submits work: a pool is used from the thread that runs the
    sweep, so that thread outlives its workers' batches.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no prctl: keep the portable behaviour
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


class WorkerPool:
    """A process pool (*spawn* start method: safe with threads and torch) that can outlive one
    sweep, so that ``reproduce`` pays the workers' start-up (imports) once for many files."""

    def __init__(self, workers: int, threads: int | None = None):
        self.workers = workers
        self.threads = threads
        self._executor: cf.ProcessPoolExecutor | None = None

    def executor(self) -> cf.ProcessPoolExecutor:
        if self._executor is None:
            threads = self.threads or max(1, (os.cpu_count() or 1) // self.workers)
            # Spawned workers inherit the environment at start, before they import numpy/torch:
            # set the thread caps here too (the parent only writes to the store).
            _pool_initialiser(threads)
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_pool_initialiser, initargs=(threads, os.getpid()),
            )
        return self._executor

    def reset(self) -> None:
        """Drop the executor without waiting (after a worker died, or on interruption)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_pool(batches: list[Batch], workers: int, pool: WorkerPool | None = None,
             compute: Compute | None = None) -> Iterator[list[CellOutcome]]:
    """Run batches on a local process pool; a dead worker's batches are resubmitted."""
    own = pool is None
    pool = pool or WorkerPool(workers, None if compute is None else compute.threads)
    attempts = {i: 0 for i in range(len(batches))}
    todo = list(range(len(batches)))
    try:
        while todo:
            executor = pool.executor()
            futures = {
                executor.submit(run_batch, batches[i][0].pillar, PILLAR_MODULES[batches[i][0].pillar], batches[i], "pool",
                                compute): i
                for i in todo
            }
            broken: list[int] = []
            for future in cf.as_completed(futures):
                try:
                    yield future.result()
                except cf.process.BrokenProcessPool:
                    broken.append(futures[future])
            if broken:
                pool.reset()
            todo = []
            for i in sorted(broken):
                attempts[i] += 1
                if attempts[i] > WORKER_RETRIES:
                    yield _died(batches[i], "pool", f"worker process died {attempts[i]} times running this batch")
                else:
                    todo.append(i)
    except BaseException:
        # Interrupted (Ctrl-C, or the consumer stopped early): do not wait for running batches.
        pool.reset()
        raise
    finally:
        if own:
            pool.close()


# ------------------------------------------------------------------------------------ ray
def ray_module():
    try:
        import ray
    except ImportError:
        raise InputError("the ray backend needs Ray: pip install 'collective-action[distributed]'") from None
    return ray


#: Seconds to wait for a Ray head's port to answer before the address counts as unreachable.
RAY_CONNECT_TIMEOUT_S = 5.0


def check_ray_address(address: str) -> None:
    """One line, within RAY_CONNECT_TIMEOUT_S, when ``host:port`` does not answer (Ray itself
    retries for minutes). Other address forms (``auto``, ``ray://...``) are left to Ray."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"--address must be host:port (or auto), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise InputError(f"cannot reach a Ray cluster at {address} within {RAY_CONNECT_TIMEOUT_S:g} s "
                         f"({err.strerror or type(err).__name__})") from None


def connect_ray(workers: int | None, address: str | None) -> bool:
    """Connect to Ray unless already connected; True if this call started the connection.

    Without an address the toolkit starts a local head bound to 127.0.0.1 (never reachable
    from other machines) without the dashboard.
    """
    ray = ray_module()
    if ray.is_initialized():
        return False
    # Workers start in an empty folder of their own: in the driver's folder (a checkout's root,
    # say) the source folder collective_action/ would shadow the installed package.
    runtime_env = {"working_dir": tempfile.mkdtemp(prefix="collective-action-ray-")}
    try:
        if address:
            ray.init(address=address, log_to_driver=False, runtime_env=runtime_env)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                     runtime_env=runtime_env)
    except Exception as err:  # noqa: BLE001 - a wrong address is the user's input
        raise InputError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {one_line(err)}") from None
    _ray_notices_to_stderr()
    return True


def _ray_notices_to_stderr() -> None:
    """Ray prints the raylet's notices (e.g. "a worker died ...", after which it retries the task)
    on the driver's stdout, where they would break ``--json`` output: send them to stderr."""
    try:
        import ray._private.worker as ray_worker

        original = ray_worker.print_to_stdstream
        if getattr(original, "_to_stderr", False):
            return

        def to_stderr(data, *args, **kwargs):
            return original({**data, "is_err": True}, *args, **kwargs)

        to_stderr._to_stderr = True
        ray_worker.print_to_stdstream = to_stderr
    except Exception:  # noqa: BLE001 - a Ray without this internal keeps its default printing
        pass


def run_ray(batches: list[Batch], workers: int | None, address: str | None,
            compute: Compute | None = None) -> Iterator[list[CellOutcome]]:
    """Run on Ray: an existing connection, ``address``, or a local head bound to 127.0.0.1.

    Each batch is a task with ``max_retries``: if its worker process dies, Ray runs it again.
    """
    ray = ray_module()
    started_here = connect_ray(workers, address)
    remote = ray.remote(num_cpus=1, max_retries=WORKER_RETRIES + 1, retry_exceptions=False)(run_batch)
    try:
        refs = {
            remote.remote(b[0].pillar, PILLAR_MODULES[b[0].pillar], b, "ray", compute): i for i, b in enumerate(batches)
        }
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            ref = ready[0]
            try:
                yield ray.get(ref)
            except Exception as err:  # noqa: BLE001 - retries exhausted: the batch's cells fail
                yield _died(batches[refs[ref]], "ray", one_line(err))
    finally:
        if started_here:
            ray.shutdown()
