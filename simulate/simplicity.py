"""Family 3: simplicity-bias data (Shah et al. 2020) with a planted signal, for linear learners.

Data (binary labels y in {0, 1}, balanced; sigma_y = 2y - 1), d = 2 + n_free coordinates:

* coordinate 0, the **simple** block: x_s = sigma_y * (gamma + (1 - gamma) U), U ~ U[0, 1]. Linearly
  separable with margin gamma.
* coordinate 1, the **complex** block: k >= 3 slabs centred at c_j = -1 + 2j/(k-1), j = 0..k-1;
  slab j carries label j mod 2; a point of class y sits in a uniformly chosen slab of its class,
  x_c = c_j + h (2U - 1) with half-width h = slab_width / (k-1). Fully predictive, but not
  linearly (for odd k the two classes have the same mean along it).
* coordinates 2.., **free**: free_noise * N(0, 1) (exactly zero by default).

A signal is a pattern p on the coordinates P of one placement, of norm ``strength`` s:

* ``aligned`` (sign +1 or -1): p = sign * s * c_P / |c_P|, where c_P is the class direction
  E[x_P | y*] - E[x_P | not y*] restricted to P: +1 pushes towards y*'s side, -1 away from it.
  Only defined where the classes differ in mean along P (the simple block; the complex block for
  even k).
* ``neutral`` (zero projection on the class direction): p = sign * s * r, r a fixed unit vector
  orthogonal to c_P within P (alternating +-1/sqrt(|P|) when c_P = 0). In the one-coordinate
  simple block the only neutral pattern is p = 0: overwrite sets x_s := 0, the class boundary.
* ``overwrite`` sets x_P := p; ``additive`` adds p.

The collective (feature-label or feature-only, :mod:`collective_action.collective`) controls a
fraction alpha of the training set. Learners: ``gd`` (full-batch GD on the logistic loss,
:func:`~collective_action.simulate.logistic.fit_logistic`, all (signal, alpha) configurations of a
seed in one batched computation) and ``max-margin`` (the hard-margin SVM of the same data, with a
penalised intercept: GD's limit; :func:`~collective_action.theory.max_margin.hard_margin_svm`).

Theory attached to each row:

* ``xi``: share of natural test points whose P-coordinates already look like a planted point
  (within ``match_tolerance`` in every coordinate of P); ``delta``: among those look-alikes, the
  share of other-class minus target-class points (pooled, so a lower estimate of Hardt's max);
  ``success_bound``: Hardt's bound 1 - ((1 - alpha)/alpha) delta xi for a Bayes-optimal learner.
* ``success_theory`` (GD rows): the max-margin analysis at the number of GD steps used. When the
  poisoned training set is separable, GD's direction tends to the max-margin separator, so the
  prediction is the max-margin success S_mm; for free-coordinate signals the two-point model of
  :mod:`collective_action.theory.max_margin` says how many steps t* GD needs to flip the members
  that the clean separator labels against y*: before t* the prediction is the clean max-margin
  model's success S_clean. Not separable -> NaN (the max-margin analysis does not apply).

Which placement wins is measured, never assumed (docs/RESULTS.md, C4).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from collective_action.collective import Collective
from collective_action.errors import InputError
from collective_action.experiment import StrictModel, check_alpha_list, format_validation_error
from collective_action.results import ResultRow
from collective_action.simulate.backend import Backend, get_backend
from collective_action.simulate.logistic import fit_logistic
from collective_action.theory import max_margin as mm

PLACEMENTS = ("simple", "complex", "free")


# --------------------------------------------------------------------------------------------
# Configuration


class SignalSpec3(StrictModel):
    """One planted signal of family 3 (see the module docstring)."""

    placement: Literal["simple", "complex", "free"] = "free"
    pattern: Literal["neutral", "aligned"] = "neutral"
    sign: Literal[1, -1] = Field(1, description="+1 or -1: direction of the pattern")
    mode: Literal["overwrite", "additive"] = "overwrite"
    strength: float = Field(1.5, ge=0.0, description="norm s of the pattern p")

    @property
    def label(self) -> str:
        sign = "" if (self.placement == "simple" and self.pattern == "neutral") else ("+" if self.sign > 0 else "-")
        return f"{self.placement}: {self.pattern}{sign} {self.mode} (s={self.strength:g})"


def default_signals() -> list[SignalSpec3]:
    """The C4 control matrix: each placement; neutral and aligned; both signs; overwrite and additive."""
    S = SignalSpec3
    return [
        S(placement="free", pattern="neutral", sign=1, mode="overwrite"),
        S(placement="free", pattern="neutral", sign=-1, mode="overwrite"),
        S(placement="simple", pattern="neutral", mode="overwrite"),
        S(placement="simple", pattern="aligned", sign=1, mode="overwrite"),
        S(placement="simple", pattern="aligned", sign=-1, mode="overwrite"),
        S(placement="simple", pattern="aligned", sign=1, mode="additive", strength=0.5),
        S(placement="simple", pattern="aligned", sign=-1, mode="additive", strength=0.5),
        S(placement="complex", pattern="neutral", sign=1, mode="overwrite"),
        S(placement="complex", pattern="neutral", sign=-1, mode="overwrite"),
        S(placement="complex", pattern="neutral", sign=1, mode="additive", strength=0.5),
    ]


class SimplicityConfig(StrictModel):
    """Family 3 experiment section (``config.simplicity`` of a simulate experiment file)."""

    n_train: int = Field(600, ge=10, le=10**7, description="training points (members included)")
    n_test: int = Field(2000, ge=10, le=10**7, description="fresh test points")
    gamma: float = Field(0.2, gt=0.0, lt=1.0, description="margin of the simple block")
    k_slabs: int = Field(3, ge=3, le=101, description="slabs of the complex block")
    slab_width: float = Field(0.5, gt=0.0, lt=1.0, description="slab half-width as a share of half the slab spacing")
    n_free: int = Field(2, ge=0, le=1000, description="free coordinates")
    free_noise: float = Field(0.0, ge=0.0, description="std of the free coordinates under P0")
    alphas: list[float] = Field(default_factory=lambda: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    strategy: Literal["feature-label", "feature-only"] = "feature-label"
    target: Literal[0, 1] = 1
    signals: list[SignalSpec3] = Field(default_factory=default_signals)
    learners: list[Literal["gd", "max-margin"]] = Field(default_factory=lambda: ["gd", "max-margin"])
    steps: int = Field(2000, ge=1, le=10**7, description="GD steps")
    lr: float = Field(1.0, gt=0.0, description="GD step size")
    fit_intercept: bool = True
    match_tolerance: float = Field(0.05, gt=0.0, description="closeness at which a natural point looks like a planted one (xi)")

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, v):
        return check_alpha_list(v)

    @field_validator("signals", "learners")
    @classmethod
    def _non_empty(cls, v):
        if not v:
            raise ValueError("needs at least one entry")
        return v

    @model_validator(mode="after")
    def _signals_defined(self):
        for sig in self.signals:
            pattern_vector(sig, self)  # raises ValueError-compatible InputError when undefined
        return self


def as_config(config) -> SimplicityConfig:
    """A SimplicityConfig from a model or a mapping (InputError naming the bad field)."""
    if isinstance(config, SimplicityConfig):
        return config
    from pydantic import ValidationError

    try:
        return SimplicityConfig.model_validate(dict(config or {}))
    except ValidationError as err:
        raise InputError(format_validation_error(err, "simplicity")) from None


# --------------------------------------------------------------------------------------------
# Data


def placement_coords(placement: str, cfg: SimplicityConfig) -> np.ndarray:
    if placement == "simple":
        return np.array([0])
    if placement == "complex":
        return np.array([1])
    if cfg.n_free < 1:
        raise InputError("signal placement 'free' needs n_free >= 1")
    return np.arange(2, 2 + cfg.n_free)


def slab_centers(k: int) -> np.ndarray:
    return -1.0 + 2.0 * np.arange(k) / (k - 1)


def class_direction(cfg: SimplicityConfig) -> np.ndarray:
    """E[x | y*] - E[x | other class] under P0 (exact), a (d,) vector."""
    d = 2 + cfg.n_free
    c = np.zeros(d)
    sigma = 1.0 if cfg.target == 1 else -1.0
    c[0] = sigma * (1.0 + cfg.gamma)  # E[x_s | y] = sigma_y (1 + gamma) / 2
    centers = slab_centers(cfg.k_slabs)
    labels = np.arange(cfg.k_slabs) % 2
    c[1] = centers[labels == cfg.target].mean() - centers[labels != cfg.target].mean()
    return c


def pattern_vector(sig: SignalSpec3, cfg: SimplicityConfig) -> np.ndarray:
    """The pattern p on the placement's coordinates (length |P|)."""
    coords = placement_coords(sig.placement, cfg)
    c = class_direction(cfg)[coords]
    norm_c = float(np.linalg.norm(c))
    if sig.pattern == "aligned":
        if norm_c < 1e-12:
            raise InputError(f"signal placement {sig.placement!r} has no class direction (the classes have "
                             "the same mean there): use pattern 'neutral'")
        return sig.sign * sig.strength * c / norm_c
    r = np.where(np.arange(len(coords)) % 2 == 0, 1.0, -1.0)
    if norm_c > 1e-12:
        r = r - (r @ c) / norm_c**2 * c
    norm_r = float(np.linalg.norm(r))
    if norm_r < 1e-12:
        if sig.mode == "additive":
            raise InputError(f"a neutral additive pattern in the {sig.placement} block is zero (the block is "
                             "one class coordinate): use overwrite or another placement")
        return np.zeros(len(coords))  # overwrite onto the class boundary
    return sig.sign * sig.strength * r / norm_r


def make_simplicity_data(seeds, n: int, cfg: SimplicityConfig, stream: int = 0):
    """Draw (X (C, n, d), y (C, n)) from P0, one configuration per seed.

    Each configuration has its own generator (seed, stream), so its data never depend on the other
    configurations; the arithmetic that turns uniforms into points is vectorised over (C, n, d).
    """
    seeds = list(seeds)
    d = 2 + cfg.n_free
    C = len(seeds)
    u = np.empty((C, n, 4))
    z = np.empty((C, n, cfg.n_free))
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng([int(seed), int(stream)])
        u[i] = rng.random((n, 4))
        z[i] = rng.standard_normal((n, cfg.n_free))
    y = (u[..., 0] < 0.5).astype(np.int64)
    sigma = 2.0 * y - 1.0
    X = np.zeros((C, n, d))
    X[..., 0] = sigma * (cfg.gamma + (1.0 - cfg.gamma) * u[..., 1])
    k = cfg.k_slabs
    n_slabs = np.where(y == 0, (k + 1) // 2, k // 2)           # slabs 0, 2, 4.. are class 0
    slot = np.minimum((u[..., 2] * n_slabs).astype(np.int64), n_slabs - 1)
    slab = 2 * slot + y
    half = cfg.slab_width / (k - 1)
    X[..., 1] = slab_centers(k)[slab] + half * (2.0 * u[..., 3] - 1.0)
    X[..., 2:] = cfg.free_noise * z
    return X, y


def planting_function(sig: SignalSpec3, cfg: SimplicityConfig):
    """g: a batch (m, d) -> the batch with the pattern planted."""
    coords = placement_coords(sig.placement, cfg)
    p = pattern_vector(sig, cfg)

    def g(x):
        out = np.array(x, dtype=float, copy=True)
        if sig.mode == "overwrite":
            out[..., coords] = p
        else:
            out[..., coords] = out[..., coords] + p
        return out

    return g


# --------------------------------------------------------------------------------------------
# Theory attached to rows


def uniqueness_and_gap(sig: SignalSpec3, cfg: SimplicityConfig, X_test, y_test, n_reference: int = 500):
    """(xi, delta): how often natural test points already look like planted points, and their label gap."""
    coords = placement_coords(sig.placement, cfg)
    g = planting_function(sig, cfg)
    planted = g(X_test[:n_reference])[:, coords]
    natural = X_test[:, coords]
    # a natural point looks like the pattern when it is within tolerance of some planted point
    close = np.zeros(len(natural), dtype=bool)
    for start in range(0, len(planted), 100):
        diff = np.abs(natural[:, None, :] - planted[None, start:start + 100, :]).max(axis=2)
        close |= (diff <= cfg.match_tolerance).any(axis=1)
    xi = float(close.mean())
    if not close.any():
        return xi, 0.0
    share_target = float((y_test[close] == cfg.target).mean())
    return xi, max(0.0, (1.0 - share_target) - share_target)


def hardt_bound(alpha: float, xi: float, delta: float) -> float:
    return float(min(1.0, max(0.0, 1.0 - (1.0 - alpha) / alpha * delta * xi)))


# --------------------------------------------------------------------------------------------
# The experiment


def alpha_key(alpha: float) -> int:
    """A seed word for ``alpha``: the bits of its float64 value (equal alphas, equal draws)."""
    return int(np.asarray(float(alpha), dtype=np.float64).view(np.uint64))


def _attack(hit: np.ndarray, labels: np.ndarray, target: int) -> float:
    """Share of hits among the test points whose own label is not y* (attack success)."""
    keep = np.asarray(labels) != target
    return float((hit & keep).sum() / keep.sum()) if keep.any() else math.nan


def _svm_or_none(X, y, fit_intercept):
    try:
        return mm.hard_margin_svm(X, y, fit_intercept=fit_intercept)
    except InputError:
        return None


def _svm_predict(sol, X):
    return (X @ sol.w + sol.b > 0).astype(np.int64)


def run_simplicity(config, seeds, backend: Backend | str | None = "auto") -> list[ResultRow]:
    """Run family 3 for every (signal, alpha, learner) and seed; one ResultRow each.

    All (signal, alpha) training sets of a seed are stacked on the configuration axis and trained
    by one batched GD call. Rows carry ``series`` (the signal's label), success with its binomial
    standard error, clean accuracy, xi, delta, the Hardt bound and the max-margin prediction.
    """
    cfg = as_config(config)
    bk = get_backend(backend)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("run_simplicity needs at least one seed")
    cfg_dict = cfg.model_dump(mode="json")
    rows: list[ResultRow] = []
    for seed in seeds:
        rows.extend(_run_seed(cfg, cfg_dict, seed, bk))
    return rows


def _run_seed(cfg: SimplicityConfig, cfg_dict: dict, seed: int, bk: Backend) -> list[ResultRow]:
    X_base, y_base = make_simplicity_data([seed], cfg.n_train, cfg, stream=0)
    X_test, y_test = make_simplicity_data([seed], cfg.n_test, cfg, stream=1)
    X_base, y_base, X_test, y_test = X_base[0], y_base[0], X_test[0], y_test[0]
    combos = [(i, j) for i in range(len(cfg.signals)) for j in range(len(cfg.alphas))]
    Xs, ys, member_masks = [], [], []
    for i, j in combos:
        sig, alpha = cfg.signals[i], cfg.alphas[j]
        coll = Collective(alpha=alpha, target=cfg.target, signal=planting_function(sig, cfg), strategy=cfg.strategy)
        # members drawn per (seed, alpha): every signal sees the same base data and members, and
        # the draw depends on alpha's value only, not on which other alphas share the batch
        rng = np.random.default_rng([seed, 2, alpha_key(alpha)])
        Xc, yc, members = coll.plant_in_training_set(X_base, y_base, rng)
        Xs.append(Xc)
        ys.append(yc)
        member_masks.append(members)
    X = np.stack(Xs)
    y = np.stack(ys)
    test_signal = {i: planting_function(cfg.signals[i], cfg)(X_test) for i in range(len(cfg.signals))}
    theory = {i: uniqueness_and_gap(cfg.signals[i], cfg, X_test, y_test) for i in range(len(cfg.signals))}
    clean_svm = _svm_or_none(X_base, y_base, cfg.fit_intercept)

    results: dict[tuple[str, int], dict] = {}
    if "gd" in cfg.learners:
        fit = fit_logistic(X, y, n_classes=2, steps=cfg.steps, lr=cfg.lr, fit_intercept=cfg.fit_intercept,
                           tol=0.0, backend=bk)
        clean_acc = fit.accuracy(X_test, y_test)
        for c in range(len(combos)):
            results[("gd", c)] = {"clean": float(clean_acc[c])}
        # predictions on each signal's test points (one batched call per signal)
        for i in range(len(cfg.signals)):
            idx = [c for c, (ii, _) in enumerate(combos) if ii == i]
            logits = bk.to_numpy(fit.decision_function(test_signal[i]))
            for c in idx:
                hit = np.argmax(logits[c], axis=-1) == cfg.target
                results[("gd", c)]["success"] = float(hit.mean())
                results[("gd", c)]["attack"] = _attack(hit, y_test, cfg.target)
    svms = {}
    for c, (i, j) in enumerate(combos):
        svms[c] = _svm_or_none(X[c], y[c], cfg.fit_intercept)
        if "max-margin" in cfg.learners:
            sol = svms[c]
            if sol is None:
                results[("max-margin", c)] = {"clean": math.nan, "success": math.nan, "attack": math.nan}
            else:
                hit = _svm_predict(sol, test_signal[i]) == cfg.target
                results[("max-margin", c)] = {
                    "clean": float((_svm_predict(sol, X_test) == y_test).mean()),
                    "success": float(hit.mean()), "attack": _attack(hit, y_test, cfg.target)}

    rows = []
    for c, (i, j) in enumerate(combos):
        sig, alpha = cfg.signals[i], cfg.alphas[j]
        xi, delta = theory[i]
        sol = svms[c]
        s_mm = math.nan if sol is None else float((_svm_predict(sol, test_signal[i]) == cfg.target).mean())
        s_clean = math.nan if clean_svm is None else float((_svm_predict(clean_svm, test_signal[i]) == cfg.target).mean())
        t_star = math.nan
        if sig.placement == "free" and clean_svm is not None:
            # members whose reported point the clean separator labels against their reported label
            # must be flipped (feature-only members of other classes report their own point: none)
            wrong = member_masks[c] & (_svm_predict(clean_svm, X[c]) != y[c])
            if wrong.any() and sig.strength > 0:
                p_share = wrong.sum() / cfg.n_train
                t_star = float(mm.steps_needed(min(p_share, 0.999), sig.strength, cfg.lr, share_other_class=1.0))
            else:
                t_star = 0.0
        for learner in cfg.learners:
            res = results[(learner, c)]
            if learner == "gd":
                if sol is None:
                    theory_s = math.nan
                elif sig.placement == "free" and not (cfg.steps >= t_star):
                    theory_s = s_clean
                else:
                    theory_s = s_mm
                name = "erm"
            else:
                theory_s = math.nan
                name = "max-margin"
            succ = res["success"]
            rows.append(ResultRow(
                experiment="simplicity", pillar="simulate", config=dict(cfg_dict), seed=seed, alpha=float(alpha),
                learner=name, success=succ, clean_accuracy=res["clean"], attack_success=res["attack"],
                extra={
                    "series": sig.label, "placement": sig.placement, "pattern": sig.pattern,
                    "sign": int(sig.sign), "mode": sig.mode, "strength": float(sig.strength),
                    "success_theory": theory_s, "success_bound": hardt_bound(alpha, xi, delta),
                    "success_se": math.sqrt(succ * (1 - succ) / cfg.n_test) if not math.isnan(succ) else math.nan,
                    "xi": xi, "delta": delta, "separable": sol is not None,
                    "success_max_margin": s_mm, "success_clean_max_margin": s_clean, "t_star": t_star,
                    "n_members": int(member_masks[c].sum()), "backend": bk.name, "device": bk.device,
                    "n_train": cfg.n_train, "n_test": cfg.n_test,
                    "steps": cfg.steps if learner == "gd" else math.nan,
                    "family": "simplicity",
                }))
    return rows
