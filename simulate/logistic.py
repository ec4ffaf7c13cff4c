"""Batched multinomial logistic regression: one model per configuration, all trained at once.

A sweep over (alpha, seed, hyper-parameter) configurations of one synthetic family gives C
training sets of the same shape. Stacking them as X: (C, n, d) lets gradient descent train all C
models with one batched matrix product per step instead of a Python loop over configurations.
The code is written once against the array-API namespace of
:func:`collective_action.simulate.backend.get_backend` (NumPy or CuPy).

Objective of configuration c (weighted mean cross-entropy, ridge penalty on W only)::

    L_c(W, b) = sum_i w_ci * CE(softmax(x_ci W + b), y_ci) / sum_i w_ci  +  (l2 / 2) ||W||_F^2

With ``l2 > 0`` this is scikit-learn's multinomial ``LogisticRegression`` objective with
``C = 1 / (l2 * sum_i w_ci)`` (scikit-learn does not penalise the intercept either).

Assumptions: every configuration has the same number of points n, features d and classes K
(pad with zero-weight points if a family needs ragged sets); labels are integers in [0, K).
Converged configurations are frozen during full-batch gradient descent, so a configuration's
trajectory never depends on the others in its batch: a batched fit equals per-configuration fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from collective_action.errors import InputError, check_positive_whole
from collective_action.simulate.backend import Backend, get_backend

#: Default working-set budget of one chunk of configurations (bytes): on a GPU, a large share of
#: device memory; on the CPU a cache-sized chunk, because gradient descent streams its chunk's data
#: twice per step and a chunk that stays in cache trains about twice as fast (measured).
DEFAULT_MEMORY_BUDGET = 1 << 30
CPU_MEMORY_BUDGET = 4 << 20
#: The Newton solver's CPU chunk: it reads its data about three times per step, not streams it
#: for hundreds of steps, so fewer, larger chunks (fewer Python-level operations per configuration)
#: beat cache residence: 16 MB against 4 MB was 6-10% faster at four of six sizes and level at two
#: (benchmarks/chunk_budget_bench.py, RESULTS.md); 64 MB was slower everywhere.
NEWTON_CPU_MEMORY_BUDGET = 16 << 20
#: The CPU chunk when several threads share the chunks: with smaller ones the threads mostly wait
#: on the interpreter lock between small array operations (measured slower than one thread).
THREADED_CPU_MEMORY_BUDGET = 16 << 20

_DTYPES = ("float64", "float32")


# --------------------------------------------------------------------------------------------
# Memory chunking


def logistic_working_set_bytes(n: int, d: int, n_classes: int, itemsize: int = 8,
                               batch_size: int | None = None) -> int:
    """Bytes one configuration occupies while it trains (data, one-hot labels, logits, gradients).

    A deliberate over-estimate: X (n d), weights (n), one-hot labels, logits, probabilities and
    residuals (3 n K plus the one-hot n K), a minibatch copy of X when training by SGD, and the
    parameters with their gradient (a few d K).
    """
    rows = n if batch_size is None else n + min(batch_size, n)
    return int(itemsize * (rows * d + n + 4 * n * n_classes + 4 * (d + 1) * n_classes))


def chunked(n_configs: int, bytes_per_config: int, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> list[slice]:
    """Split the configuration axis [0, n_configs) into consecutive slices that fit the budget.

    Each slice holds at most ``max(1, memory_budget // bytes_per_config)`` configurations, so a
    grid whose working set exceeds memory still runs, one chunk at a time. A single configuration
    larger than the budget still gets a chunk of its own (there is nothing smaller to run).
    """
    if n_configs < 0:
        raise InputError(f"n_configs must be >= 0, got {n_configs}")
    if bytes_per_config <= 0:
        raise InputError(f"bytes_per_config must be positive, got {bytes_per_config}")
    if memory_budget <= 0:
        raise InputError(f"memory_budget must be positive bytes, got {memory_budget}")
    per_chunk = max(1, int(memory_budget // bytes_per_config))
    return [slice(start, min(start + per_chunk, n_configs)) for start in range(0, n_configs, per_chunk)]


def take_rows(xp, a, rows):
    """Rows ``rows`` (a slice or an index array) of a backend array: a view for a slice."""
    if isinstance(rows, slice):
        return a[rows, ...]  # the explicit ellipsis: the array API standard has no implicit trailing axes
    return xp.take(a, xp.asarray(np.asarray(rows, dtype=np.int64)), axis=0)


# --------------------------------------------------------------------------------------------
# The fitted model


@dataclass
class LogisticFit:
    """C fitted multinomial logistic models.

    ``W`` (C, d, K) and ``b`` (C, K) live on the backend (NumPy or CuPy arrays); the per-
    configuration diagnostics ``final_loss``, ``grad_norm``, ``converged`` and ``steps_run`` and
    the optional ``loss_trace`` (C, R) at steps ``trace_steps`` are NumPy arrays on the host.
    ``steps`` is the number of updates asked for; ``steps_run`` says how many each configuration
    took (fewer when it converged first).
    """

    W: Any
    b: Any
    backend: Backend
    steps: int
    final_loss: np.ndarray
    converged: np.ndarray
    grad_norm: np.ndarray
    steps_run: np.ndarray
    loss_trace: np.ndarray | None = None
    trace_steps: np.ndarray | None = None
    config: dict = field(default_factory=dict)

    @property
    def n_configs(self) -> int:
        return int(self.W.shape[0])

    def rows(self, rows) -> "LogisticFit":
        """The fit of configurations ``rows`` only (a slice or an index array), diagnostics
        included: to score points that only those configurations share."""
        if isinstance(rows, slice) and rows == slice(0, self.n_configs):
            return self
        xp = self.backend.xp
        host = np.arange(self.n_configs)[rows]

        def pick(a):
            return None if a is None else np.asarray(a)[host]

        return replace(self, W=take_rows(xp, self.W, rows), b=take_rows(xp, self.b, rows),
                       final_loss=pick(self.final_loss), converged=pick(self.converged),
                       grad_norm=pick(self.grad_norm), steps_run=pick(self.steps_run),
                       loss_trace=pick(self.loss_trace))

    @property
    def n_classes(self) -> int:
        return int(self.W.shape[2])

    def _features(self, X):
        """``X`` as a backend array. Floating data keep their dtype (the small weights are cast to
        it instead: converting millions of test points would cost more than scoring them)."""
        xp = self.backend.xp
        X = xp.asarray(X)
        if not xp.isdtype(X.dtype, "real floating"):
            X = xp.astype(X, self.W.dtype)
        d = self.W.shape[1]
        if X.ndim not in (2, 3) or X.shape[-1] != d:
            raise InputError(f"X must have shape (C, m, {d}) or (m, {d}), got {tuple(X.shape)}")
        if X.ndim == 3 and X.shape[0] != self.W.shape[0]:
            raise InputError(f"X has {X.shape[0]} configurations, the fit has {self.W.shape[0]}")
        return X

    def decision_function(self, X):
        """Logits (C, m, K). ``X`` is (C, m, d), or (m, d) to score the same points under every model."""
        xp = self.backend.xp
        X = self._features(X)
        return xp.matmul(X, xp.astype(self.W, X.dtype)) + xp.astype(self.b, X.dtype)[:, None, :]

    def binary_weights(self):
        """(u, c) for two classes, the logit difference l1 - l0 = u . x + c: u = W[:, :, 1] -
        W[:, :, 0] (C, d) and c = b[:, 1] - b[:, 0] (C,), on the backend."""
        return self.W[:, :, 1] - self.W[:, :, 0], self.b[:, 1] - self.b[:, 0]

    def _binary_margin(self, X):
        """Logit difference z = l1 - l0 (C, m) for two classes: half the work of the full logits."""
        xp = self.backend.xp
        X = self._features(X)
        u, c = self.binary_weights()
        return xp.matmul(X, xp.astype(u, X.dtype)[:, :, None])[..., 0] + xp.astype(c, X.dtype)[:, None]

    def _checked_label(self, label) -> int:
        if not 0 <= int(label) < self.n_classes:
            raise InputError(f"label must lie in [0, {self.n_classes - 1}], got {label!r}")
        return int(label)

    def predict_proba(self, X):
        """Class probabilities (C, m, K), by a numerically stable softmax."""
        return _softmax(self.backend.xp, self.decision_function(X))

    def predict(self, X):
        """Predicted labels (C, m) (ties go to the lowest class index)."""
        xp = self.backend.xp
        if self.n_classes == 2:  # the sign of the logit difference
            return xp.astype(self._binary_margin(X) > 0, xp.int64)
        return xp.argmax(self.decision_function(X), axis=-1)

    def accuracy(self, X, y) -> np.ndarray:
        """Fraction of correct predictions per configuration, as a NumPy array (C,)."""
        xp = self.backend.xp
        y = xp.asarray(y)
        if y.ndim == 1:
            y = y[None, :]
        if self.n_classes == 2:  # compare signs directly: no label array is materialised
            correct = (self._binary_margin(X) > 0) == (y == 1)
        else:
            correct = self.predict(X) == y
        return self.backend.to_numpy(xp.mean(xp.astype(correct, xp.float64), axis=-1))

    def label_rate(self, X, label: int) -> np.ndarray:
        """Fraction of points predicted as ``label`` per configuration, as a NumPy array (C,):
        the collective's success when ``X`` are signal-carrying points and ``label`` is y*."""
        xp = self.backend.xp
        label = self._checked_label(label)
        if self.n_classes == 2:
            margin = self._binary_margin(X)
            hit = margin > 0 if int(label) == 1 else margin <= 0
        else:
            hit = self.predict(X) == int(label)
        return self.backend.to_numpy(xp.mean(xp.astype(hit, xp.float64), axis=-1))

    def rates_on(self, tests, label: int) -> tuple[np.ndarray, np.ndarray]:
        """(clean accuracy, rate of ``label`` on the signal points) per configuration, each on its
        own sets of ``tests`` (EvaluationSets, e.g. ``SampleBatch.tests``): ``accuracy`` and
        ``label_rate`` group by group, or for two classes on the CPU one compiled pass over every
        configuration (simulate/fused_scoring.py), equal to them."""
        from collective_action.simulate import fused_scoring

        label = self._checked_label(label)
        if tests.n_configs != self.n_configs:
            raise InputError(f"tests hold sets for {tests.n_configs} configurations, the fit has {self.n_configs}")
        if fused_scoring.applies(self, tests):
            return fused_scoring.rates_sets(self, tests, label, self.backend.threads)
        acc, rate = np.empty(self.n_configs), np.empty(self.n_configs)
        for rows, s in tests.groups():
            part = self.rows(rows)
            acc[rows] = part.accuracy(tests.X_clean[s], tests.y_clean[s])
            rate[rows] = part.label_rate(tests.X_signal[s], label)
        return acc, rate


# --------------------------------------------------------------------------------------------
# Training


def _softmax(xp, logits):
    shifted = logits - xp.max(logits, axis=-1, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=-1, keepdims=True)


# Reductions over the class axis: numpy reduces a short axis slowly, so for the usual handful of
# classes a loop of elementwise maxima/sums over contiguous slices is many times faster.
_LOOP_CLASSES = 32


def _class_max(xp, a):
    if a.shape[1] > _LOOP_CLASSES:
        return xp.max(a, axis=1, keepdims=True)
    out = a[:, 0:1, :]
    for k in range(1, a.shape[1]):
        out = xp.maximum(out, a[:, k:k + 1, :])
    return out


def _class_sum(xp, a):
    if a.shape[1] > _LOOP_CLASSES:
        return xp.sum(a, axis=1, keepdims=True)
    out = a[:, 0:1, :]
    for k in range(1, a.shape[1]):
        out = out + a[:, k:k + 1, :]
    return out


def _loss_and_grad(xp, Xt, Yt, w_norm, W, b, l2, fit_intercept, need_loss=True, terms=None):
    """Objective (C,) (None unless ``need_loss``) and its gradients (C, d, K), (C, K) at (W, b).

    Works in a class-major layout: ``Xt`` (C, d, n), one-hot ``Yt`` (C, K, n), so logits are
    (C, K, n) and every per-class row is contiguous. ``w_norm`` (C, n) are sample weights
    normalised to sum to one per configuration (weighted mean cross-entropy). Log-sum-exp keeps
    the loss finite for huge logits.
    """
    if W.shape[2] == 2:
        return _binary_loss_and_grad(xp, Xt, Yt, w_norm, W, b, l2, fit_intercept, need_loss, terms)
    logits = xp.matmul(xp.permute_dims(W, (0, 2, 1)), Xt) + b[:, :, None]
    shifted = logits - _class_max(xp, logits)
    e = xp.exp(shifted)
    sum_e = _class_sum(xp, e)
    loss = None
    if need_loss:
        # cross-entropy of the true class = log-sum-exp - logit of the true class
        ce = (xp.log(sum_e) - _class_sum(xp, Yt * shifted))[:, 0, :]
        loss = xp.sum(w_norm * ce, axis=-1) + 0.5 * l2 * xp.sum(W * W, axis=(1, 2))
    resid = (e / sum_e - Yt) * w_norm[:, None, :]
    gW = xp.matmul(Xt, xp.permute_dims(resid, (0, 2, 1))) + l2 * W
    gb = xp.sum(resid, axis=-1) if fit_intercept else xp.zeros_like(b)
    return loss, gW, gb


def binary_residual_terms(xp, Yt, w_norm):
    """(s, -w s) with s = +1 for class 1 and -1 for class 0: the data-only factors of the K = 2
    residual, computed once per fit.

    With them the residual w (sigmoid(z) - y1) = -w s sigmoid(-s z) = (-w s) / (1 + exp(s z)) costs
    four cheap elementwise operations and one ``exp`` per step. ``exp`` is several times cheaper
    than ``tanh`` in float64 on CPUs without SIMD float64 transcendental functions, and every pass
    over the (C, n) array counts. exp(s z) = inf for a huge margin gives a residual of exactly 0.
    """
    sign = 2.0 * Yt[:, 1, :] - 1.0
    return sign, -w_norm * sign


def _binary_loss_and_grad(xp, Xt, Yt, w_norm, W, b, l2, fit_intercept, need_loss, terms=None):
    """The same objective and gradients for K = 2, through the logit difference z only.

    softmax(l0, l1)[1] = sigmoid(z) with z = l1 - l0; one matrix-vector product per direction
    suffices (half the work of the general path) and the two class columns get opposite
    gradients. ``terms`` are :func:`binary_residual_terms` (computed here when not given).
    """
    sign, neg_ws = binary_residual_terms(xp, Yt, w_norm) if terms is None else terms
    u = W[:, :, 1] - W[:, :, 0]
    z = xp.matmul(u[:, None, :], Xt)[:, 0, :] + (b[:, 1] - b[:, 0])[:, None]
    with np.errstate(over="ignore"):
        r = neg_ws / (1.0 + xp.exp(sign * z))                                 # w (p1 - y1)
    loss = None
    if need_loss:
        # cross-entropy = softplus(-z) for class 1 and softplus(z) for class 0
        ce = xp.logaddexp(xp.zeros_like(z), -sign * z)
        loss = xp.sum(w_norm * ce, axis=-1) + 0.5 * l2 * xp.sum(W * W, axis=(1, 2))
    g = xp.matmul(Xt, r[:, :, None])[:, :, 0]                                   # (C, d)
    gW = xp.stack([-g, g], axis=2) + l2 * W
    if fit_intercept:
        gsum = xp.sum(r, axis=-1)
        gb = xp.stack([-gsum, gsum], axis=1)
    else:
        gb = xp.zeros_like(b)
    return loss, gW, gb


def _grad_norm(xp, gW, gb):
    return xp.sqrt(xp.sum(gW * gW, axis=(1, 2)) + xp.sum(gb * gb, axis=1))


def _validate(X, y, n_classes, sample_weight, steps, lr, l2, batch_size, record_every, dtype, tol):
    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if len(getattr(X, "shape", ())) != 3:
        raise InputError(f"X must be a (C, n, d) array, got shape {tuple(getattr(X, 'shape', ()))}")
    C, n, d = X.shape
    if tuple(getattr(y, "shape", ())) != (C, n):
        raise InputError(f"y must have shape (C, n) = ({C}, {n}), got {tuple(getattr(y, 'shape', ()))}")
    if int(n_classes) != n_classes or n_classes < 2:
        raise InputError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if n < 1 or d < 1:
        raise InputError(f"X needs at least one point and one feature, got shape {tuple(X.shape)}")
    ns = array_namespace(y)
    if C and (int(ns.min(y)) < 0 or int(ns.max(y)) >= n_classes):
        raise InputError(f"labels y must lie in [0, {n_classes - 1}]")
    if not bool(array_namespace(X).all(array_namespace(X).isfinite(X))):
        raise InputError("X must be finite (no NaN or infinity)")
    if sample_weight is not None:
        sw = sample_weight
        wns = array_namespace(sw)
        if tuple(sw.shape) != (C, n):
            raise InputError(f"sample_weight must have shape (C, n) = ({C}, {n}), got {tuple(sw.shape)}")
        if C and (not bool(wns.all(wns.isfinite(sw))) or float(wns.min(sw)) < 0):
            raise InputError("sample_weight must be finite and non-negative")
        if C and float(wns.min(wns.sum(sw, axis=1))) <= 0:
            raise InputError("sample_weight must give every configuration a positive total weight")
    if int(steps) != steps or steps < 0:
        raise InputError(f"steps must be a non-negative integer, got {steps!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise InputError(f"lr must be a positive number, got {lr!r}")
    if not (l2 >= 0 and math.isfinite(l2)):
        raise InputError(f"l2 must be a non-negative number, got {l2!r}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if record_every is not None and (int(record_every) != record_every or record_every < 1):
        raise InputError(f"record_every must be a positive integer or None, got {record_every!r}")
    if not (tol >= 0):
        raise InputError(f"tol must be >= 0, got {tol!r}")


def _minibatches(n: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    """Index sets of the first ``steps`` minibatches: a fresh seeded permutation per epoch.

    Drawn on the host with NumPy, so every backend sees the same batches, and shared by all
    configurations of a batch, so a configuration's batches do not depend on its batch mates.
    """
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            batches.append(perm[start:start + batch_size])
            if len(batches) == steps:
                break
    return batches


def _fit_chunk(xp, X, y, sw, *, n_classes, steps, lr, l2, batches, fit_intercept, record_every,
               tol, dtype):
    """Train one chunk of configurations; everything here is on the backend."""
    C, n, d = X.shape
    K = n_classes
    Xt = xp.permute_dims(X, (0, 2, 1))
    if hasattr(xp, "ascontiguousarray"):  # NumPy and CuPy: contiguous rows for the batched products
        Xt = xp.ascontiguousarray(Xt)
    Y = xp.astype(y[:, None, :] == xp.arange(K)[None, :, None], dtype)
    del X
    w = xp.ones((C, n), dtype=dtype) if sw is None else xp.asarray(sw, dtype=dtype)
    w_norm = w / xp.sum(w, axis=1, keepdims=True)
    W = xp.zeros((C, d, K), dtype=dtype)
    b = xp.zeros((C, K), dtype=dtype)
    active = xp.ones((C,), dtype=xp.bool)
    steps_run = xp.zeros((C,), dtype=xp.int64)
    trace = []
    # full-batch K = 2: the residual's data-only factors are the same at every step
    terms = binary_residual_terms(xp, Y, w_norm) if (K == 2 and batches is None) else None
    for t in range(steps):
        record = record_every is not None and t % record_every == 0
        if batches is None:
            loss, gW, gb = _loss_and_grad(xp, Xt, Y, w_norm, W, b, l2, fit_intercept, need_loss=record,
                                          terms=terms)
            # freeze configurations whose gradient is already below tol (see module docstring)
            if tol > 0:
                active = active & (_grad_norm(xp, gW, gb) >= tol)
                if not bool(xp.any(active)):
                    if record_every is not None:  # frozen from here on: the loss stays put
                        loss = _loss_and_grad(xp, Xt, Y, w_norm, W, b, l2, fit_intercept)[0]
                        first = -(-t // record_every) * record_every
                        trace.extend([loss] * len(range(first, steps, record_every)))
                    break
        else:
            if record:
                loss, _, _ = _loss_and_grad(xp, Xt, Y, w_norm, W, b, l2, fit_intercept)
            idx = xp.asarray(batches[t])
            wb = xp.take(w, idx, axis=1)
            total = xp.sum(wb, axis=1, keepdims=True)
            # a batch holding only zero-weight points of a configuration moves it by the penalty only
            wb = wb / xp.where(total > 0, total, xp.ones_like(total))
            _, gW, gb = _loss_and_grad(xp, xp.take(Xt, idx, axis=2), xp.take(Y, idx, axis=2), wb,
                                       W, b, l2, fit_intercept, need_loss=False)
        if record:
            trace.append(loss)
        if tol > 0:
            scale = xp.astype(active, dtype) * lr
            W = W - scale[:, None, None] * gW
            b = b - scale[:, None] * gb
            steps_run = steps_run + xp.astype(active, xp.int64)
        else:  # nothing is ever frozen: plain updates
            W = W - lr * gW
            b = b - lr * gb
            steps_run = steps_run + 1
    loss, gW, gb = _loss_and_grad(xp, Xt, Y, w_norm, W, b, l2, fit_intercept)
    gnorm = _grad_norm(xp, gW, gb)
    return W, b, loss, gnorm, steps_run, trace


# Up to this many parameters (d + 1) Newton builds its Hessian from precomputed products of
# feature pairs (one batched matrix-vector product per step); above it, from a batched X^T D X.
_PAIR_MAX_PARAMS = 8


def newton_working_set_bytes(n: int, d: int, itemsize: int = 8, fit_intercept: bool = True) -> int:
    """Bytes one configuration occupies under the Newton solver (features, feature pairs when
    they are used, the per-point vectors of one step, and the p x p system)."""
    p = d + int(fit_intercept)
    pairs = p * (p + 1) // 2 if p <= _PAIR_MAX_PARAMS else 2 * p
    return int(itemsize * (n * (2 * p + pairs + 12) + 4 * p * p))


def _fit_chunk_newton(xp, X, y, sw, *, steps, l2, fit_intercept, tol, dtype):
    """Newton's method for K = 2 on the same objective, batched: one (p x p) solve per configuration.

    For two classes only u = w1 - w0 and c = b1 - b0 enter the loss, and the ridge term
    (l2/2)(||w0||^2 + ||w1||^2) is smallest at w1 = -w0 = u/2, where it equals (l2/4)||u||^2. So
    the objective is a binary logistic loss in theta = (u, c) with penalty (l2/4)||u||^2; Newton's
    method on it (gradient G, Hessian H = X^T diag(w p (1-p)) X + (l2/2) I_u) converges
    quadratically to the optimum GD approaches, in a handful of steps. Needs l2 > 0 (with l2 = 0
    on separable data there is no optimum).

    The loop works with signed features s x (s = +1 for class 1, -1 for class 0) and margins
    m = theta . s x: the residual is p1 - y1 = -s sigmoid(-m), so G = -sum w sigmoid(-m) s x, and
    the Hessian weights w sigmoid(-m) sigmoid(m) multiply s x (s x)^T = x x^T. That is about six
    passes over the (C, n) arrays per step instead of thirteen with sign-dependent branches.

    Converged configurations stop updating, and once a third of the working set has converged the
    rest is compacted, so later steps only compute on configurations still iterating. Every
    configuration's arithmetic is independent of its batch mates (batched products act per
    configuration), so compaction does not change any result.
    """
    C, n, d = X.shape
    Xt = xp.permute_dims(X, (0, 2, 1))
    if hasattr(xp, "ascontiguousarray"):  # contiguous first: concatenating strided views is slow
        Xt = xp.ascontiguousarray(Xt)
    if fit_intercept:
        Xt = xp.concat([Xt, xp.ones((C, 1, n), dtype=dtype)], axis=1)
    p = Xt.shape[1]
    y1 = xp.astype(y == 1, dtype)
    sign = 2.0 * y1 - 1.0
    Xs = Xt * sign[:, None, :]                                                # s x, (C, p, n)
    w = xp.ones((C, n), dtype=dtype) if sw is None else xp.asarray(sw, dtype=dtype)
    w_norm = w / xp.sum(w, axis=1, keepdims=True)
    ridge = xp.asarray([0.5 * l2] * d + [0.0] * (p - d), dtype=dtype)        # no penalty on c
    ridge_matrix = xp.eye(p, dtype=dtype) * ridge
    use_pairs = p <= _PAIR_MAX_PARAMS
    if use_pairs:
        # H_ij = sum_n x_in x_jn curv_n: the products x_i x_j (i <= j) do not change between steps
        rows, cols = np.triu_indices(p)
        pair_of = np.zeros((p, p), dtype=np.int64)
        pair_of[rows, cols] = pair_of[cols, rows] = np.arange(len(rows))
        pair_of = xp.asarray(np.reshape(pair_of, (-1,)))                       # flat, for xp.take
        # two gathers and one product (slicing per row and concatenating is several times slower)
        extra = xp.take(Xt, xp.asarray(rows), axis=1) * xp.take(Xt, xp.asarray(cols), axis=1)  # (C, q, n)
    else:
        extra = xp.permute_dims(Xs, (0, 2, 1))                                # s X (C, n, p)
    theta_all = xp.zeros((C, p), dtype=dtype)
    steps_all = xp.zeros((C,), dtype=xp.int64)
    live = xp.arange(C)                 # configurations in the working set, and their state:
    theta, steps_run, Xs_live, wn = theta_all, steps_all, Xs, w_norm
    with np.errstate(over="ignore"):    # exp(m) = inf for huge margins gives sigmoid(-m) = 0, as it should
        for _ in range(steps):
            m = xp.matmul(theta[:, None, :], Xs_live)[:, 0, :]
            neg = 1.0 / (1.0 + xp.exp(m))                                     # sigmoid(-m)
            r = wn * neg
            grad = ridge * theta - xp.matmul(Xs_live, r[:, :, None])[:, :, 0]
            active = xp.sqrt(xp.sum(grad * grad, axis=1)) >= tol
            n_active = int(xp.sum(xp.astype(active, xp.int64)))
            if n_active == 0:
                break
            curv = r - r * neg                                                # w sigmoid(-m) sigmoid(m)
            if use_pairs:
                h = xp.matmul(extra, curv[:, :, None])[:, :, 0]                 # (C, q) distinct entries
                hess = xp.reshape(xp.take(h, pair_of, axis=1), (-1, p, p)) + ridge_matrix
            else:
                hess = xp.matmul(Xs_live * curv[:, None, :], extra) + ridge_matrix
            step = xp.linalg.solve(hess, grad[:, :, None])[:, :, 0]
            theta = theta - xp.astype(active, dtype)[:, None] * step
            steps_run = steps_run + xp.astype(active, xp.int64)
            if 3 * n_active <= 2 * int(live.shape[0]):   # compact: drop the converged configurations
                theta_all = _scatter(xp, theta_all, live, theta)
                steps_all = _scatter(xp, steps_all, live, steps_run)
                keep = xp.nonzero(active)[0]
                live, theta, steps_run, Xs_live, extra, wn = (
                    xp.take(a, keep, axis=0) for a in (live, theta, steps_run, Xs_live, extra, wn))
    theta_all = _scatter(xp, theta_all, live, theta)
    steps_run = _scatter(xp, steps_all, live, steps_run)
    u = theta_all[:, :d]
    W, b = softmax_pair(xp, theta_all, d, fit_intercept)
    # the objective and gradient norm of the (W, b) problem at the end, from theta directly:
    # cross-entropy = softplus(-m) = max(-m, 0) + log1p(exp(-|m|)); ridge (l2/2)|W|^2 = (l2/4)|u|^2;
    # dL/dw1 = -dL/dw0 = the u-part of the theta gradient (same for b), so |g_(W,b)| = sqrt(2)|g_theta|
    m = xp.matmul(theta_all[:, None, :], Xs)[:, 0, :]
    e = xp.exp(-xp.abs(m))
    neg = xp.where(m >= 0, e, 1.0) / (1.0 + e)                                # sigmoid(-m), no overflow
    grad = ridge * theta_all - xp.matmul(Xs, (w_norm * neg)[:, :, None])[:, :, 0]
    ce = xp.maximum(-m, xp.zeros_like(m)) + xp.log1p(e)
    loss = xp.sum(w_norm * ce, axis=1) + 0.25 * l2 * xp.sum(u * u, axis=1)
    grad_norm = math.sqrt(2.0) * xp.sqrt(xp.sum(grad * grad, axis=1))
    return W, b, loss, grad_norm, steps_run, []


def softmax_pair(xp, theta, d: int, fit_intercept: bool):
    """(W (C, d, 2), b (C, 2)) of the two-class softmax model with theta = (u, c) = (w1 - w0,
    b1 - b0): the minimiser of the ridge term, w1 = -w0 = u / 2 (and b1 = -b0 = c / 2)."""
    u = theta[:, :d]
    c = theta[:, d] if fit_intercept else xp.zeros((theta.shape[0],), dtype=theta.dtype)
    return xp.stack([-0.5 * u, 0.5 * u], axis=2), xp.stack([-0.5 * c, 0.5 * c], axis=1)


def _scatter(xp, full, index, values):
    """``full`` with rows ``index`` (ascending) replaced by ``values``.

    Written with searchsorted/take/where rather than ``out[index] = values``: assignment through
    an integer array is not part of the array API standard, so this runs on every backend.
    """
    if index.shape[0] == full.shape[0]:
        return values
    rows = xp.arange(full.shape[0], dtype=index.dtype)
    # where each row sits in the sorted index, and whether it is there at all
    pos = xp.clip(xp.searchsorted(index, rows), 0, max(int(index.shape[0]) - 1, 0))
    hit = xp.reshape(xp.take(index, pos, axis=0) == rows, (-1,) + (1,) * (full.ndim - 1))
    return xp.where(hit, xp.take(values, pos, axis=0), full)


def fit_logistic(X, y, *, n_classes: int, sample_weight=None, steps: int = 500, lr: float = 0.5,
                 l2: float = 0.0, batch_size: int | None = None, fit_intercept: bool = True,
                 seed: int = 0, backend: Backend | str | None = None, record_every: int | None = None,
                 dtype: str = "float64", tol: float = 1e-6,
                 memory_budget: int | None = None, solver: str = "gd",
                 threads: int | None = None, newton_kernel: str = "auto") -> LogisticFit:
    """Fit C multinomial logistic regressions at once by gradient descent.

    Parameters
    ----------
    X : (C, n, d) float array (NumPy or backend array); y : (C, n) integer labels in [0, n_classes).
    sample_weight : (C, n) non-negative weights or None; the loss is sum w_i l_i / sum w_i.
    steps, lr : number of updates and the (constant) step size; parameters start at zero.
    l2 : ridge penalty (l2 / 2) ||W||^2 (the intercept is not penalised).
    batch_size : None for full-batch gradient descent; an int for minibatch SGD whose batches are
        drawn from ``seed`` (same batches on every backend and for every configuration).
    backend : a Backend, a name ('auto', 'numpy', 'cupy') or None (= 'auto').
    record_every : keep the full-data objective every this many steps in ``loss_trace``.
    tol : a configuration whose full gradient norm drops below ``tol`` is converged; in full-batch
        mode it stops updating (its batch mates go on).
    solver : 'gd' (gradient descent, or SGD with ``batch_size``) or 'newton' (two classes, full
        batch, l2 > 0): Newton's method on the same objective, which reaches its optimum in a few
        steps (``steps`` is then the cap on Newton steps; ``lr`` is not used).
    memory_budget : bytes one chunk of configurations may use; larger grids run chunk by chunk
        (X may stay in host memory; each chunk is moved to the backend when it trains). None:
        on NumPy ``CPU_MEMORY_BUDGET`` (cache-sized) for gradient descent and
        ``NEWTON_CPU_MEMORY_BUDGET`` for Newton, ``DEFAULT_MEMORY_BUDGET`` on CuPy. The results do
        not depend on it.
    threads : host threads the chunks are spread over on NumPy (None: the backend's ``threads``,
        1 unless set). NumPy releases the interpreter lock inside its array operations, so chunks
        train in parallel; with several threads the default chunk is at least
        ``THREADED_CPU_MEMORY_BUDGET``, and a grid that fits one chunk runs in one thread. Chunks
        are independent, so the results are the same for any value. Ignored on CuPy.
    newton_kernel : how the Newton solver runs on NumPy: 'fused' (compiled loops, one
        configuration at a time in cache, :mod:`collective_action.simulate.fused_newton`;
        ``threads`` spread the configurations, and there is no chunking), 'array' (the batched
        array-API code every backend runs), or 'auto' (= 'fused' on NumPy with at most
        ``FUSED_MAX_PARAMS`` parameters when numba imports, 'array' otherwise). The two agree to
        rounding, not bit for bit.
    """
    bk = get_backend(backend)
    xp = bk.xp
    # plain Python sequences become NumPy arrays (backend arrays pass through untouched)
    X, y = (a if hasattr(a, "shape") else np.asarray(a) for a in (X, y))
    if sample_weight is not None and not hasattr(sample_weight, "shape"):
        sample_weight = np.asarray(sample_weight, dtype=float)
    _validate(X, y, n_classes, sample_weight, steps, lr, l2, batch_size, record_every, dtype, tol)
    if solver not in ("gd", "newton"):
        raise InputError(f"unknown solver {solver!r}; choose one of: gd, newton")
    if solver == "newton" and (int(n_classes) != 2 or batch_size is not None or not l2 > 0
                               or record_every is not None):
        raise InputError("solver 'newton' needs two classes, full batch (no batch_size), l2 > 0 "
                         "and no record_every")
    if newton_kernel not in ("auto", "fused", "array"):
        raise InputError(f"unknown newton_kernel {newton_kernel!r}; choose one of: auto, fused, array")
    n_classes, steps = int(n_classes), int(steps)
    C, n, d = X.shape
    dt = getattr(xp, dtype)
    threads = check_positive_whole("threads", getattr(bk, "threads", 1) if threads is None else threads)
    threads = threads if bk.name == "numpy" else 1
    if solver == "newton" and newton_kernel != "array" and C:
        from collective_action.simulate.fused_newton import FUSED_MAX_PARAMS, fused_available

        fits = bk.name == "numpy" and d + int(fit_intercept) <= FUSED_MAX_PARAMS
        if newton_kernel == "fused" and not fits:
            raise InputError(f"newton_kernel 'fused' runs on the NumPy backend with at most "
                             f"{FUSED_MAX_PARAMS} parameters; use 'array' or 'auto'")
        if not fused_available():
            if newton_kernel == "fused":
                raise InputError("newton_kernel 'fused' needs numba, which does not import here; "
                                 "use 'array' or 'auto'")
            fits = False
        if fits:
            return _fit_newton_fused(bk, X, y, sample_weight, steps=steps, lr=lr, l2=float(l2),
                                     fit_intercept=fit_intercept, tol=float(tol), dtype=dtype,
                                     threads=threads, seed=seed)
    batches = None if batch_size is None else _minibatches(n, int(batch_size), steps, seed)
    itemsize = 8 if dtype == "float64" else 4
    per_config = (newton_working_set_bytes(n, d, itemsize, fit_intercept) if solver == "newton"
                  else logistic_working_set_bytes(n, d, n_classes, itemsize, batch_size))
    if memory_budget is None:
        memory_budget = (DEFAULT_MEMORY_BUDGET if bk.name != "numpy"
                         else NEWTON_CPU_MEMORY_BUDGET if solver == "newton" else CPU_MEMORY_BUDGET)
        if threads > 1:
            memory_budget = max(memory_budget, THREADED_CPU_MEMORY_BUDGET)

    def fit_chunk(sl):
        Xc = xp.asarray(X[sl], dtype=dt)
        yc = xp.asarray(y[sl])
        swc = None if sample_weight is None else xp.asarray(sample_weight[sl], dtype=dt)
        if solver == "newton":
            return _fit_chunk_newton(xp, Xc, yc, swc, steps=steps, l2=float(l2),
                                     fit_intercept=fit_intercept, tol=float(tol), dtype=dt)
        return _fit_chunk(xp, Xc, yc, swc, n_classes=n_classes, steps=steps, lr=float(lr),
                          l2=float(l2), batches=batches, fit_intercept=fit_intercept,
                          record_every=record_every, tol=float(tol), dtype=dt)

    slices = chunked(C, per_config, memory_budget)
    if threads > 1 and len(slices) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(threads, len(slices))) as pool:
            parts = list(pool.map(fit_chunk, slices))   # in chunk order
    else:
        parts = [fit_chunk(sl) for sl in slices]
    if not parts:  # C == 0
        empty = np.zeros((0,))
        return LogisticFit(xp.zeros((0, d, n_classes), dtype=dt), xp.zeros((0, n_classes), dtype=dt), bk,
                           steps, empty, empty.astype(bool), empty, empty.astype(np.int64))
    W = xp.concat([p[0] for p in parts], axis=0)
    b = xp.concat([p[1] for p in parts], axis=0)
    final_loss = np.concatenate([bk.to_numpy(p[2]) for p in parts]).astype(np.float64)
    grad_norm = np.concatenate([bk.to_numpy(p[3]) for p in parts]).astype(np.float64)
    steps_run = np.concatenate([bk.to_numpy(p[4]) for p in parts]).astype(np.int64)
    loss_trace = trace_steps = None
    if record_every is not None:
        trace_steps = np.arange(0, steps, int(record_every))
        loss_trace = np.concatenate(
            [np.stack([bk.to_numpy(v) for v in p[5]], axis=1) if p[5] else np.zeros((p[0].shape[0], 0))
             for p in parts], axis=0).astype(np.float64)
    config = _fit_config(n_classes=n_classes, steps=steps, lr=lr, l2=l2, batch_size=batch_size,
                         fit_intercept=fit_intercept, seed=seed, dtype=dtype, tol=tol, backend=bk.name,
                         solver=solver)
    return LogisticFit(W=W, b=b, backend=bk, steps=steps, final_loss=final_loss,
                       converged=grad_norm < tol, grad_norm=grad_norm, steps_run=steps_run,
                       loss_trace=loss_trace, trace_steps=trace_steps, config=config)


def _fit_config(*, n_classes, steps, lr, l2, batch_size, fit_intercept, seed, dtype, tol, backend,
                solver) -> dict:
    return dict(n_classes=int(n_classes), steps=int(steps), lr=float(lr), l2=float(l2),
                batch_size=batch_size, fit_intercept=bool(fit_intercept), seed=int(seed), dtype=dtype,
                tol=float(tol), backend=backend, solver=solver)


def _fit_newton_fused(bk, X, y, sample_weight, *, steps, lr, l2, fit_intercept, tol, dtype, threads,
                      seed) -> LogisticFit:
    """``fit_logistic``'s Newton solver through the fused kernel (NumPy backend)."""
    from collective_action.simulate.fused_newton import fit_newton_fused

    C, n, d = X.shape
    dt = np.dtype(dtype)
    X = np.asarray(X, dtype=dt)
    if sample_weight is None:   # 1 / n exactly, as ones divided by their sum give it
        w_norm = np.full((C, n), dt.type(1.0) / dt.type(n), dtype=dt)
    else:
        w = np.asarray(sample_weight, dtype=dt)
        w_norm = w / np.sum(w, axis=1, keepdims=True)
    theta, steps_run, loss, gnorm = fit_newton_fused(X, np.asarray(y), w_norm, steps=steps, l2=l2,
                                                     fit_intercept=fit_intercept, tol=tol,
                                                     threads=threads)
    W, b = softmax_pair(np, theta, d, fit_intercept)
    grad_norm = gnorm.astype(np.float64)
    config = _fit_config(n_classes=2, steps=steps, lr=lr, l2=l2, batch_size=None,
                         fit_intercept=fit_intercept, seed=seed, dtype=dtype, tol=tol,
                         backend=bk.name, solver="newton")
    return LogisticFit(W=bk.xp.asarray(W), b=bk.xp.asarray(b), backend=bk, steps=steps,
                       final_loss=loss.astype(np.float64), converged=grad_norm < tol,
                       grad_norm=grad_norm, steps_run=steps_run, config=config)
