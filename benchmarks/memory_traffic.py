"""Memory traffic of a NumPy computation, counted op by op, and the machine's streaming bandwidth.

The issue-17 goal for the simulator's fit is "memory traffic at least half the machine's measured
streaming bandwidth". Both sides of that ratio are measured here, in the benchmark's process:

* :func:`count_fit_traffic` runs ``fit_logistic`` on an array namespace whose arrays count, for
  every NumPy operation (ufuncs, reductions, matmul, take, concatenate, solve, contiguous copies),
  the bytes of its array operands and of its result. That is the traffic NumPy itself moves when
  no operation is fused (each operand read once, each result written once; views move nothing).
  The fit's answer is unchanged by the counting (tested), so its bytes divided by the timed fit
  are its achieved traffic rate. Caches are not modelled: a chunk that stays in cache can move more
  bytes per second than main memory streams, which is why the fit works on cache-sized chunks.
* :func:`stream_bandwidth` times STREAM's copy (read + write, 2 x 8 bytes per element) and a read
  (sum) over arrays four times larger than the last-level cache and reports the best of repeats,
  as STREAM does.
"""

from __future__ import annotations

import time

import numpy as np


class _Counted(np.ndarray):
    """An ndarray whose NumPy operations add their operand and result bytes to a counter."""

    counter: list  # [bytes]; set on the class counting_backend makes for each count

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        base_in = [_base(a) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_base(o) for o in out)
        result = getattr(ufunc, method)(*base_in, **kwargs)
        outs = result if isinstance(result, tuple) else (result,)
        moved = sum(a.nbytes for a in base_in if isinstance(a, np.ndarray))
        moved += sum(o.nbytes for o in outs if isinstance(o, np.ndarray))
        type(self).counter[0] += moved
        return _wrap_all(type(self), result)

    def __array_function__(self, func, types, args, kwargs):
        return _counted_call(type(self), func, args, kwargs)


def _counted_call(cls, func, args, kwargs):
    """``func`` on the plain arrays of ``args``/``kwargs``, its operand and result bytes added to
    ``cls.counter``, its array results counted arrays again."""
    flat_in = [_base(a) for a in _flatten(args) + _flatten(list(kwargs.values())) if isinstance(a, np.ndarray)]
    result = func(*_base_all(args), **_base_all(kwargs))
    outs = [_base(o) for o in _flatten([result]) if isinstance(o, np.ndarray)]
    # a view (transpose, reshape of a contiguous array) moves nothing
    if not any(np.may_share_memory(o, a) for o in outs for a in flat_in):
        cls.counter[0] += sum(a.nbytes for a in flat_in) + sum(o.nbytes for o in outs)
    return _wrap_all(cls, result)


def _base(a):
    return a.view(np.ndarray) if isinstance(a, _Counted) else a


def _flatten(items) -> list:
    flat = []
    for a in items:
        if isinstance(a, (list, tuple)):
            flat += _flatten(a)
        else:
            flat.append(a)
    return flat


def _base_all(obj):
    if isinstance(obj, dict):
        return {k: _base_all(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_base_all(v) for v in obj)
    return _base(obj)


def _wrap_all(cls, obj):
    if isinstance(obj, tuple):
        return tuple(_wrap_all(cls, v) for v in obj)
    if isinstance(obj, np.ndarray) and not isinstance(obj, cls):
        return obj.view(cls)
    return obj


class _CountingNamespace:
    """The array-API NumPy namespace, with array creation and conversion returning counted arrays
    (conversions that copy count their bytes; the rest dispatches through the arrays)."""

    _CREATE = ("ones", "zeros", "eye", "arange", "zeros_like", "ones_like", "full")

    def __init__(self, xp, cls):
        self._xp, self._cls = xp, cls
        self.linalg = _CountingLinalg(xp.linalg, cls)

    def __getattr__(self, name):
        attr = getattr(self._xp, name)
        if name in self._CREATE:
            def create(*args, **kwargs):
                out = attr(*args, **kwargs)
                self._cls.counter[0] += out.nbytes
                return out.view(self._cls)
            return create
        return attr

    def _convert(self, fn, a, **kwargs):
        out = fn(_base(a), **kwargs)
        if isinstance(a, np.ndarray) and not np.may_share_memory(_base(out), _base(a)):
            self._cls.counter[0] += a.nbytes + out.nbytes
        return out.view(self._cls) if isinstance(out, np.ndarray) else out

    def asarray(self, a, dtype=None, **kwargs):
        return self._convert(lambda x, **k: self._xp.asarray(x, dtype=dtype, **k), a, **kwargs)

    def ascontiguousarray(self, a):
        return self._convert(np.ascontiguousarray, a)

    def astype(self, a, dtype, **kwargs):
        return self._convert(lambda x, **k: self._xp.astype(x, dtype, **k), a, **kwargs)


class _CountingLinalg:
    """The namespace's linalg: array-API NumPy converts its operands to plain arrays before the
    gufunc, so each call is counted here (operands and result) on plain arrays."""

    def __init__(self, linalg, cls):
        self._linalg, self._cls = linalg, cls

    def __getattr__(self, name):
        fn = getattr(self._linalg, name)
        return lambda *args, **kwargs: _counted_call(self._cls, fn, args, kwargs)


def counting_backend():
    """(backend, counter): a NumPy backend whose operations add their bytes to ``counter[0]``."""
    from array_api_compat import array_namespace

    from collective_action.simulate.backend import Backend

    cls = type("CountedArray", (_Counted,), {"counter": [0]})
    xp = _CountingNamespace(array_namespace(np.empty(0)), cls)
    return Backend("numpy", xp, "cpu"), cls.counter


def count_fit_traffic(X, y, **fit_kwargs) -> tuple[int, object]:
    """(bytes moved, fit) of ``fit_logistic(X, y, **fit_kwargs)`` on the NumPy backend, counted.
    Only array operations are counted: pass ``newton_kernel="array"`` for the Newton solver (the
    fused kernel runs compiled code that no NumPy operation sees)."""
    from collective_action.simulate.logistic import fit_logistic

    backend, counter = counting_backend()
    fit = fit_logistic(X, y, backend=backend, **fit_kwargs)
    return int(counter[0]), fit


def stream_bandwidth(megabytes: int = 128, repeats: int = 5) -> dict:
    """Best-of-``repeats`` GB/s of STREAM copy (2 x 8 bytes per element) and of a read (sum, 8 bytes
    per element) over float64 arrays of ``megabytes`` each."""
    n = megabytes * 2**20 // 8
    a = np.ones(n)
    b = np.empty_like(a)
    copy, read = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        t1 = time.perf_counter()
        float(a.sum())
        t2 = time.perf_counter()
        copy.append(2 * a.nbytes / (t1 - t0) / 1e9)
        read.append(a.nbytes / (t2 - t1) / 1e9)
    return {"copy_gb_s": round(max(copy), 2), "read_gb_s": round(max(read), 2),
            "best_gb_s": round(max(max(copy), max(read)), 2), "array_mb": megabytes}
