"""What a learning algorithm is, for every pillar: a name, a parameter model, a weighting rule.

An :class:`Algorithm` subclass is one entry of the registry. It says

* ``name`` (what users write in every experiment file) and ``label`` (figures, legends);
* ``Params``: a strict pydantic model of its hyper-parameters, the same names, defaults and
  ranges in every pillar;
* ``models``: the models it trains side by side, in the order they are created ("main" is the
  one evaluated; LfF adds a "biased" one);
* ``stage1_length``: a first ERM stage whose predictions it needs (JTT), or None;
* ``start`` and ``weigh``: its weighting rule and the state the rule keeps between steps
  (group DRO's q, LfF's loss averages, JTT's error set), written against the array API;
* ``statistic``: the per-point statistic whose collective and base means theory needs, and
  ``predict_alpha_eff``: theory's effective size from those means;
* ``loss``: the per-point loss it minimises (cross-entropy unless it changes the loss, as label
  smoothing does). An algorithm that changes the optimisation step itself (per-sample gradient
  clipping and noise, DP-SGD) is an entry of the same kind: uniform weights, and ``private``,
  which makes the empirical loop clip and noise every step (empirical/private.py, Opacus).

The simulator applies ``weigh`` once per round to full-batch losses (or once per gradient step,
``schedule: steps``); the empirical pillar applies it to every mini-batch inside its one training
loop. Neither keeps a copy of a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from collective_action.errors import InputError
from collective_action.experiment import StrictModel

PILLARS = frozenset({"simulate", "empirical"})


@dataclass
class Start:
    """What a pillar tells an algorithm before its main training starts.

    Arrays are of the pillar's library: (n,) for one training set, (C, n) for the simulator's C
    configurations. ``stage1_errors`` are the stage-1 model's errors on the training set (JTT).
    """

    labels: Any
    dtype: Any
    groups: Any = None
    n_groups: int = 0
    stage1_errors: Any = None


class Algorithm:
    """One learning algorithm. Build it with validated parameters: ``Algorithm(params)``.

    ``params`` is one ``Params`` instance, or a list of them (the simulator's configurations):
    then every hyper-parameter is an array over the configurations (``self.values``).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    Params: ClassVar[type[StrictModel]]
    pillars: ClassVar[frozenset[str]] = PILLARS
    #: True for an algorithm that changes the optimisation step (DP-SGD: per-sample clipping and
    #: noise); the empirical pillar then trains it through empirical/private.py.
    private: ClassVar[bool] = False
    models: ClassVar[tuple[str, ...]] = ("main",)
    statistic: ClassVar[str | None] = None
    #: result-row columns holding the statistic's collective and base means (None: not written)
    stat_columns: ClassVar[tuple[str | None, str | None]] = (None, None)
    #: True when the weights depend on the model being trained (a reweighting round changes them).
    adaptive: ClassVar[bool] = False
    #: hyper-parameters that must be equal across the simulator's batched configurations
    shared: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: StrictModel | list[StrictModel] | dict | None = None):
        if params is None or isinstance(params, dict):
            params = self.Params.model_validate(params or {})
        self.batched = isinstance(params, list)
        plist = params if self.batched else [params]
        if not plist:
            raise InputError(f"algorithm {self.name!r} needs at least one parameter set")
        self.params = plist if self.batched else plist[0]
        self.values: dict[str, Any] = {}
        for key in self.Params.model_fields:
            vals = [getattr(p, key) for p in plist]
            self.values[key] = np.asarray(vals, dtype=float) if self.batched else vals[0]

    # -- the rule -------------------------------------------------------------------------
    def stage1_length(self) -> int | None:
        """Training length of a first ERM stage whose errors the rule needs (None: no stage 1)."""
        return None

    def start(self, s: Start) -> dict:
        """The rule's state before the first step."""
        return {}

    def weigh(self, state: dict, losses: dict, idx=None) -> tuple[dict, Any]:
        """Per-model weights for the points ``idx`` (None: all) from their detached per-point
        losses (``losses[model]``), updating ``state``; and the per-point ``statistic`` (or None)."""
        raise NotImplementedError

    def normaliser(self, state: dict) -> Any:
        """The objective is mean(w * loss) / normaliser (JTT: the mean weight over the training set)."""
        return 1.0

    #: True when the entry changes the loss (``targets``/``loss``) rather than only the weights
    changes_loss: ClassVar[bool] = False

    def targets(self, onehot):
        """The main model's training targets from one-hot labels (..., K); cross-entropy is taken
        against them. The identity unless the algorithm changes the loss (label smoothing)."""
        return onehot

    def loss(self, logits, y):
        """Per-point loss minimised by the main model; None: cross-entropy."""
        return None

    # -- theory and labels ------------------------------------------------------------------
    def predict_alpha_eff(self, alpha, collective_mean, base_mean):
        """Theory's effective size from the collective and base means of ``statistic``."""
        raise NotImplementedError

    def series(self, params: StrictModel | None = None) -> str:
        """Legend label with the hyper-parameters, e.g. 'JTT (T=1, upweight=20)'."""
        p = params if params is not None else (self.params[0] if self.batched else self.params)
        shown = [f"{k}={_fmt(v)}" for k, v in p.model_dump().items() if k in self.shown]
        return self.label + (f" ({', '.join(shown)})" if shown else "")

    #: hyper-parameters written into the legend label
    shown: ClassVar[tuple[str, ...]] = ()

    def __repr__(self):
        return f"{type(self).__name__}({self.params!r})"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def predicted(formula, alpha, *args):
    """theory's formula where alpha lies in (0, 1) and every statistic is finite; NaN elsewhere.

    Works on floats and on arrays over configurations alike; a statistic outside the formula's
    domain (an InputError from theory) gives NaN for that configuration, never an exception.
    """
    a = np.atleast_1d(np.asarray(alpha, dtype=float))
    cols = [np.broadcast_to(np.atleast_1d(np.asarray(x, dtype=float)), a.shape) for x in args]
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (a < 1)
    for c in cols:
        ok &= np.isfinite(c)
    if ok.any():
        try:
            out[ok] = np.asarray(formula(a[ok], *[c[ok] for c in cols]), dtype=float)
        except InputError:
            for j in np.flatnonzero(ok):
                try:
                    out[j] = float(formula(a[j], *[c[j] for c in cols]))
                except InputError:
                    pass
    return out if np.ndim(alpha) else float(out[0])
