"""collective_action.theory: every result derived in sympy, compiled to vectorised functions.

Importing this package never imports torch. Each derivation is cached, so the first call pays
for sympy once. Numeric functions accept floats or NumPy arrays (broadcasting); every
:class:`Formula` also evaluates torch tensors and CuPy arrays through ``Formula.numeric``.
"""

from .symbolic import Formula
from .bayes import (
    bayes_classifier,
    bayes_critical_mass,
    bayes_clean_accuracy,
    bayes_success,
    bayes_success_by_enumeration,
    hardt_constants,
    joint_gap,
    per_point_margin,
    per_point_threshold,
)
from .hardt import DEFINITIONS, critical_mass, critical_mass_formula, hardt_bound, hardt_bound_formula
from .bayes import goal_classifier
from .hardt_goals import (
    erasing_bound,
    erasing_bound_formula,
    erasing_constants,
    feature_only_bound,
    feature_only_bound_formula,
    feature_only_constants,
    population_bound,
    population_critical_mass,
    unplanting_bound,
    unplanting_bound_formula,
    unplanting_constants,
)
from .worst_case import attack, worst_case_success
from .effective_size import (
    alpha_eff,
    alpha_eff_chi2,
    alpha_eff_cvar,
    alpha_eff_groups,
    alpha_eff_jtt,
    alpha_eff_lff,
    chi2_formula,
    cvar_formula,
    jtt_crossover,
    jtt_formula,
    jtt_gain,
    lff_formula,
    weighted_risk_lemma,
)
from .finite_sample import (
    estimate_from_samples,
    finite_sample_bound,
    finite_sample_bound_from_estimates,
    finite_sample_margin,
)
from .cvar_fixed_point import (
    CvarFixedPoints,
    best_response_states,
    cvar_alpha_range,
    cvar_fixed_points,
    iterate_cvar_bayes,
)

# The Gaussian and max-margin modules are exported below.
from .gaussian import GaussianProblem, bayes_success as gaussian_bayes_success, bayes_success_closed_form as gaussian_bayes_success_closed_form, bayes_success_mc as gaussian_bayes_success_mc, hardt_constants_gaussian, jtt_collapse_upweight  # noqa: E501
from .several import (
    NOISE_KINDS,
    Collective,
    SeveralProblem,
    base_bound_formula as several_base_bound_formula,
    bounds as several_bounds,
    classifier as several_classifier,
    corrupted_margin_formula as several_corrupted_margin_formula,
    corrupted_signal_formula as several_corrupted_signal_formula,
    margin_formula as several_margin_formula,
    shares_bound_formula as several_shares_bound_formula,
    success as several_success,
    success_per_point as several_success_per_point,
    threshold_formula as several_threshold_formula,
)
from .private import (
    dp_contraction_rate,
    dp_critical_mass,
    dp_noise_floor,
    dp_success_bound,
    dp_success_bound_at_epsilon,
    dp_success_bound_formula,
    gradient_control_bound,
    noise_multiplier_for_epsilon,
)
