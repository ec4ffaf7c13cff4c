"""Evaluation points shared by the configurations that share a seed.

A sweep over A alphas (or hyper-parameters) per seed scores every configuration of a seed on the
same fresh test points (the simulator's common random numbers). Copying those points into each
configuration made the test arrays A times larger than the points they hold, and at the usual
n_test of 5-10 times n_train those copies cost more to write than the whole fit. Here each distinct
set is stored once, with the index of the set each configuration scores on; the per-configuration
arrays are still available, built on first use, equal element for element to the former copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class EvaluationSets:
    """S sets of m evaluation points and the set each of C configurations scores on.

    ``X_signal`` (S, m', d) are g(x) for fresh x ~ P0, ``y_signal`` (S, m') the labels of those x,
    ``X_clean``/``y_clean`` (S, m, d)/(S, m) fresh points of P0. ``index`` (C,) holds each
    configuration's set; None means one set per configuration (S = C, set c for configuration c).
    """

    X_signal: np.ndarray
    X_clean: np.ndarray
    y_clean: np.ndarray
    y_signal: Optional[np.ndarray] = None
    index: Optional[np.ndarray] = None
    _groups: Optional[list] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.index is not None:
            self.index = np.asarray(self.index, dtype=np.int64)
            if self.index.ndim != 1 or (len(self.index) and not
                                        (0 <= self.index.min() and self.index.max() < len(self.X_signal))):
                raise ValueError("index must be a 1-d array of set numbers in [0, S)")

    @property
    def n_configs(self) -> int:
        return len(self.X_signal) if self.index is None else len(self.index)

    def groups(self) -> list:
        """[(rows, s)]: the configurations that score on set s, as a slice when they sit side by
        side (as every sweep lists them; slicing is cheaper than gathering) else an index array."""
        if self._groups is None:
            if self.index is None:
                self._groups = [(slice(c, c + 1), c) for c in range(len(self.X_signal))]
            else:
                # one stable sort gives every set's configurations in ascending order
                # (not a scan of the index per set)
                order = np.argsort(self.index, kind="stable")
                counts = np.bincount(self.index, minlength=len(self.X_signal))
                groups = []
                for s, rows in enumerate(np.split(order, np.cumsum(counts)[:-1])):
                    if not len(rows):
                        continue
                    if rows[-1] - rows[0] + 1 == len(rows):
                        rows = slice(int(rows[0]), int(rows[-1]) + 1)
                    groups.append((rows, s))
                self._groups = groups
        return self._groups

    def per_configuration(self, name: str) -> Optional[np.ndarray]:
        """The (C, ...) array of field ``name``: row c is configuration c's set (a new array
        unless there is one set per configuration)."""
        sets = getattr(self, name)
        if sets is None or self.index is None:
            return sets
        out = np.empty((self.n_configs,) + sets.shape[1:], dtype=sets.dtype)
        for rows, s in self.groups():
            out[rows] = sets[s]
        return out

    def of(self, name: str, config: int) -> np.ndarray:
        """Configuration ``config``'s points (or labels) of field ``name``, without copying."""
        sets = getattr(self, name)
        return sets[config if self.index is None else int(self.index[config])]

    def score(self, predict: Callable[[object, np.ndarray], np.ndarray], name: str) -> np.ndarray:
        """(C, m) results of ``predict(rows, points)`` for every group: ``points`` is the group's
        set (m, d), scored under the models of configurations ``rows`` only, once per set."""
        out = None
        for rows, s in self.groups():
            part = np.asarray(predict(rows, getattr(self, name)[s]))
            if out is None:
                out = np.empty((self.n_configs,) + part.shape[1:], dtype=part.dtype)
            out[rows] = part
        return out
