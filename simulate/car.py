"""Family ``car``: Gauthier, Bach and Jordan's (ICML 2025) synthetic car data and its experiments.

The data (docs/car.md §2): 18 categorical features and the label "Car Evaluation" in {Excellent,
Good, Average, Poor}; every feature but Sunroof leans on one "high" value for SUVs. The signal map
g fixes 17 features to the SUV high profile and keeps the country, so X* = g(X) has 5 points. The
platform is a frequency-count table (argmax of the training counts at x; ties go to the earlier
label in the order Good, Average, Poor, Excellent; an unseen x is predicted Good).

Everything is integer-coded: a row is one int64 key (mixed radix over the features, country as
the last digit) and a label code. Labels are coded in the tie order, so ``argmax`` (first
maximum) is the platform's rule and an all-zero row gives Good. Because X* has 5 points and the
platform is a count table, success and bounds reduce to counts per (country, label) of the
collective's rows and of the base rows; rows are i.i.d., so the training pool is rows [0, N),
the test set the next ``n_test`` rows, and the collective the last n rows of the pool (nested in
n, as in the authors' fixed-seed splits).

Strategies: ``feature-label`` (x, y) -> (g(x), y*); ``feature-only`` y*-rows -> (g(x), y*), the
others -> (x0 with their country, y); ``unplanting`` n_est rows estimate y^(x~) (most frequent
label other than y*), the remaining m = n - n_est rows become (g(x), y^(g(x))), and the platform
never sees the n_est rows. Bounds: :mod:`collective_action.theory.finite_sample` (planting) and
:mod:`collective_action.theory.finite_sample_goals` (feature-only, unplanting as coded and
corrected).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from collective_action import limits
from collective_action.experiment import StrictModel
from collective_action.results import ResultRow
from collective_action.theory.finite_sample import finite_sample_bound_from_estimates
from collective_action.theory.finite_sample_goals import (feature_only_bound_from_estimates,
                                                          unplanting_bound_from_estimates)

# ------------------------------------------------------------------------------------------
# The data's facts (docs/car.md §2)

MODEL_TYPES = ("Sedan", "SUV", "Coupe", "Hatchback", "Convertible", "Wagon", "Minivan", "Truck")
MODEL_PROBS = (0.22, 0.45, 0.23, 0.02, 0.01, 0.01, 0.01, 0.05)
SUV = MODEL_TYPES.index("SUV")

#: (name, values, SUV high value or None, hp) in the CSV's column order (after Model Type).
FEATURES = (
    ("Safety Rating", ("1 star", "2 stars", "3 stars", "4 stars", "5 stars"), "4 stars", 0.7),
    ("Fuel Type", ("Gasoline", "Diesel", "Electric", "Hybrid"), "Diesel", 0.8),
    ("Interior Material", ("Cloth", "Leather", "Synthetic"), "Synthetic", 0.9),
    ("Infotainment System", ("Basic", "Advanced", "Premium", "None"), "Premium", 0.9),
    ("Country of Manufacture", ("C1", "C2", "C3", "C4", "C5"), "C5", 0.3),
    ("Warranty Length", ("3 years", "5 years", "7 years", "10 years"), "10 years", 0.9),
    ("Number of Doors", ("2", "4", "5"), "5", 0.95),
    ("Number of Seats", ("2", "4", "5", "7"), "5", 0.95),
    ("Air Conditioning", ("Yes", "No"), "Yes", 0.95),
    ("Navigation System", ("None", "Basic", "Advanced"), "Advanced", 0.95),
    ("Tire Type", ("All-Season", "Summer", "Winter"), "All-Season", 0.95),
    ("Sunroof", ("Yes", "No"), None, 0.0),
    ("Sound System", ("Standard", "Premium", "High-end", "None"), "Premium", 0.95),
    ("Cruise Control", ("Yes", "No"), "Yes", 0.95),
    ("Bluetooth Connectivity", ("Yes", "No"), "Yes", 0.95),
    ("Transmission Type", ("Manual", "Automatic", "CVT"), "Manual", 0.7),
    ("Drive Type", ("FWD", "RWD", "AWD"), "RWD", 0.95),
)
COUNTRY = "Country of Manufacture"
COUNTRIES = ("C1", "C2", "C3", "C4", "C5")
#: Labels coded in the platform's tie order: argmax (first maximum) breaks ties as it does.
LABELS = ("Good", "Average", "Poor", "Excellent")
LABEL = {name: code for code, name in enumerate(LABELS)}

SAFETY_POINTS = {"1 star": 1, "2 stars": 2, "3 stars": 3, "4 stars": 4, "5 stars": 5}
FUEL_POINTS = {"Gasoline": 1, "Diesel": 1, "Electric": 4, "Hybrid": 3}
WARRANTY_POINTS = {"3 years": 2, "5 years": 3, "7 years": 4, "10 years": 5}
NOISE = (1, 3, 4)  # e, uniform
P_NORMAL = 0.95  # u > 0.05
C2_SUV_SCORES = ((13, 0.6), (0, 0.3), (2, 0.1))

#: g: the SUV high profile with Sunroof = Yes; the country is kept.
G_PROFILE = {"Model Type": "SUV", **{name: high for name, _, high, _ in FEATURES if high and name != COUNTRY},
             "Sunroof": "Yes"}
#: The feature-only strategy's dump profile x0 (country kept).
X0_PROFILE = {"Model Type": "Sedan", "Fuel Type": "Diesel", "Transmission Type": "Automatic", "Drive Type": "RWD",
              "Safety Rating": "1 star", "Interior Material": "Synthetic", "Infotainment System": "Premium",
              "Warranty Length": "7 years", "Number of Doors": "5", "Number of Seats": "5",
              "Air Conditioning": "Yes", "Navigation System": "Advanced", "Tire Type": "All-Season",
              "Sunroof": "No", "Sound System": "Premium", "Cruise Control": "No", "Bluetooth Connectivity": "No"}

STRATEGIES = ("feature-label", "feature-only", "unplanting")
_VALUES = {"Model Type": MODEL_TYPES, **{name: values for name, values, _, _ in FEATURES}}
#: Key digits: every feature but the country (column order), then the country as the last digit.
_KEY_ORDER = ("Model Type",) + tuple(name for name, *_ in FEATURES if name != COUNTRY)


def _profile_key(profile: dict) -> int:
    """The key of a profile without its country digit."""
    key = 0
    for name in _KEY_ORDER:
        key = key * len(_VALUES[name]) + _VALUES[name].index(profile[name])
    return key


G_REST, X0_REST = _profile_key(G_PROFILE), _profile_key(X0_PROFILE)
#: Keys of X* (= g(x) for each country) and of x0 for each country.
X_STAR_KEYS = np.array([G_REST * 5 + c for c in range(5)], dtype=np.int64)
X0_KEYS = np.array([X0_REST * 5 + c for c in range(5)], dtype=np.int64)


# ------------------------------------------------------------------------------------------
# Generator


@dataclass(frozen=True)
class CarData:
    """n i.i.d. rows, integer-coded: the row's key, its label code, its country and whether its
    17 g-features already equal g's (the g-profile)."""

    key: np.ndarray  # int64
    label: np.ndarray  # int8, codes of LABELS
    country: np.ndarray  # int8, 0..4
    gprofile: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.key)


def _label_codes(score: np.ndarray) -> np.ndarray:
    """Thresholds: >= 13 Excellent, 8..12 Good, 2..7 Average, < 2 Poor."""
    out = np.full(score.shape, LABEL["Poor"], dtype=np.int8)
    out[score >= 2] = LABEL["Average"]
    out[score >= 8] = LABEL["Good"]
    out[score >= 13] = LABEL["Excellent"]
    return out


def generate(n_rows: int, seed) -> CarData:
    """``n_rows`` rows of the car data from ``np.random.default_rng(seed)`` (vectorised)."""
    rng = np.random.default_rng(seed)
    model = rng.choice(len(MODEL_TYPES), size=n_rows, p=MODEL_PROBS).astype(np.int8)
    suv = model == SUV
    cols = {}
    for name, values, high, hp in FEATURES:
        col = rng.integers(0, len(values), size=n_rows, dtype=np.int8)
        if high is not None:  # SUV: the high value with prob hp, else uniform over all values
            col[suv & (rng.random(n_rows) < hp)] = values.index(high)
        cols[name] = col
    cols["Model Type"] = model
    key = np.zeros(n_rows, dtype=np.int64)
    gprofile = np.ones(n_rows, dtype=bool)
    for name in _KEY_ORDER:
        key *= len(_VALUES[name])
        key += cols[name]
        gprofile &= cols[name] == _VALUES[name].index(G_PROFILE[name])
    country = cols[COUNTRY]
    key = key * 5 + country
    # label: points of safety, fuel and warranty plus e; C2-SUV rows their own draw; else score 0
    points = (np.array([SAFETY_POINTS[v] for v in _VALUES["Safety Rating"]])[cols["Safety Rating"]]
              + np.array([FUEL_POINTS[v] for v in _VALUES["Fuel Type"]])[cols["Fuel Type"]]
              + np.array([WARRANTY_POINTS[v] for v in _VALUES["Warranty Length"]])[cols["Warranty Length"]])
    u = rng.random(n_rows)
    e = np.asarray(NOISE)[rng.integers(0, len(NOISE), size=n_rows)]
    r = rng.random(n_rows)
    c2suv = suv & (country == COUNTRIES.index("C2"))
    c2_score = np.where(r < 0.6, 13, np.where(r < 0.9, 0, 2))
    score = np.where(c2suv, c2_score, np.where(u > 1 - P_NORMAL, points + e, 0))
    return CarData(key=key, label=_label_codes(score), country=country, gprofile=gprofile)


def decode(key: np.ndarray) -> dict[str, np.ndarray]:
    """Feature name -> value codes (indices into the feature's value list) of the given keys."""
    key = np.asarray(key, dtype=np.int64)
    out = {COUNTRY: key % 5}
    rest = key // 5
    for name in reversed(_KEY_ORDER):
        k = len(_VALUES[name])
        out[name] = rest % k
        rest = rest // k
    return out


def platform_predict(counts: np.ndarray) -> np.ndarray:
    """The frequency-count platform's label from (..., 4) counts in LABELS order: the largest count,
    ties to the earlier label (Good, Average, Poor, Excellent); no counts -> Good."""
    return np.argmax(counts, axis=-1)


def estimation_rows(seed: int, n: int, n_est: int) -> np.ndarray:
    """Unplanting: which of the n members (bool mask) estimate y^; re-drawn for every n, as the
    authors' inner split is."""
    est = np.zeros(n, dtype=bool)
    est[np.random.default_rng([seed, n, 0xE57]).choice(n, n_est, replace=False)] = True
    return est


def modify(members: CarData, strategy: str, target: int, y_hat: Optional[np.ndarray] = None):
    """The members' rows after the strategy, as (keys, labels) the platform trains on (row level;
    the runner works on the equivalent counts). For ``unplanting`` pass only the relabelled rows
    and y^ per country."""
    star_keys = X_STAR_KEYS[members.country]
    if strategy == "feature-label":
        return star_keys, np.full(len(members), target, dtype=np.int8)
    if strategy == "feature-only":
        own = members.label == target
        return np.where(own, star_keys, X0_KEYS[members.country]), members.label.copy()
    if strategy == "unplanting":
        return star_keys, np.asarray(y_hat, dtype=np.int8)[members.country]
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")


# ------------------------------------------------------------------------------------------
# Exact population quantities


def _feature_law(name: str, suv: bool) -> np.ndarray:
    values = _VALUES[name]
    k = len(values)
    high = next((h for n_, _, h, _ in FEATURES if n_ == name), None)
    hp = next((p for n_, _, _, p in FEATURES if n_ == name), 0.0)
    law = np.full(k, 1.0 / k)
    if suv and high is not None:
        law = (1 - hp) * law
        law[values.index(high)] += hp
    return law


def _label_law(safety: str, fuel: str, warranty: str, c2suv: bool) -> np.ndarray:
    """P(label | the rule's inputs), in LABELS order."""
    out = np.zeros(len(LABELS))
    if c2suv:
        for score, p in C2_SUV_SCORES:
            out[_label_codes(np.array([score]))[0]] += p
        return out
    out[LABEL["Poor"]] += 1 - P_NORMAL
    base = SAFETY_POINTS[safety] + FUEL_POINTS[fuel] + WARRANTY_POINTS[warranty]
    for e in NOISE:
        out[_label_codes(np.array([base + e]))[0]] += P_NORMAL / len(NOISE)
    return out


@lru_cache(maxsize=1)
def population() -> dict:
    """Exact population quantities (docs/car.md §2.4), each label array in LABELS order.

    ``label``, ``label_suv``, ``label_non_suv``: P(label), P(label | SUV), P(label | not SUV);
    ``country``: P(country); ``q``: P(g-profile, country); ``label_given_gprofile`` (5, 4);
    ``x0``: P(x0 profile without its country).
    """
    p_suv = MODEL_PROBS[SUV]
    by_suv = {}
    for suv in (True, False):
        joint = np.zeros(len(LABELS))
        laws = {n: _feature_law(n, suv) for n in ("Safety Rating", "Fuel Type", "Warranty Length", COUNTRY)}
        for i, s in enumerate(_VALUES["Safety Rating"]):
            for j, f in enumerate(_VALUES["Fuel Type"]):
                for k, w in enumerate(_VALUES["Warranty Length"]):
                    for c, country in enumerate(COUNTRIES):
                        p = laws["Safety Rating"][i] * laws["Fuel Type"][j] * laws["Warranty Length"][k] * laws[COUNTRY][c]
                        joint += p * _label_law(s, f, w, suv and country == "C2")
        by_suv[suv] = joint
    rest = np.prod([_feature_law(n, True)[_VALUES[n].index(G_PROFILE[n])]
                    for n in _KEY_ORDER if n != "Model Type"])
    q = p_suv * rest * _feature_law(COUNTRY, True)
    given_g = np.array([_label_law(G_PROFILE["Safety Rating"], G_PROFILE["Fuel Type"], G_PROFILE["Warranty Length"],
                                   c == "C2") for c in COUNTRIES])
    model_x0 = MODEL_PROBS[MODEL_TYPES.index(X0_PROFILE["Model Type"])]
    x0 = model_x0 * np.prod([_feature_law(n, False)[_VALUES[n].index(X0_PROFILE[n])]
                             for n in _KEY_ORDER if n != "Model Type"])
    return {"label": p_suv * by_suv[True] + (1 - p_suv) * by_suv[False], "label_suv": by_suv[True],
            "label_non_suv": by_suv[False],
            "country": p_suv * _feature_law(COUNTRY, True) + (1 - p_suv) * _feature_law(COUNTRY, False),
            "q": q, "label_given_gprofile": given_g, "x0": float(x0)}


# ------------------------------------------------------------------------------------------
# Configuration


class CarSection(StrictModel):
    """Family ``car``'s section: sizes, strategy, target and the bound's confidence."""

    n_rows: int = Field(3_000_000, ge=100, le=50_000_000, description="rows of the generated data set")
    N: int = Field(1_000_000, ge=2, description="training pool: the collective's n rows plus N - n base rows")
    n_test: int = Field(100_000, ge=1, description="held-out rows the success is measured on")
    strategy: Literal["feature-label", "feature-only", "unplanting"] = "feature-label"
    target: Literal["Excellent", "Good", "Average", "Poor"] = Field(
        "Excellent", description="y*: the label planted, or (unplanting) the label to unplant")
    n_est: Optional[int] = Field(None, ge=1, description="unplanting: the members' rows that estimate y^")
    delta: float = Field(0.05, gt=0.0, lt=1.0, description="the bound holds with probability >= 1 - delta")
    epsilon: float = Field(0.0, ge=0.0, lt=1.0, description="the platform's suboptimality in the bound")

    @model_validator(mode="after")
    def _sizes(self):
        if self.N + self.n_test > self.n_rows:
            raise ValueError(f"N + n_test = {self.N + self.n_test:,} exceeds n_rows = {self.n_rows:,}")
        if self.strategy == "unplanting" and self.n_est is None:
            raise ValueError("strategy 'unplanting' needs n_est (the rows that estimate y^)")
        if self.strategy != "unplanting" and self.n_est is not None:
            raise ValueError(f"n_est applies to strategy 'unplanting' only, not {self.strategy!r}")
        return self


def members(cfg) -> int:
    """n = round(alpha N)."""
    return int(round(cfg.collective.alpha * cfg.car.N))


def check_car(cfg) -> None:
    """ValueError for a car configuration that cannot run (the collective holds alpha only)."""
    moved = [f"collective.{k} (use car.{k})" for k in ("strategy", "target") if k in cfg.collective.model_fields_set]
    if moved:
        raise ValueError(f"family 'car' names its strategy and target in its own section: remove {', '.join(moved)}")
    defaults = type(cfg).model_fields
    stray = [k for k in ("n_train", "n_test") if getattr(cfg, k) != defaults[k].default]
    if stray:
        raise ValueError(f"family 'car' sets its sizes in its own section (car.N, car.n_test); remove {', '.join(stray)}")
    n, s = members(cfg), cfg.car
    if not 1 <= n < s.N:
        raise ValueError(f"collective.alpha * car.N must give 1 <= n < N, got n = {n}")
    if s.strategy == "unplanting" and n <= s.n_est:
        raise ValueError(f"unplanting needs n > n_est, got n = {n} and n_est = {s.n_est}")


def check_car_cells(cells) -> None:
    """The limits on one cell: the generated rows are held in memory (about 11 bytes each, plus
    generation temporaries of about 40)."""
    for cfg in {id(c.validated_config()): c.validated_config() for c in cells}.values():
        where = f"one cell (car, n_rows={cfg.car.n_rows:,})"
        limits.check("points", cfg.car.n_rows, where)
        limits.check("memory_mb", -(-64 * cfg.car.n_rows // 2**20), where)


# ------------------------------------------------------------------------------------------
# One cell


@dataclass(frozen=True)
class _Prepared:
    """What every cell of one (data, N, n_test) needs, computed once."""

    pool: CarData
    gpos: np.ndarray  # positions of g-profile rows in the pool
    gcode: np.ndarray  # country * 4 + label at those rows
    test_country: np.ndarray  # (5,) test rows per country
    test_label: np.ndarray
    test_u: np.ndarray  # each test row's index among the distinct test keys
    n_keys: int
    mpos: np.ndarray  # pool positions whose key is a test key
    mcode: np.ndarray  # key index * 4 + label at those positions
    star_u: np.ndarray  # index of each X* key among the test keys (-1: absent)
    x0_u: np.ndarray


@lru_cache(maxsize=6)
def dataset(n_rows: int, seed: int) -> CarData:
    """The data of a cell's seed (cached: every cell of a seed shares it)."""
    return generate(n_rows, [seed, 0xCA7])


@lru_cache(maxsize=6)
def _prepared(n_rows: int, seed: int, big_n: int, n_test: int) -> _Prepared:
    data = dataset(n_rows, seed)
    pool = CarData(*(a[:big_n] for a in (data.key, data.label, data.country, data.gprofile)))
    test = slice(big_n, big_n + n_test)
    keys, test_u = np.unique(data.key[test], return_inverse=True)
    where = np.searchsorted(keys, pool.key)
    hit = (where < len(keys)) & (keys[np.minimum(where, len(keys) - 1)] == pool.key)
    mpos = np.flatnonzero(hit)

    def index(k):
        i = np.searchsorted(keys, k)
        return np.where((i < len(keys)) & (keys[np.minimum(i, len(keys) - 1)] == k), i, -1)

    gpos = np.flatnonzero(pool.gprofile)
    return _Prepared(pool=pool, gpos=gpos, gcode=pool.country[gpos].astype(np.int64) * 4 + pool.label[gpos],
                     test_country=np.bincount(data.country[test], minlength=5), test_label=data.label[test],
                     test_u=test_u.ravel(), n_keys=len(keys), mpos=mpos,
                     mcode=where[mpos] * 4 + pool.label[mpos], star_u=index(X_STAR_KEYS), x0_u=index(X0_KEYS))


def _table(code: np.ndarray, rows: int) -> np.ndarray:
    return np.bincount(code, minlength=rows * 4).reshape(rows, 4)


def _gap(table: np.ndarray, size: int, target: int) -> np.ndarray:
    """max_{y != y*} p^(x~, y) - p^(x~, y*) from a (5, 4) count table of `size` rows."""
    return (np.delete(table, target, axis=1).max(axis=1) - table[:, target]) / size


def estimate_label(de_table: np.ndarray, target: int) -> np.ndarray:
    """y^(x~) per country: the most frequent label other than y* among the estimation rows at x~,
    scanned in tie order (first maximum wins; no counts -> the first candidate, Good for y* != Good)."""
    candidates = np.array([y for y in range(len(LABELS)) if y != target])
    return candidates[platform_predict(de_table[:, candidates])]


@dataclass(frozen=True)
class CarOutcome:
    """One cell's measurements (success on the test rows, clean accuracy) and bounds."""

    n: int
    success: float
    clean_accuracy: float
    bound: float
    bound_corrected: float
    success_se: float
    predictions: np.ndarray  # (5,) the platform's label at each X* point
    mass_hat: np.ndarray  # (5,) members' share per country (unplanting: of the m relabelled rows)
    planted_hat: np.ndarray  # (5,) members' share planted at (x~, y*) (unplanting: at (x~, y^))
    gap_hat: np.ndarray  # (5,) the estimated gap Delta(x~) the bound uses


def run_cell(section: CarSection, n: int, seed: int) -> CarOutcome:
    """Train the count platform on the modified training pool and measure success and bounds."""
    s, t = section, LABEL[section.target]
    prep = _prepared(s.n_rows, seed, s.N, s.n_test)
    pool, big_n = prep.pool, s.N
    cut = big_n - n  # base rows [0, cut), collective [cut, N)
    g_cut = np.searchsorted(prep.gpos, cut)
    base_x = _table(prep.gcode[:g_cut], 5)  # the base rows' counts at X*
    coll = slice(cut, big_n)
    coll_country, coll_label = pool.country[coll], pool.label[coll]
    country_n = np.bincount(coll_country, minlength=5)
    add_x = np.zeros((5, 4), dtype=np.int64)  # what the collective adds at X*
    add_x0 = np.zeros((5, 4), dtype=np.int64)  # ... and at x0 (feature-only)
    if s.strategy in ("feature-label", "feature-only"):
        coll_x = _table(prep.gcode[g_cut:], 5)  # the members' original rows at X*
        gap = _gap(coll_x, n, t)
        mass = country_n / n
        if s.strategy == "feature-label":
            add_x[:, t] = country_n
            bound = float(finite_sample_bound_from_estimates(country_n / n, gap, n, big_n, s.n_test, s.delta,
                                                             s.epsilon, signal_set_size=5, n_labels=4))
        else:
            star = coll_label == t
            add_x[:, t] = np.bincount(coll_country[star], minlength=5)
            add_x0 += _table(coll_country[~star].astype(np.int64) * 4 + coll_label[~star], 5)
            bound = float(feature_only_bound_from_estimates(country_n / n, add_x[:, t] / n, gap, n, big_n, s.n_test,
                                                            s.delta, s.epsilon, signal_set_size=5, n_labels=4))
        corrected, planted = bound, add_x[:, t] / n
    else:
        est = estimation_rows(seed, n, s.n_est)
        m = n - s.n_est
        gp = pool.gprofile[coll]
        gcode = coll_country.astype(np.int64) * 4 + coll_label
        de_x = _table(gcode[gp & est], 5)
        dm_x = _table(gcode[gp & ~est], 5)
        y_hat = estimate_label(de_x, t)
        gap = dm_x[:, t] / m - de_x[np.arange(5), y_hat] / s.n_est
        mass_m = np.bincount(coll_country[~est], minlength=5)
        add_x[np.arange(5), y_hat] += mass_m
        mass, planted = mass_m / m, mass_m / m
        bound, corrected = (float(unplanting_bound_from_estimates(
            mass_m / m, gap, n, s.n_est, big_n, s.n_test, s.delta, s.epsilon, signal_set_size=5, version=v))
            for v in ("as-coded", "corrected"))
    pred = platform_predict(base_x + add_x)
    hits = pred == t if s.strategy != "unplanting" else pred != t
    success = float(prep.test_country[hits].sum() / s.n_test)
    clean = _clean_accuracy(prep, cut, add_x, add_x0)
    return CarOutcome(n=n, success=success, clean_accuracy=clean, bound=bound, bound_corrected=corrected,
                      predictions=pred, success_se=math.sqrt(success * (1 - success) / s.n_test),
                      mass_hat=mass, planted_hat=planted, gap_hat=gap)


def _clean_accuracy(prep: _Prepared, cut: int, add_x: np.ndarray, add_x0: np.ndarray) -> float:
    """The platform's accuracy on the untransformed test rows: its count table at the test keys."""
    table = _table(prep.mcode[:np.searchsorted(prep.mpos, cut)], prep.n_keys)
    for where, add in ((prep.star_u, add_x), (prep.x0_u, add_x0)):
        ok = where >= 0
        table[where[ok]] += add[ok]
    pred = platform_predict(table[prep.test_u])
    return float(np.mean(pred == prep.test_label))


# ------------------------------------------------------------------------------------------
# Pillar entry


def run_car_cells(group, cfg, backend, bar) -> list[list[ResultRow]]:
    """One result row per car cell; the data of a seed is generated once and shared by its cells."""
    out = []
    for cell in group:
        v = cell.validated_config()
        s, n = v.car, members(v)
        res = run_cell(s, n, cell.seed)
        extra = {"family": "car", "series": series(s), "success_se": res.success_se,
                 "success_bound": res.bound, "success_bound_corrected": res.bound_corrected,
                 "bound_name": BOUND_NAMES[s.strategy], "n": n, "N": s.N, "n_over_N": n / s.N,
                 "n_est": float(s.n_est) if s.n_est is not None else math.nan, "target": s.target,
                 "strategy": s.strategy, "n_rows": s.n_rows, "n_test": s.n_test, "delta": s.delta,
                 "epsilon": s.epsilon, "predictions": ",".join(LABELS[p] for p in res.predictions),
                 "backend": "numpy", "device": "cpu"}
        out.append([ResultRow(experiment=cell.experiment, pillar="simulate", config=cell.config, seed=cell.seed,
                              alpha=float(v.collective.alpha), learner=v.learner.name, success=res.success,
                              clean_accuracy=res.clean_accuracy, cell_id=cell.cell_id, extra=extra)])
        bar.update(1)
    return out


BOUND_NAMES = {"feature-label": "Gauthier et al. planting bound (their Algorithm 1)",
               "feature-only": "Gauthier et al. feature-only bound (as their code computes it)",
               "unplanting": "Gauthier et al. adaptive-unplanting bound (as coded; corrected in success_bound_corrected)"}


def series(section: CarSection) -> str:
    """Curve label, e.g. 'feature-label, y*=Poor, N=1,000,000'."""
    text = f"{section.strategy}, y*={section.target}, N={section.N:,}"
    return text + (f", n_est={section.n_est:,}" if section.n_est is not None else "")


def step_positions(frame: pd.DataFrame, levels=(0.5, 0.95)) -> pd.DataFrame:
    """Per curve (series), the first n/N at which the seed-mean success, bound and corrected bound
    reach each level (NaN: never on the grid)."""
    rows = []
    for name, part in frame.groupby("series", sort=False):
        mean = part.groupby("n_over_N")[["success", "success_bound", "success_bound_corrected"]].mean().sort_index()
        row = {"series": name}
        for col, short in (("success", "success"), ("success_bound", "bound"), ("success_bound_corrected", "corrected")):
            for level in levels:
                reached = mean.index[mean[col].to_numpy() >= level]
                row[f"{short}_{level:g}"] = float(reached[0]) if len(reached) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
