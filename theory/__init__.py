"""collective_action.theory: every result derived in sympy, compiled to vectorised functions.

Importing this package never imports torch. Each derivation is cached, so the first call pays
for sympy once. Numeric functions accept floats or NumPy arrays (broadcasting); every
:class:`Formula` also evaluates torch tensors and CuPy arrays through ``Formula.numeric``.

The names below are loaded on first use (PEP 562), so ``import collective_action.theory`` and a
module that needs one light function (the alpha_eff front ends, theory/effective_size_numeric.py)
do not import sympy and SciPy's integrators.
"""

from __future__ import annotations

import importlib
import importlib.util

#: exported name -> (submodule, attribute)
_EXPORTS = {
    "Formula": ("symbolic", "Formula"),
    "bayes_classifier": ("bayes", "bayes_classifier"),
    "bayes_critical_mass": ("bayes", "bayes_critical_mass"),
    "bayes_clean_accuracy": ("bayes", "bayes_clean_accuracy"),
    "bayes_success": ("bayes", "bayes_success"),
    "bayes_success_by_enumeration": ("bayes", "bayes_success_by_enumeration"),
    "hardt_constants": ("bayes", "hardt_constants"),
    "joint_gap": ("bayes", "joint_gap"),
    "per_point_margin": ("bayes", "per_point_margin"),
    "per_point_threshold": ("bayes", "per_point_threshold"),
    "DEFINITIONS": ("hardt", "DEFINITIONS"),
    "critical_mass": ("hardt", "critical_mass"),
    "critical_mass_formula": ("hardt", "critical_mass_formula"),
    "hardt_bound": ("hardt", "hardt_bound"),
    "hardt_bound_formula": ("hardt", "hardt_bound_formula"),
    "goal_classifier": ("bayes", "goal_classifier"),
    "erasing_bound": ("hardt_goals", "erasing_bound"),
    "erasing_bound_formula": ("hardt_goals", "erasing_bound_formula"),
    "erasing_constants": ("hardt_goals", "erasing_constants"),
    "feature_only_bound": ("hardt_goals", "feature_only_bound"),
    "feature_only_bound_formula": ("hardt_goals", "feature_only_bound_formula"),
    "feature_only_constants": ("hardt_goals", "feature_only_constants"),
    "population_bound": ("hardt_goals", "population_bound"),
    "population_critical_mass": ("hardt_goals", "population_critical_mass"),
    "unplanting_bound": ("hardt_goals", "unplanting_bound"),
    "unplanting_bound_formula": ("hardt_goals", "unplanting_bound_formula"),
    "unplanting_constants": ("hardt_goals", "unplanting_constants"),
    "attack": ("worst_case", "attack"),
    "worst_case_success": ("worst_case", "worst_case_success"),
    "alpha_eff": ("effective_size_numeric", "alpha_eff"),
    "alpha_eff_chi2": ("effective_size_numeric", "alpha_eff_chi2"),
    "alpha_eff_cvar": ("effective_size_numeric", "alpha_eff_cvar"),
    "alpha_eff_groups": ("effective_size_numeric", "alpha_eff_groups"),
    "alpha_eff_jtt": ("effective_size_numeric", "alpha_eff_jtt"),
    "alpha_eff_lff": ("effective_size_numeric", "alpha_eff_lff"),
    "chi2_formula": ("effective_size", "chi2_formula"),
    "cvar_formula": ("effective_size", "cvar_formula"),
    "jtt_crossover": ("effective_size_numeric", "jtt_crossover"),
    "jtt_formula": ("effective_size", "jtt_formula"),
    "jtt_gain": ("effective_size", "jtt_gain"),
    "lff_formula": ("effective_size", "lff_formula"),
    "weighted_risk_lemma": ("effective_size", "weighted_risk_lemma"),
    "estimate_from_samples": ("finite_sample", "estimate_from_samples"),
    "finite_sample_bound": ("finite_sample", "finite_sample_bound"),
    "finite_sample_bound_from_estimates": ("finite_sample", "finite_sample_bound_from_estimates"),
    "finite_sample_margin": ("finite_sample", "finite_sample_margin"),
    "CvarFixedPoints": ("cvar_fixed_point", "CvarFixedPoints"),
    "best_response_states": ("cvar_fixed_point", "best_response_states"),
    "cvar_alpha_range": ("cvar_fixed_point", "cvar_alpha_range"),
    "cvar_fixed_points": ("cvar_fixed_point", "cvar_fixed_points"),
    "iterate_cvar_bayes": ("cvar_fixed_point", "iterate_cvar_bayes"),
    "GaussianProblem": ("gaussian", "GaussianProblem"),
    "gaussian_bayes_success": ("gaussian", "bayes_success"),
    "gaussian_bayes_success_closed_form": ("gaussian", "bayes_success_closed_form"),
    "gaussian_bayes_success_mc": ("gaussian", "bayes_success_mc"),
    "hardt_constants_gaussian": ("gaussian", "hardt_constants_gaussian"),
    "jtt_collapse_upweight": ("gaussian", "jtt_collapse_upweight"),
    "NOISE_KINDS": ("several", "NOISE_KINDS"),
    "Collective": ("several", "Collective"),
    "SeveralProblem": ("several", "SeveralProblem"),
    "several_base_bound_formula": ("several", "base_bound_formula"),
    "several_bounds": ("several", "bounds"),
    "several_classifier": ("several", "classifier"),
    "several_corrupted_margin_formula": ("several", "corrupted_margin_formula"),
    "several_corrupted_signal_formula": ("several", "corrupted_signal_formula"),
    "several_margin_formula": ("several", "margin_formula"),
    "several_shares_bound_formula": ("several", "shares_bound_formula"),
    "several_success": ("several", "success"),
    "several_success_per_point": ("several", "success_per_point"),
    "several_threshold_formula": ("several", "threshold_formula"),
    "dp_contraction_rate": ("private", "dp_contraction_rate"),
    "dp_critical_mass": ("private", "dp_critical_mass"),
    "dp_noise_floor": ("private", "dp_noise_floor"),
    "dp_success_bound": ("private", "dp_success_bound"),
    "dp_success_bound_at_epsilon": ("private", "dp_success_bound_at_epsilon"),
    "dp_success_bound_formula": ("private", "dp_success_bound_formula"),
    "gradient_control_bound": ("private", "gradient_control_bound"),
    "noise_multiplier_for_epsilon": ("private", "noise_multiplier_for_epsilon"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)  # theory.bayes etc., as when all were eager
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
