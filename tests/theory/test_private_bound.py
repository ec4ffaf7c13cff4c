"""The DP-SGD bound of Solanki et al. (2025) in theory/private.py: each derivation step, the limits
the paper implies, and a check against DP-SGD runs in the setting the bound is stated for."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from sympy.stats import E as expectation
from sympy.stats import Normal, variance

from collective_action.errors import InputError
from collective_action.theory import (
    dp_contraction_rate,
    dp_critical_mass,
    dp_noise_floor,
    dp_success_bound,
    dp_success_bound_at_epsilon,
    dp_success_bound_formula,
    gradient_control_bound,
    noise_multiplier_for_epsilon,
)
from collective_action.theory import private as P

# --------------------------------------------------------------------------- the derivation


@pytest.mark.parametrize("n_steps", range(1, 7))
def test_the_closed_form_error_is_the_iterated_dp_sgd_recursion(n_steps):
    recursion, closed = P.unrolled_error(n_steps)
    assert sp.expand(recursion - closed) == 0


def test_the_accumulated_noise_has_variance_eta_squared_times_the_weight_sum():
    # three steps of independent N(0, s^2) noise, weighted as in the closed form
    s = sp.Symbol("s", positive=True)
    n_steps = 3
    nus = [Normal(f"nu{t}", 0, s) for t in range(n_steps)]
    _, closed = P.unrolled_error(n_steps)
    noise_part = closed.subs(sp.Symbol("e_0"), 0).subs({sp.Symbol(f"nu_{t}"): nus[t] for t in range(n_steps)})
    want = P.eta**2 * s**2 * P.noise_weight_cases()[0].subs(P.steps, n_steps)
    assert sp.simplify(variance(noise_part) - want) == 0


def test_the_weight_sum_is_the_geometric_series_and_T_at_rho_one():
    S = P.noise_weight_sum()
    for n_steps in range(1, 6):
        explicit = sum(P.rho**(2 * k) for k in range(n_steps))
        assert sp.simplify(S.subs(P.steps, n_steps) - explicit) == 0
    assert S.subs(P.rho, 1) == P.steps
    generic, at_one = P.noise_weight_cases()
    assert sp.limit(generic, P.rho, 1, "-") == at_one == P.steps


def test_the_no_pull_case_is_the_limit_of_the_pull_case_and_torch_evaluates_both():
    tiny = dp_success_bound(1.0, [1e-9, 0.0], 50, 0.5, 2.0, 1.0, 6, 0.05, 10)
    assert tiny[0] == pytest.approx(tiny[1], rel=1e-6)
    torch = pytest.importorskip("torch")
    # the formula's order: R_0, eta, B, T, sigma, C, L, d, delta
    args = [1.0, 0.5, 0.05, 200.0, 8.0, 1.0, 200.0, 5.0, 0.05]
    got = dp_success_bound_formula(True).numeric(*(torch.tensor([a], dtype=torch.float64) for a in args))
    assert isinstance(got, torch.Tensor)
    assert float(got[0]) == pytest.approx(dp_success_bound(1.0, 0.05, 200, 0.5, 8.0, 1.0, 5, 0.05, 200.0))


def test_the_gaussian_norm_radius():
    # E||Z||^2 = d for a standard normal vector (Jensen then gives E||Z|| <= sqrt(d)) ...
    z = Normal("z", 0, 1)
    assert expectation(z**2) == 1
    # ... and the tail excess t solves exp(-t^2/2) = delta
    t = P.gaussian_tail_radius()
    assert sp.simplify(sp.exp(-t**2 / 2) - P.fail) == 0


def test_without_noise_the_bound_is_theorem_1s():
    private = dp_success_bound_formula(True).expr
    assert sp.simplify(private.subs(P.sigma, 0) - (-(1 - P.eta * P.rate)**P.steps * P.distance0)) == 0
    args = dict(distance=1.3, contraction_rate=0.07, steps_=50, lr=0.4)
    assert dp_success_bound(**args, noise_multiplier=0.0, max_grad_norm=1.0, dimension=7) == pytest.approx(
        gradient_control_bound(**args), rel=1e-12)


def test_the_bound_is_linear_in_sigma_times_clip_over_batch():
    expr = dp_success_bound_formula(True).expr
    noise = sp.simplify(expr - expr.subs(P.sigma, 0))
    assert sp.simplify(noise.subs(P.sigma, 2 * P.sigma) - 2 * noise) == 0
    assert sp.simplify(noise.subs({P.clip: 3 * P.clip, P.batch: 3 * P.batch}) - noise) == 0


def test_the_bound_rises_with_the_contraction_rate_symbolically_and_numerically():
    assert P.bound_increases_with_rate()
    rates = np.linspace(0.0, 2.0, 41)       # eta B from 0 to 1
    values = dp_success_bound(1.0, rates, 60, 0.5, 2.0, 1.0, 10, 0.05, 20)
    assert np.all(np.diff(values) > 0)


def test_the_noise_floor_is_the_bound_at_rho_zero_and_no_rate_beats_it():
    lr, sigma, clip, d, fail, L = 0.5, 3.0, 1.0, 10, 0.05, 50
    floor = dp_noise_floor(lr, sigma, clip, d, fail, L)
    assert floor == pytest.approx(-(sigma * clip / L) * lr * (math.sqrt(d) + math.sqrt(2 * math.log(1 / fail))))
    values = dp_success_bound(2.0, np.linspace(0.0, 1 / lr, 30), 100, lr, sigma, clip, d, fail, L)
    assert np.all(values <= floor + 1e-15)
    assert values[-1] == pytest.approx(floor)


def test_contraction_rate_derivation_and_its_monotonicity():
    B = P.dp_contraction_rate_formula().expr
    assert sp.simplify(B * P.radius + (1 - P.alpha) * P.base_grad - P.alpha * P.clip) == 0
    assert sp.diff(B, P.alpha).is_positive and sp.diff(B, P.clip).is_positive
    inverse = P.dp_share_for_rate_formula().expr
    assert sp.simplify(B.subs(P.alpha, inverse) - P.rate) == 0
    # below G / (C + G) the clip leaves no guaranteed pull; above, the cap 1/lr binds eventually
    assert dp_contraction_rate(0.05, 1.0, 0.1, 2.0) == 0.0
    assert dp_contraction_rate(0.99, 1.0, 0.0, 0.1, lr=0.5) == pytest.approx(2.0)


# --------------------------------------------------------------------------- what the paper implies

_SETTING = dict(distance=1.0, steps_=200, lr=0.5, max_grad_norm=1.0, dimension=5, sample_rate=1.0,
                delta=1e-5, batch_size=200)


def test_epsilon_to_infinity_recovers_the_non_private_bound():
    rate = 0.05
    epsilons = np.array([1.0, 10.0, 100.0, 1000.0])
    values = dp_success_bound_at_epsilon(epsilons, contraction_rate=rate, **_SETTING)
    limit = gradient_control_bound(1.0, rate, 200, 0.5)
    gaps = limit - values
    assert np.all(gaps > 0) and np.all(np.diff(gaps) < 0)    # below the limit, approaching it
    # The gap is linear in sigma, and sigma(epsilon) -> 0 like 1/sqrt(epsilon): with q = 1, T Gaussian
    # steps have Renyi DP T a / (2 sigma^2) at order a > 1, and at this delta the accountant's
    # conversion adds between 0 and log(1/delta)/(a - 1); order 2 is among its orders. So T / (2 sigma^2) <= epsilon <= T / sigma^2
    # + log(1/delta), i.e. sqrt(T / (2 eps)) <= sigma <= sqrt(T / (eps - log(1/delta))).
    T, privacy_delta = 200, 1e-5
    sigmas = np.array([noise_multiplier_for_epsilon(e, sample_rate=1.0, steps_=T, delta=privacy_delta)
                       for e in epsilons])
    assert np.all(sigmas >= np.sqrt(T / (2 * epsilons)) * (1 - 1e-6))
    large = epsilons > math.log(1 / privacy_delta)
    assert np.all(sigmas[large] <= np.sqrt(T / (epsilons[large] - math.log(1 / privacy_delta))))
    np.testing.assert_allclose(gaps, gaps[0] / sigmas[0] * sigmas, rtol=1e-9)
    assert dp_success_bound_at_epsilon(math.inf, contraction_rate=rate, **_SETTING) == pytest.approx(limit)


def test_the_bound_rises_with_epsilon_and_with_alpha():
    values = dp_success_bound_at_epsilon(np.array([0.5, 1.0, 3.0, 10.0]), contraction_rate=0.05, **_SETTING)
    assert np.all(np.diff(values) > 0)
    rates = dp_contraction_rate(np.linspace(0.1, 0.6, 11), 1.0, 0.05, 2.0, lr=0.5)
    by_alpha = dp_success_bound(1.0, rates, 200, 0.5, 8.0, 1.0, 5, 0.05, 200)
    assert np.all(np.diff(by_alpha) > 0)


def test_the_clip_has_competing_influences():
    # C raises B(alpha, C) (more pull) and the noise sigma C (more noise): without noise a larger clip
    # only helps; with the rate capped at 1/lr, it only hurts.
    clips = np.array([0.5, 1.0, 2.0])
    rates = dp_contraction_rate(0.3, clips, 0.0, 4.0, lr=0.5)
    quiet = dp_success_bound(1.0, rates, 20, 0.5, 0.0, clips, 5)
    noisy_capped = dp_success_bound(1.0, np.full(3, 2.0), 20, 0.5, 1.0, clips, 5)
    assert np.all(np.diff(quiet) > 0) and np.all(np.diff(noisy_capped) < 0)


def test_the_critical_mass_round_trips_and_rises_as_privacy_tightens():
    common = dict(distance=1.0, steps_=200, lr=0.5, max_grad_norm=1.0, dimension=5, base_gradient=0.01,
                  radius_=2.0, batch_size=200)
    alphas = [dp_critical_mass(0.5, noise_multiplier=s, **common) for s in (0.0, 4.0, 8.0, 16.0)]
    assert all(np.isfinite(alphas)) and np.all(np.diff(alphas) > 0)
    B = dp_contraction_rate(alphas[2], 1.0, 0.01, 2.0)
    assert dp_success_bound(1.0, B, 200, 0.5, 8.0, 1.0, 5, 0.05, 200) == pytest.approx(-0.5, abs=1e-9)
    # a target inside the noise floor is promised to no collective
    floor = dp_noise_floor(0.5, 16.0, 1.0, 5, 0.05, 200)
    assert dp_critical_mass(-floor * 0.9, noise_multiplier=16.0, **common) == math.inf


def test_bad_inputs_are_refused():
    with pytest.raises(InputError):
        dp_success_bound(1.0, 3.0, 10, 0.5, 1.0, 1.0, 5)        # eta B > 1
    with pytest.raises(InputError):
        dp_success_bound(1.0, 0.1, 10.5, 0.5, 1.0, 1.0, 5)      # fractional steps
    with pytest.raises(InputError):
        noise_multiplier_for_epsilon(0.0, sample_rate=1.0, steps_=10, delta=1e-5)


def test_the_accountant_inversion_matches_the_simulators_dp_sgd_rows():
    from collective_action.simulate import run

    spec = {"name": "dp-bound", "pillar": "simulate", "seeds": 1,
            "config": {"family": "gaussian", "collective": {"alpha": 0.1, "target": 1},
                       "learner": {"name": "dp-sgd", "params": {"steps": 60, "lr": 0.5, "batch_size": 50,
                                                                 "max_grad_norm": 1.0, "noise_multiplier": 1.0}},
                       "n_train": 400, "n_test": 200,
                       "gaussian": {"separation": 4.0, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 3.0}}},
            "grid": {"learner.params.noise_multiplier": [1.0, 4.0]}}
    df = run(spec, backend="numpy")
    for _, row in df.iterrows():
        sigma = noise_multiplier_for_epsilon(row["dp_epsilon"], sample_rate=row["dp_sample_rate"],
                                             steps_=int(row["dp_steps"]), delta=row["dp_delta"])
        assert sigma == pytest.approx(row["dp_noise_multiplier"], rel=1e-4)


# --------------------------------------------------------------------------- the setting it is stated for


def _clip_factor(residual, x_norm, clip):
    """Opacus-style clip factor of squared-loss gradients residual * x, whose norm is |residual| |x|."""
    return np.minimum(1.0, clip / np.maximum(np.abs(residual) * x_norm, 1e-300))


def steer_dp_gd(*, runs, n_members, steps, lr, clip, sigma, rate, target, base_x, base_y, seed):
    """Full-batch DP-GD on least squares, ``runs`` independent noise draws at once.

    Each step the members report one point (x, y) whose squared-loss gradient is
    v = (B (theta - theta*) - (1 - alpha) gbar_0) / alpha, gbar_0 the base's mean clipped gradient
    (x = v / |v|, y = theta.x - |v|): the platform clips it like every other point, adds
    N(0, (sigma C)^2) to the gradient sum and divides by n. Returns the final errors theta_T - theta*,
    the largest member gradient norm over the clip, and the largest distance to theta* on the way.
    """
    rng = np.random.default_rng(seed)
    n_base, dim = base_x.shape
    n = n_base + n_members
    share = n_members / n
    base_norm = np.linalg.norm(base_x, axis=1)
    theta = np.zeros((runs, dim))
    worst_member, farthest = 0.0, 0.0
    for _ in range(steps):
        residual = theta @ base_x.T - base_y                                  # (runs, n_base)
        base_sum = (residual * _clip_factor(residual, base_norm, clip)) @ base_x
        want = (rate * (theta - target) - (1 - share) * base_sum / n_base) / share
        size = np.linalg.norm(want, axis=1)
        x_member = want / np.maximum(size, 1e-300)[:, None]                   # |x| = 1
        y_member = np.sum(theta * x_member, axis=1) - size
        r_member = np.sum(theta * x_member, axis=1) - y_member               # = |v|: the gradient is v
        worst_member = max(worst_member, float(np.max(np.abs(r_member) / clip)))
        member_grad = (r_member * _clip_factor(r_member, 1.0, clip))[:, None] * x_member
        noisy = base_sum + n_members * member_grad + rng.normal(scale=sigma * clip, size=(runs, dim))
        theta = theta - lr * noisy / n
        farthest = max(farthest, float(np.max(np.linalg.norm(theta - target, axis=1))))
    return theta - target, worst_member, farthest


def test_dp_gd_runs_in_the_stated_setting_never_fall_below_the_bound_beyond_sampling_error():
    from collective_action.algorithms.privacy import privacy_spent

    rng = np.random.default_rng(7)
    dim, n_base, n_members, steps, lr, clip, sigma, fail = 5, 180, 20, 200, 0.5, 1.0, 8.0, 0.05
    base_x = rng.normal(scale=0.05, size=(n_base, dim))
    base_y = base_x @ rng.normal(size=dim) + rng.normal(scale=0.05, size=n_base)
    target = np.ones(dim) / math.sqrt(dim)                       # ||theta_0 - theta*|| = 1
    radius = 2.0                                                 # the iterates must stay this close
    # G: every base point's clipped gradient norm bounded for |theta| <= |theta*| + R, averaged
    theta_max = np.linalg.norm(target) + radius
    xs = np.linalg.norm(base_x, axis=1)
    G = float(np.mean(np.minimum(clip, (theta_max * xs + np.abs(base_y)) * xs)))
    alpha = n_members / (n_base + n_members)
    rate = dp_contraction_rate(alpha, clip, G, radius, lr=lr)
    assert rate > 0

    runs = 2000
    errors, worst_member, farthest = steer_dp_gd(
        runs=runs, n_members=n_members, steps=steps, lr=lr, clip=clip, sigma=sigma,
        rate=rate, target=target, base_x=base_x, base_y=base_y, seed=11)
    # the bound's premises held in every run: the members' gradients passed the clip, iterates stayed in R
    assert worst_member <= 1.0 and farthest <= radius
    success = -np.linalg.norm(errors, axis=1)
    bound = dp_success_bound(1.0, rate, steps, lr, sigma, clip, dim, fail, n_base + n_members)
    allowed = fail + 3 * math.sqrt(fail * (1 - fail) / runs)    # delta plus three binomial s.e.
    below = float(np.mean(success < bound))
    assert below <= allowed
    # and it has teeth: without the noise term (Theorem 1 applied to DP-SGD) most runs break it,
    # and half the noise term already fails the 1 - delta guarantee
    theorem_1 = gradient_control_bound(1.0, rate, steps, lr)
    half_noise = theorem_1 + (bound - theorem_1) / 2
    assert np.mean(success < theorem_1) > 0.5 and np.mean(success < half_noise) > allowed
    epsilon = privacy_spent(noise_multiplier=sigma, sample_rate=1.0, steps=steps, delta=1e-5)
    print(f"\nstated setting: alpha={alpha:.2f} B={rate:.4f} G={G:.4f} sigma={sigma} eps={epsilon:.2f} "
          f"(delta 1e-5) bound={bound:.4f} theorem1={theorem_1:.4f} success median={np.median(success):.4f} "
          f"5%-quantile={np.quantile(success, fail):.4f} below-bound={below:.4f} "
          f"below-half-noise={np.mean(success < half_noise):.3f}")
