"""Family car (simulate/car.py): Gauthier, Bach & Jordan's car data, platform, strategies and bounds.

The population numbers below are the facts of docs/car.md §2.4 (computed there from the data's
rules); the generator and the exact computation are each held against them.
"""

from __future__ import annotations


import numpy as np
import pytest

from collective_action.experiment import load_experiment
from collective_action.experiments import experiment_dir
from collective_action.simulate import car
from collective_action.simulate.car import LABEL

# docs/car.md §2.4, labels in the order Excellent, Good, Average, Poor
SPEC_LABEL = {"label": (0.425973, 0.468153, 0.040124, 0.065750),
              "label_suv": (0.549894, 0.348512, 0.016594, 0.085),
              "label_non_suv": (0.324583, 0.566042, 0.059375, 0.05)}
SPEC_COUNTRY = (0.173, 0.173, 0.173, 0.173, 0.308)
SPEC_Q = (0.0097471, 0.0097471, 0.0097471, 0.0097471, 0.0306338)
SPEC_GIVEN_G = {"other": (0.633333, 0.316667, 0.0, 0.05), "C2": (0.6, 0.0, 0.1, 0.3)}
ORDER = [LABEL[y] for y in ("Excellent", "Good", "Average", "Poor")]


def test_exact_population_matches_the_spec():
    pop = car.population()
    for key, spec in SPEC_LABEL.items():
        np.testing.assert_allclose(pop[key][ORDER], spec, atol=2e-6)
    np.testing.assert_allclose(pop["country"], SPEC_COUNTRY, atol=1e-9)
    np.testing.assert_allclose(pop["q"], SPEC_Q, rtol=1e-5)
    np.testing.assert_allclose(pop["q"].sum(), 0.0696222, rtol=1e-5)
    given = pop["label_given_gprofile"][:, ORDER]
    for c, country in enumerate(car.COUNTRIES):
        np.testing.assert_allclose(given[c], SPEC_GIVEN_G["C2" if country == "C2" else "other"], atol=1e-6)
    assert 3.6e-9 < pop["x0"] < 3.8e-9


def _within(observed, count_total, expected, z=5.0):
    """Binomial check of observed frequencies against the spec's probabilities."""
    expected = np.asarray(expected, dtype=float)
    se = np.sqrt(expected * (1 - expected) / count_total) + 1e-12
    assert np.all(np.abs(np.asarray(observed) - expected) <= z * se), (observed, expected)


def test_generator_marginals_match_the_spec():
    data = car.generate(1_000_000, 7)
    n = len(data)
    suv = car.decode(data.key)["Model Type"] == car.SUV
    _within(np.bincount(data.label, minlength=4)[ORDER] / n, n, SPEC_LABEL["label"])
    _within(np.bincount(data.label[suv], minlength=4)[ORDER] / suv.sum(), suv.sum(), SPEC_LABEL["label_suv"])
    _within(np.bincount(data.label[~suv], minlength=4)[ORDER] / (~suv).sum(), (~suv).sum(), SPEC_LABEL["label_non_suv"])
    _within(np.bincount(data.country, minlength=5) / n, n, SPEC_COUNTRY)
    _within(np.bincount(data.country[data.gprofile], minlength=5) / n, n, SPEC_Q)
    _within(suv.mean(), n, 0.45)
    # an SUV feature with hp = 0.3 and five values: P(C5 | SUV) = 0.3 + 0.7/5 = 0.44, not 0.3
    _within((data.country[suv] == 4).mean(), suv.sum(), 0.44)
    g = data.gprofile
    for c, country in enumerate(car.COUNTRIES):
        rows = g & (data.country == c)
        _within(np.bincount(data.label[rows], minlength=4)[ORDER] / rows.sum(), rows.sum(),
                SPEC_GIVEN_G["C2" if country == "C2" else "other"])


def test_generator_is_seeded_and_keys_decode():
    a, b, c = car.generate(50_000, 3), car.generate(50_000, 3), car.generate(50_000, 4)
    assert np.array_equal(a.key, b.key) and np.array_equal(a.label, b.label)
    assert not np.array_equal(a.key, c.key)
    codes = car.decode(a.key)
    assert np.array_equal(codes[car.COUNTRY], a.country)
    in_g = np.ones(len(a), dtype=bool)
    for name, value in car.G_PROFILE.items():
        in_g &= codes[name] == car._VALUES[name].index(value)
    assert np.array_equal(in_g, a.gprofile)


def test_platform_tie_order_and_unseen_default():
    G, A, P, E = (LABEL[y] for y in ("Good", "Average", "Poor", "Excellent"))

    def counts(**kw):
        row = np.zeros(4, dtype=int)
        for name, v in kw.items():
            row[LABEL[name]] = v
        return row

    assert car.platform_predict(counts()) == G  # unseen point
    assert car.platform_predict(counts(Good=3, Average=3, Poor=3, Excellent=3)) == G
    assert car.platform_predict(counts(Average=2, Poor=2, Excellent=2)) == A
    assert car.platform_predict(counts(Poor=5, Excellent=5)) == P
    assert car.platform_predict(counts(Good=1, Excellent=2)) == E
    # y^ for unplanting Excellent: Good, Average, Poor scanned in order, Excellent never chosen
    table = np.array([counts(Excellent=9), counts(Poor=1, Average=1, Excellent=5), counts(Poor=2, Good=1),
                      counts(Good=4, Average=4), counts()])
    assert list(car.estimate_label(table, E)) == [G, A, P, G, G]


def _reference_cell(section: car.CarSection, n: int, seed: int):
    """Row-level platform: modify the members' rows, count (key, label) over the training set."""
    s, t = section, LABEL[section.target]
    data = car.dataset(s.n_rows, seed)
    rows = lambda sl: car.CarData(*(a[sl] for a in (data.key, data.label, data.country, data.gprofile)))
    base, coll = rows(slice(0, s.N - n)), rows(slice(s.N - n, s.N))
    test = rows(slice(s.N, s.N + s.n_test))
    if s.strategy == "unplanting":
        est = car.estimation_rows(seed, n, s.n_est)
        de = car.CarData(*(a[est] for a in (coll.key, coll.label, coll.country, coll.gprofile)))
        dm = car.CarData(*(a[~est] for a in (coll.key, coll.label, coll.country, coll.gprofile)))
        de_table = np.zeros((5, 4), dtype=int)
        for c in range(5):
            at = de.key == car.X_STAR_KEYS[c]
            de_table[c] = np.bincount(de.label[at], minlength=4)
        keys, labels = car.modify(dm, "unplanting", t, car.estimate_label(de_table, t))
    else:
        keys, labels = car.modify(coll, s.strategy, t)
    train_key = np.concatenate([base.key, keys])
    train_label = np.concatenate([base.label, labels])
    table = {}
    for k, y in zip(train_key.tolist(), train_label.tolist()):
        table.setdefault(k, [0, 0, 0, 0])[y] += 1

    def predict(k):
        return int(car.platform_predict(np.array(table.get(int(k), [0, 0, 0, 0]))))

    at_star = np.array([predict(k) for k in car.X_STAR_KEYS])
    pred_g = at_star[test.country]  # g(x) keeps the country
    hit = pred_g != t if s.strategy == "unplanting" else pred_g == t
    clean = np.mean([predict(k) == y for k, y in zip(test.key.tolist(), test.label.tolist())])
    return at_star, hit.mean(), clean


@pytest.mark.parametrize("strategy,target,n_est", [("feature-label", "Average", None),
                                                   ("feature-only", "Good", None),
                                                   ("unplanting", "Excellent", 300)])
def test_count_runner_equals_the_row_level_platform(strategy, target, n_est):
    section = car.CarSection(n_rows=40_000, N=20_000, n_test=5_000, strategy=strategy, target=target, n_est=n_est)
    for n in (600, 1_500, 6_000):
        out = car.run_cell(section, n, seed=11)
        at_star, success, clean = _reference_cell(section, n, 11)
        assert list(out.predictions) == list(at_star)
        assert out.success == pytest.approx(success, abs=1e-12)
        assert out.clean_accuracy == pytest.approx(clean, abs=1e-12)


def test_strategies_transform_rows_as_specified():
    data = car.generate(20_000, 5)
    t = LABEL["Poor"]
    g_codes = {name: car._VALUES[name].index(v) for name, v in car.G_PROFILE.items()}
    x0_codes = {name: car._VALUES[name].index(v) for name, v in car.X0_PROFILE.items()}

    def has(keys, codes):
        dec = car.decode(keys)
        return all(np.all(dec[name] == code) for name, code in codes.items())

    keys, labels = car.modify(data, "feature-label", t)
    assert has(keys, g_codes) and np.array_equal(car.decode(keys)[car.COUNTRY], data.country)
    assert np.all(labels == t)
    keys, labels = car.modify(data, "feature-only", t)
    own = data.label == t
    assert has(keys[own], g_codes) and has(keys[~own], x0_codes)
    assert np.array_equal(car.decode(keys)[car.COUNTRY], data.country) and np.array_equal(labels, data.label)
    y_hat = np.array([0, 2, 1, 0, 2])
    keys, labels = car.modify(data, "unplanting", LABEL["Excellent"], y_hat)
    assert has(keys, g_codes) and np.array_equal(labels, y_hat[data.country])


def test_success_is_the_test_share_of_the_countries_won():
    section = car.CarSection(n_rows=300_000, N=150_000, n_test=100_000, strategy="feature-label", target="Poor")
    data = car.dataset(section.n_rows, 2)
    test_country = data.country[section.N:section.N + section.n_test]
    shares = np.bincount(test_country, minlength=5) / section.n_test
    seen = set()
    for n in (2_000, 4_000, 6_000, 9_000, 30_000):
        out = car.run_cell(section, n, 2)
        won = out.predictions == LABEL["Poor"]
        seen.add(int(won.sum()))
        assert out.success == pytest.approx(shares[won].sum(), abs=1e-12)
    assert len(seen) >= 3  # the grid crosses the staircase, not only its ends


def _naive(out, n, big_n, strategy, n_est=None):
    """The bound without its confidence terms (R = 0): the plain pointwise condition."""
    planted = n - n_est if strategy == "unplanting" else n
    margin = (planted / big_n) * out.planted_hat - ((big_n - n) / big_n) * out.gap_hat
    return float((out.mass_hat * (margin > 0)).sum())


CASES = [("feature-label", "Average", None, (4_000, 20_000)),
         ("feature-only", "Good", None, (5_000, 40_000)),
         ("unplanting", "Excellent", 1_000, (3_000, 25_000))]


def test_bounds_hold_and_the_check_has_power():
    """300 repetitions per strategy at two n (on the success step, on the bound's step): the bound
    exceeds the measured success in at most delta of them; the bound without its Hoeffding
    terms fails far more often."""
    reps, delta = 300, 0.05
    sections = {s: car.CarSection(n_rows=200_000, N=100_000, n_test=100_000, strategy=s, target=t, n_est=e,
                                  delta=delta) for s, t, e, _ in CASES}
    fails = {(s, n, kind): 0 for s, _, _, ns in CASES for n in ns for kind in ("bound", "corrected", "naive")}
    positive = {s: 0 for s, *_ in CASES}
    for rep in range(reps):
        seed = 10_000 + rep
        for strategy, _, n_est, ns in CASES:
            for n in ns:
                out = car.run_cell(sections[strategy], n, seed)
                fails[strategy, n, "bound"] += out.success < out.bound
                fails[strategy, n, "corrected"] += out.success < out.bound_corrected
                fails[strategy, n, "naive"] += out.success < _naive(out, n, 100_000, strategy, n_est)
                positive[strategy] += out.bound > 0.2
    for strategy, _, _, ns in CASES:
        assert positive[strategy] > reps // 2, strategy  # the bound is not vacuous everywhere
        for n in ns:
            assert fails[strategy, n, "bound"] <= delta * reps, (strategy, n, fails)
            assert fails[strategy, n, "corrected"] <= delta * reps, (strategy, n, fails)
        naive = max(fails[strategy, n, "naive"] for n in ns)
        assert naive >= 4 * delta * reps, (strategy, fails)  # at least four times the allowed rate


def test_corrected_unplanting_bound_is_the_stricter_one_when_n_est_is_small():
    """R(n_est) instead of R(n): with few estimation rows the corrected bound stays lower."""
    section = car.CarSection(n_rows=200_000, N=100_000, n_test=50_000, strategy="unplanting",
                             target="Excellent", n_est=100)
    out = car.run_cell(section, 30_000, 1)
    assert out.bound_corrected < out.bound
    big = car.CarSection(n_rows=200_000, N=100_000, n_test=50_000, strategy="unplanting", target="Excellent",
                         n_est=20_000)
    out = car.run_cell(big, 60_000, 1)
    # as coded, the sum over the m relabelled rows is divided by n: the bound cannot exceed m/n
    assert out.bound <= (60_000 - 20_000) / 60_000
    assert out.bound_corrected > out.bound


def test_config_is_strict():
    from collective_action.simulate.experiment import SimulateConfig

    ok = {"family": "car", "collective": {"alpha": 0.1}, "car": {"n_rows": 10_000, "N": 5_000, "n_test": 1_000}}
    cfg = SimulateConfig.model_validate(ok)
    assert cfg.learner.name == "count-table" and car.members(cfg) == 500
    bad = [
        {**ok, "collective": {"alpha": 0.1, "strategy": "feature-only"}},
        {**ok, "collective": {"alpha": 0.1, "target": 1}},
        {**ok, "n_train": 5000},
        {**ok, "car": {**ok["car"], "n_test": 6_000}},
        {**ok, "car": {**ok["car"], "strategy": "unplanting"}},
        {**ok, "car": {**ok["car"], "n_est": 10}},
        {**ok, "car": {**ok["car"], "strategy": "unplanting", "n_est": 600}},
        {**ok, "car": {**ok["car"], "target": "Acceptable"}},
        {**ok, "car": {**ok["car"], "colour": "red"}},
        {**ok, "learner": {"name": "plug-in"}},
        {**ok, "collective": {"alpha": 0.00001}},
    ]
    for cfg in bad:
        with pytest.raises(Exception):
            SimulateConfig.model_validate(cfg)


@pytest.mark.parametrize("name", ["c6_car_planting.yaml", "c6_car_feature_only.yaml", "c6_car_planting_N.yaml",
                                  "c6_car_unplanting.yaml", "c6_car_unplanting_naive.yaml"])
def test_experiment_files_run_quick(name):
    from collective_action.simulate import run

    exp = load_experiment(experiment_dir() / name)
    full = exp.cells(quick=False)
    assert len({c.seed for c in full}) >= 5
    frame = run(exp, quick=True, backend="numpy")
    assert len(frame) == len(exp.cells(quick=True))
    for col in ("success_bound", "success_bound_corrected", "n", "N", "n_over_N", "n_est", "target", "strategy",
                "success_se", "clean_accuracy"):
        assert col in frame.columns
    assert frame["success"].between(0, 1).all() and frame["clean_accuracy"].between(0, 1).all()
    assert (frame["n_over_N"] - frame["alpha"]).abs().max() < 1e-3
    steps = car.step_positions(frame)
    assert len(steps) == frame["series"].nunique()
