"""Synthetic worlds for the stress battery: Gaussian classes with the knobs the simulator lacks.

The simulator's family 2 (:mod:`collective_action.simulate.gaussian`) has uniform class priors,
clean labels and one collective that always plants. The stress battery needs more, so this module
describes a *world* with

* class priors ``priors`` (imbalance),
* symmetric label noise ``label_noise``: a base point keeps its class label with probability
  1 - eta and otherwise reports one of the K - 1 other labels uniformly,
* several collectives, each with its own signal (coordinates, pattern, additive or overwrite
  with jitter), target label and planting probability p: a member plants with probability p and
  otherwise deviates in the way of its noise kind (collective_action.several.NOISE_KINDS): it
  reports its own base point (``keep-label``), plants the signal with a label drawn uniformly from
  the K labels (``random-label``), or plants the pattern on another block of coordinates of the
  signal's pool, drawn uniformly from the other offsets, with the target label (``corrupted-signal``),

and computes, for every collective, the two things theory predicts: the exact Bayes success of
the mixture (Monte Carlo with its standard error; every density is known) and Hardt's bound with
the integrated gap (docs/theory.md §2 with densities, as in :mod:`collective_action.theory.gaussian`).

The derivation behind the prediction. Writing a_j = alpha_j p_j (the share of training points that
really carry collective j's signal) and d_j = alpha_j (1 - p_j) for deviators that plant something
(random-label, corrupted-signal; keep-label deviators are base points, d_j = 0), the training law is

    P = (1 - sum_j a_j - sum_j d_j) P0 + sum_j a_j P*_j + sum_j d_j N_j ,

with N_j the deviators' law (random-label: P*_j's features with every label 1/K; corrupted-signal:
the pattern's law averaged over the other offsets, on y_j). For collective j the rest of the data
acts as a base law B_j = (P - a_j P*_j) / (1 - a_j) and Hardt's argument runs unchanged with
alpha -> a_j and the integrated gap of B_j:
S_j >= 1 - ((1 - a_j) / a_j) int (max_{y != y_j} B_j(x, y) - B_j(x, y_j))^+ dx. Label noise, class
imbalance, the other collectives and every deviator enter through B_j. Feature-label strategy only.

Sampling is NumPy on the host (the learners move arrays to their backend); densities are computed
by the quadratic expansion |x - m|^2 = |x|^2 - 2 x.m + |m|^2 (one matrix product, no (n, K, d)
temporaries), in row chunks so that d = 10,000 fits in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from collective_action.errors import InputError, check_choice
from collective_action.several import NOISE_KINDS
from collective_action.simulate.gaussian import SampleBatch
from collective_action.theory.gaussian import argmax_against, class_means, plant_signal

_TRAIN_STREAM, _TEST_STREAM, _THEORY_STREAM = 0, 1, 2
#: Elements of one (rows x d) chunk in density computations.
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Planting:
    """One collective's signal: g(x)_S = x_S + v (additive) or v + jitter * N(0, I) (overwrite).

    A member plants with probability ``plant_prob``, otherwise deviates as ``noise_kind`` says;
    ``alternatives`` are the other coordinate blocks a corrupted-signal deviator plants on.
    """

    target: int
    coords: tuple
    pattern: np.ndarray
    mode: str = "additive"
    jitter: float = 0.0
    plant_prob: float = 1.0
    noise_kind: str = "keep-label"
    alternatives: tuple = ()

    def __post_init__(self):
        if self.mode not in ("additive", "overwrite"):
            raise InputError(f"signal mode must be additive or overwrite, got {self.mode!r}")
        if self.mode == "overwrite" and not self.jitter > 0:
            raise InputError("an overwrite signal needs jitter > 0 in the stress battery (a density is required)")
        if not (0.0 < self.plant_prob <= 1.0):
            raise InputError(f"plant_prob must lie in (0, 1], got {self.plant_prob}")
        check_choice("noise kind", self.noise_kind, NOISE_KINDS)
        if self.noise_kind == "corrupted-signal" and not self.alternatives:
            raise InputError("corrupted-signal noise needs another place for the pattern: the signal's pool has "
                             "no other offset (raise n_free, or lower n_coords)")

    @property
    def plants_when_deviating(self) -> bool:
        """Whether a deviating member adds points of its own law N (not base points)."""
        return self.noise_kind != "keep-label"


@dataclass(frozen=True)
class GaussianWorld:
    """Gaussian classes on class coordinates, free N(0, tau^2) coordinates, priors, label noise."""

    means: np.ndarray          # (K, d_class)
    sigma: float
    n_free: int
    tau: float
    priors: np.ndarray         # (K,)
    label_noise: float
    plantings: tuple = field(default_factory=tuple)

    def __post_init__(self):
        K = self.means.shape[0]
        pri = np.asarray(self.priors, dtype=float)
        if pri.shape != (K,) or (pri <= 0).any() or abs(pri.sum() - 1) > 1e-9:
            raise InputError(f"priors must be {K} positive numbers summing to 1, got {pri.tolist()}")
        if not (0.0 <= self.label_noise < (K - 1) / K):
            raise InputError(f"label_noise must lie in [0, {(K - 1) / K:.3g}) for K = {K}, got {self.label_noise}")
        for p in self.plantings:
            if not (0 <= p.target < K):
                raise InputError(f"target must be a label in [0, {K - 1}], got {p.target}")
            if min(p.coords) < 0 or max(p.coords) >= self.dim:
                raise InputError(f"signal coordinates must lie in [0, {self.dim - 1}]")

    # -- shapes ------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1] + self.n_free

    @property
    def full_means(self) -> np.ndarray:
        return np.concatenate([self.means, np.zeros((self.n_classes, self.n_free))], axis=1)

    @property
    def scales(self) -> np.ndarray:
        return np.concatenate([np.full(self.means.shape[1], self.sigma), np.full(self.n_free, self.tau)])

    def noise_matrix(self) -> np.ndarray:
        """T[k, y] = Pr[reported label y | class k]."""
        K, eta = self.n_classes, self.label_noise
        return np.full((K, K), eta / (K - 1)) + (1 - eta - eta / (K - 1)) * np.eye(K)

    # -- sampling ----------------------------------------------------------------------------
    def sample_base(self, n: int, rng: np.random.Generator):
        """(x, reported label, true class) for n base points."""
        k = rng.choice(self.n_classes, size=n, p=self.priors)
        x = self.full_means[k] + rng.standard_normal((n, self.dim)) * self.scales
        y = k.copy()
        if self.label_noise > 0:
            flip = rng.random(n) < self.label_noise
            shift = rng.integers(1, self.n_classes, size=int(flip.sum()))
            y[flip] = (k[flip] + shift) % self.n_classes  # uniform over the K - 1 other labels
        return x, y, k

    def plant(self, x: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray:
        p = self.plantings[j]
        return plant_signal(x, p.coords, p.pattern, p.mode, p.jitter, rng)

    def plant_corrupted(self, x: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray:
        """A corrupted-signal deviator's features: the pattern on a uniformly drawn other block."""
        p = self.plantings[j]
        where = rng.integers(0, len(p.alternatives), size=len(x))
        out = np.array(x, dtype=float, copy=True)
        for a, coords in enumerate(p.alternatives):
            rows = where == a
            if rows.any():
                out[rows] = plant_signal(x[rows], coords, p.pattern, p.mode, p.jitter, rng)
        return out

    def deviate(self, x: np.ndarray, y: np.ndarray, j: int, rng: np.random.Generator):
        """What deviating members of collective j report in place of their own (x, y)."""
        p = self.plantings[j]
        if p.noise_kind == "random-label":
            return self.plant(x, j, rng), rng.integers(0, self.n_classes, size=len(x))
        if p.noise_kind == "corrupted-signal":
            return self.plant_corrupted(x, j, rng), np.full(len(x), p.target)
        return x, y

    # -- densities ---------------------------------------------------------------------------
    def _signal_params(self, j: int, coords=None):
        """Per-class means (K, d) and coordinate scales (d,) of g_j(x) given the member's class
        (on ``coords`` in place of the signal's own coordinates)."""
        p = self.plantings[j]
        mean = self.full_means.copy()
        scale = self.scales.copy()
        idx = list(p.coords if coords is None else coords)
        if p.mode == "additive":
            mean[:, idx] += p.pattern
        else:
            mean[:, idx] = p.pattern
            scale[idx] = p.jitter
        return mean, scale

    @staticmethod
    def _log_normal(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """log N(x; mean_k, diag(scale^2)) for every row of ``mean``: (n, K)."""
        z = x / scale
        mz = mean / scale
        quad = (z * z).sum(axis=1)[:, None] - 2.0 * z @ mz.T + (mz * mz).sum(axis=1)[None, :]
        return -0.5 * quad - np.log(scale).sum() - 0.5 * x.shape[1] * math.log(2 * math.pi)

    def log_base_joint(self, x: np.ndarray) -> np.ndarray:
        """log P0(x, y) with priors and label noise: (n, K)."""
        comp = self._log_normal(x, self.full_means, self.scales) + np.log(self.priors)  # (n, K) over classes k
        if self.label_noise == 0:
            return comp
        # T = (1 - eta - e) I + e 11^T with e = eta / (K - 1), so
        # P0(x, y) = e sum_k pi_k N_k(x) + (1 - eta - e) pi_y N_y(x): O(n K), not O(n K^2)
        e = self.label_noise / (self.n_classes - 1)
        keep = 1.0 - self.label_noise - e
        spread = math.log(e) + special.logsumexp(comp, axis=1, keepdims=True)
        return np.logaddexp(spread, math.log(keep) + comp) if keep > 0 else np.broadcast_to(spread, comp.shape).copy()

    def log_collective_joint(self, x: np.ndarray, j: int) -> np.ndarray:
        """log P*_j(x, y): all mass on the target label (feature-label): (n, K), -inf elsewhere."""
        mean, scale = self._signal_params(j)
        comp = self._log_normal(x, mean, scale) + np.log(self.priors)
        out = np.full((len(x), self.n_classes), -np.inf)
        out[:, self.plantings[j].target] = special.logsumexp(comp, axis=1)
        return out

    def log_deviator_joint(self, x: np.ndarray, j: int) -> np.ndarray:
        """log N_j(x, y) of collective j's deviators that plant (random-label, corrupted-signal): (n, K)."""
        p = self.plantings[j]
        if p.noise_kind == "random-label":  # the signal's features, every label 1/K
            mean, scale = self._signal_params(j)
            marg = special.logsumexp(self._log_normal(x, mean, scale) + np.log(self.priors), axis=1)
            return np.repeat(marg[:, None] - math.log(self.n_classes), self.n_classes, axis=1)
        if p.noise_kind == "corrupted-signal":  # the pattern on a uniform other block, label y_j
            per_block = []
            for coords in p.alternatives:
                mean, scale = self._signal_params(j, coords)
                per_block.append(special.logsumexp(self._log_normal(x, mean, scale) + np.log(self.priors), axis=1))
            out = np.full((len(x), self.n_classes), -np.inf)
            out[:, p.target] = special.logsumexp(np.stack(per_block), axis=0) - math.log(len(p.alternatives))
            return out
        raise ValueError("keep-label deviators report base points: they have no law of their own")

    def deviator_shares(self, nominal) -> list[float]:
        """d_j = alpha_j (1 - p_j) for collectives whose deviators plant; 0 for keep-label ones."""
        return [float(a) * (1.0 - p.plant_prob) if p.plants_when_deviating else 0.0
                for a, p in zip(nominal, self.plantings)]

    def log_mixture(self, x: np.ndarray, base_weight: float, shares, deviators=None, skip: int | None = None):
        """log of base_weight P0 + sum_{j != skip} a_j P*_j + sum_j d_j N_j at x: (n, K)."""
        parts = [math.log(base_weight) + self.log_base_joint(x)]
        for j, a in enumerate(shares):
            if j != skip and a > 0:
                parts.append(math.log(a) + self.log_collective_joint(x, j))
        for j, d in enumerate(deviators or ()):
            if d > 0:
                parts.append(math.log(d) + self.log_deviator_joint(x, j))
        return special.logsumexp(np.stack(parts), axis=0)

    def log_scores(self, x: np.ndarray, shares, skip: int | None = None, deviators=None) -> np.ndarray:
        """log of the training law's joint density (1 - sum a - sum d) P0 + sum_j a_j P*_j + sum_j d_j N_j
        at effective shares a and deviator shares d, collective ``skip``'s plan left out."""
        shares = [float(a) for a in shares]
        deviators = [float(d) for d in deviators] if deviators is not None else []
        return self.log_mixture(x, 1.0 - sum(shares) - sum(deviators), shares, deviators, skip)

    def bayes_predict(self, x: np.ndarray, shares, target: int, deviators=None) -> np.ndarray:
        """Bayes classifier of the mixture with effective shares a_j; ties go against ``target``."""
        out = np.empty(len(x), dtype=np.int64)
        for sl in self._chunks(len(x)):
            out[sl] = argmax_against(self.log_scores(x[sl], shares, deviators=deviators), target)
        return out

    def _chunks(self, n: int):
        rows = max(1, _CHUNK_ELEMENTS // max(self.dim * max(self.n_classes, 1), 1))
        return [slice(s, min(s + rows, n)) for s in range(0, n, rows)]

    # -- theory --------------------------------------------------------------------------------
    def bayes_success_mc(self, shares, j: int, n: int, seed: int = 0, deviators=None) -> tuple[float, float]:
        """Monte Carlo Bayes success of collective j at effective shares a (deviator shares d):
        (success, standard error)."""
        rng = np.random.default_rng([seed, _THEORY_STREAM, j])
        t = self.plantings[j].target
        hits = 0
        for sl in self._chunks(n):  # sampled chunk by chunk: n x d need not fit in memory
            x, _, _ = self.sample_base(sl.stop - sl.start, rng)
            scores = self.log_scores(self.plant(x, j, rng), shares, deviators=deviators)
            hits += int((argmax_against(scores, t) == t).sum())
        s = hits / n
        return s, math.sqrt(s * (1 - s) / n)

    def integrated_gap_mc(self, shares, j: int, n: int, seed: int = 0, deviators=None) -> tuple[float, float]:
        """int (max_{y != y_j} B_j(x, y) - B_j(x, y_j))^+ dx by Monte Carlo over x ~ B_j: (value, SE).

        B_j = (P - a_j P*_j) / (1 - a_j): base points with weight (1 - sum a - sum d) / (1 - a_j), the
        other collectives' planted points with a_i / (1 - a_j), every planting deviator with d_i / (1 - a_j).
        """
        shares = [float(a) for a in shares]
        deviators = [float(d) for d in deviators] if deviators is not None else [0.0] * len(shares)
        rest = [a if i != j else 0.0 for i, a in enumerate(shares)]
        total = 1.0 - shares[j]
        base = 1.0 - sum(shares) - sum(deviators)
        rng = np.random.default_rng([seed, _THEORY_STREAM, 100 + j])
        # sources: 0 base, 1.. the collectives' plans, then (only where some deviator plants) their deviators
        weights = [base] + rest + (deviators if any(deviators) else [])
        probs = np.array(weights) / total
        scale = [a / total for a in rest]
        t = self.plantings[j].target
        gaps = np.empty(n)
        for sl in self._chunks(n):  # sampled chunk by chunk: n x d need not fit in memory
            source = rng.choice(len(probs), size=sl.stop - sl.start, p=probs / probs.sum())
            x, y, _ = self.sample_base(sl.stop - sl.start, rng)
            for i in range(len(shares)):
                pick = source == i + 1
                if pick.any():
                    x[pick] = self.plant(x[pick], i, rng)
            for i in range(len(weights) - 1 - len(shares)):
                pick = source == 1 + len(shares) + i
                if pick.any():
                    x[pick], _ = self.deviate(x[pick], y[pick], i, rng)
            logp = self.log_mixture(x, base / total, scale, [d / total for d in deviators])
            post = np.exp(logp - special.logsumexp(logp, axis=1, keepdims=True))
            others = np.delete(post, t, axis=1).max(axis=1)
            gaps[sl] = np.maximum(others - post[:, t], 0.0)
        return float(gaps.mean()), float(gaps.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def make_world(*, n_classes: int, d_class: int, separation: float, sigma: float, n_free: int, tau: float,
               priors, label_noise: float, signals) -> GaussianWorld:
    """A world from experiment-file fields; ``signals`` are dicts of the collectives' signal specs.

    A signal spreads ``amplitude`` evenly over ``n_coords`` coordinates starting at ``offset``
    inside its pool (free coordinates, or the class coordinates for ``placement: class``), with
    the sign ``direction``; ``noise_kind`` (default keep-label) says what its non-planting members
    do, and a corrupted-signal collective may plant on every other offset of the pool.
    """
    means = class_means(n_classes, d_class, separation)
    pri = np.full(n_classes, 1.0 / n_classes) if priors is None else np.asarray(priors, dtype=float)
    plantings = []
    for s in signals:
        pool_start, pool = (d_class, n_free) if s["placement"] == "free" else (0, d_class)
        lo, hi = s["offset"], s["offset"] + s["n_coords"]
        if hi > pool:
            raise InputError(f"signal coordinates [{lo}, {hi}) exceed the {pool} {s['placement']} coordinates")
        coords = tuple(range(pool_start + lo, pool_start + hi))
        pattern = np.full(s["n_coords"], s["direction"] * s["amplitude"] / math.sqrt(s["n_coords"]))
        kind = s.get("noise_kind", "keep-label")
        others = tuple(tuple(range(pool_start + o, pool_start + o + s["n_coords"]))
                       for o in range(pool - s["n_coords"] + 1) if o != lo) if kind == "corrupted-signal" else ()
        plantings.append(Planting(s["target"], coords, pattern, s["mode"], s["jitter"], s["plant_prob"], kind, others))
    return GaussianWorld(means, sigma, n_free, tau, pri, label_noise, tuple(plantings))


def sample_world_batch(world: GaussianWorld, alphas: np.ndarray, seeds: np.ndarray, n_train: int,
                       n_test: int):
    """C training sets: collective 0 holds alphas[c], the others their fixed alphas.

    ``alphas`` is (C, J): the nominal share of every collective per configuration. Returns the
    SampleBatch (X_signal stacks every collective's n_test signal points, collective 0 first;
    ``member`` marks collective 0's rows), the realised effective shares (C, J) (planted rows
    over n) and the realised nominal shares (C, J).
    """
    C, J = alphas.shape
    d = world.dim
    X = np.empty((C, n_train, d))
    y = np.empty((C, n_train), dtype=np.int64)
    member = np.zeros((C, n_train), dtype=bool)
    X_signal = np.empty((C, J * n_test, d))
    X_clean = np.empty((C, n_test, d))
    y_clean = np.empty((C, n_test), dtype=np.int64)
    planted_share = np.zeros((C, J))
    nominal_share = np.zeros((C, J))
    for c in range(C):
        rng = np.random.default_rng([int(seeds[c]), _TRAIN_STREAM])
        x0, y0, _ = world.sample_base(n_train, rng)
        order = rng.permutation(n_train)
        start = 0
        for j in range(J):
            m = int(round(alphas[c, j] * n_train))
            rows = order[start:start + m]
            start += m
            if start > n_train:
                raise InputError("the collectives' shares add up to more than the training set")
            follows = rng.random(m) < world.plantings[j].plant_prob
            plants = rows[follows]
            if len(plants):
                x0[plants] = world.plant(x0[plants], j, rng)
                y0[plants] = world.plantings[j].target
            deviants = rows[~follows]
            if world.plantings[j].plants_when_deviating and len(deviants):
                x0[deviants], y0[deviants] = world.deviate(x0[deviants], y0[deviants], j, rng)
            if j == 0:
                member[c, rows] = True
            planted_share[c, j] = len(plants) / n_train
            nominal_share[c, j] = m / n_train
        X[c], y[c] = x0, y0
        test_rng = np.random.default_rng([int(seeds[c]), _TEST_STREAM])
        for j in range(J):
            xs, _, _ = world.sample_base(n_test, test_rng)
            X_signal[c, j * n_test:(j + 1) * n_test] = world.plant(xs, j, test_rng)
        X_clean[c], _, y_clean[c] = world.sample_base(n_test, test_rng)  # scored against the true class
    batch = SampleBatch.from_arrays(X, y, member, X_signal, X_clean, y_clean, world.n_classes,
                                    world.plantings[0].target)
    return batch, planted_share, nominal_share
