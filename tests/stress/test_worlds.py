"""The Gaussian worlds' theory engine against the theory pillar, and the knobs the simulator lacks."""

from __future__ import annotations

import numpy as np
import pytest

from collective_action import theory
from collective_action.simulate.gaussian import make_problem
from collective_action.simulate.stress_worlds import make_world, sample_world_batch


def _signal(**kw):
    base = dict(placement="free", offset=0, n_coords=1, amplitude=2.0, direction=1, mode="additive",
                jitter=0.0, target=1, plant_prob=1.0)
    base.update(kw)
    return base


def _world(**kw):
    args = dict(n_classes=2, d_class=2, separation=2.0, sigma=1.0, n_free=2, tau=1.0, priors=None,
                label_noise=0.0, signals=[_signal()])
    args.update(kw)
    return make_world(**args)


@pytest.mark.parametrize("alpha", [0.02, 0.2])
def test_world_bayes_success_matches_closed_form(alpha):
    world = _world()
    problem = make_problem(n_classes=2, d_class=2, separation=2.0, sigma=1.0, n_free=2, tau=1.0, placement="free",
                           n_coords=1, amplitude=2.0, mode="additive", jitter=0.0, target=1, strategy="feature-label")
    s, se = world.bayes_success_mc([alpha], 0, 100_000)
    exact = theory.gaussian_bayes_success_closed_form(problem, alpha)
    assert abs(s - exact) < 4 * se
    gap, gap_se = world.integrated_gap_mc([alpha], 0, 100_000)
    delta_bar, xi = theory.hardt_constants_gaussian(problem)
    assert abs(gap - delta_bar * xi) < 4 * gap_se


def test_label_noise_and_priors_enter_the_base_density():
    world = _world(priors=[0.8, 0.2], label_noise=0.3)
    T = world.noise_matrix()
    assert np.allclose(T.sum(axis=1), 1) and np.isclose(T[0, 1], 0.3)
    x, y, k = world.sample_base(200_000, np.random.default_rng(0))
    assert abs((k == 1).mean() - 0.2) < 0.005
    assert abs((y != k).mean() - 0.3) < 0.005
    # P0(y | x) from the density equals the empirical label frequency near a point
    near = np.abs(x[:, 0] - 0.0) < 0.05
    emp = (y[near] == 1).mean()
    pt = np.zeros((1, world.dim))
    jp = np.exp(world.log_base_joint(pt))[0]
    assert abs(emp - jp[1] / jp.sum()) < 0.03


def test_label_noise_lowers_the_gap_and_the_other_collective_raises_it():
    clean = _world().integrated_gap_mc([0.1], 0, 50_000)[0]
    noisy = _world(label_noise=0.4).integrated_gap_mc([0.1], 0, 50_000)[0]
    assert noisy < clean  # noisy labels blur the base posterior: less for the collective to beat
    rival = _world(signals=[_signal(), _signal(target=0)])  # same signal, rival target
    assert rival.integrated_gap_mc([0.1, 0.2], 0, 50_000)[0] > clean + 0.05


def test_noisy_planting_and_two_collectives_in_samples():
    world = _world(signals=[_signal(plant_prob=0.3), _signal(offset=1, target=0)])
    alphas = np.array([[0.2, 0.1]] * 4)
    batch, planted, nominal = sample_world_batch(world, alphas, np.arange(4), 5000, 100)
    assert np.allclose(nominal, [[0.2, 0.1]] * 4)
    assert abs(planted[:, 0].mean() - 0.06) < 0.01 and np.allclose(planted[:, 1], 0.1)
    assert np.allclose(batch.member.mean(axis=1), 0.2)
    assert batch.X_signal.shape == (4, 200, world.dim)
    # collective 1's test points carry its pattern on its own coordinate
    assert batch.X_signal[:, 100:, 3].mean() > 1.5 and abs(batch.X_signal[:, :100, 3].mean()) < 0.5


@pytest.mark.parametrize("K, eta", [(2, 0.3), (5, 0.5), (4, 0.0)])
def test_noisy_base_density_equals_the_direct_sum_over_classes(K, eta):
    from scipy import special

    world = _world(n_classes=K, d_class=K, label_noise=eta, priors=np.arange(1, K + 1) / (K * (K + 1) / 2))
    x, _, _ = world.sample_base(64, np.random.default_rng(1))
    comp = world._log_normal(x, world.full_means, world.scales) + np.log(world.priors)
    with np.errstate(divide="ignore"):
        direct = special.logsumexp(comp[:, :, None] + np.log(world.noise_matrix())[None], axis=1)
    assert np.allclose(world.log_base_joint(x), direct, atol=1e-10)
