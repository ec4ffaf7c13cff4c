"""`collective-action theory ...`: bounds, critical masses and effective sizes from the theory.

Every command prints a number (``--json``: one JSON object) or, with ``--latex``, the derived
formula instead. Bad input exits with code 2 and one line on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from collective_action.errors import InputError
from collective_action.cli.output import JSON_OPTION, LATEX_OPTION, emit

theory_app = typer.Typer(help="Theory: Hardt bounds, critical mass, alpha_eff, exact success.",
                         no_args_is_help=True)
alpha_eff_app = typer.Typer(help="Effective collective size alpha_eff of a reweighting learner.",
                            no_args_is_help=True)
theory_app.add_typer(alpha_eff_app, name="alpha-eff")

DEFINITION_HELP = "Meaning of eps-suboptimal: contamination | tv."
# Options shared by several commands
ALPHA_OPTION = typer.Option(None, "--alpha", help="Collective size in (0, 1).")
DELTA_OPTION = typer.Option(None, "--delta", help="Hardt's Delta in [0, 1].")
XI_OPTION = typer.Option(None, "--xi", help="Hardt's xi = P0(X*) in [0, 1].")
EPSILON_OPTION = typer.Option(0.0, "--epsilon", help="Learner suboptimality in [0, 1).")
DEFINITION_OPTION = typer.Option("contamination", "--definition", help=DEFINITION_HELP)


def _need(**values) -> None:
    for name, value in values.items():
        if value is None:
            raise InputError(f"missing option --{name.replace('_', '-')}")


def _print_latex(lhs: str, formula, as_json: bool, relation: str = "=") -> None:
    text = formula.latex(lhs, relation)
    if as_json:
        typer.echo(json.dumps({"latex": text, "assumptions": list(formula.assumptions)}))
    else:
        typer.echo(text)


@theory_app.command("bound")
def bound_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    delta: Optional[float] = DELTA_OPTION,
    xi: Optional[float] = XI_OPTION,
    epsilon: float = EPSILON_OPTION,
    definition: str = DEFINITION_OPTION,
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """Hardt's lower bound on success (may be negative: then it says nothing)."""
    from collective_action.theory.hardt import hardt_bound, hardt_bound_formula, DEFINITIONS
    from collective_action.errors import check_choice, check_epsilon

    check_choice("definition", definition, DEFINITIONS)
    check_epsilon(epsilon)
    if latex:
        _print_latex(r"S(\alpha)", hardt_bound_formula(definition, epsilon > 0), as_json, r"\geq")
        return
    _need(alpha=alpha, delta=delta, xi=xi)
    value = hardt_bound(alpha, delta, xi, epsilon, definition)
    emit({"success_lower_bound": value, "alpha": alpha, "delta": delta, "xi": xi,
          "epsilon": epsilon, "definition": definition}, as_json, "Hardt lower bound on success")


@theory_app.command("critical-mass")
def critical_mass_cmd(
    delta: Optional[float] = DELTA_OPTION,
    xi: Optional[float] = XI_OPTION,
    target: Optional[float] = typer.Option(None, "--target", help="Target success S_t in (0, 1]."),
    epsilon: float = EPSILON_OPTION,
    definition: str = DEFINITION_OPTION,
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """Smallest alpha whose bound reaches the target (inf: unreachable with alpha < 1)."""
    from collective_action.theory.hardt import critical_mass, critical_mass_formula, DEFINITIONS
    from collective_action.errors import check_choice, check_epsilon

    check_choice("definition", definition, DEFINITIONS)
    check_epsilon(epsilon)
    if latex:
        _print_latex(r"\alpha^*", critical_mass_formula(definition, epsilon > 0), as_json)
        return
    _need(delta=delta, xi=xi, target=target)
    value = critical_mass(delta, xi, target, epsilon, definition)
    emit({"alpha_star": value, "delta": delta, "xi": xi, "target": target, "epsilon": epsilon,
          "definition": definition}, as_json, "Critical mass alpha*")


# Every alpha-eff command: --alpha and the measured quantities its formula needs, or --latex.


def _measured(flag: str, help: str):
    return typer.Option(None, flag, help=help)


def _alpha_eff(title: str, formula, compute, as_json: bool, latex: bool, **inputs) -> None:
    """Print the derived formula (``--latex``) or alpha_eff = compute(*inputs) with its inputs."""
    if latex:
        _print_latex(r"\alpha_{\mathrm{eff}}", formula(), as_json)
        return
    _need(**inputs)
    emit({"alpha_eff": compute(*inputs.values()), **inputs}, as_json, title)


@alpha_eff_app.command("jtt")
def jtt_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    upweight: Optional[float] = _measured("--upweight", "JTT's lambda >= 1."),
    collective_error: Optional[float] = _measured("--collective-error",
                                                  "e*: share of collective points in stage-1 errors."),
    base_error: Optional[float] = _measured("--base-error", "e0: share of base points in stage-1 errors."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """JTT: alpha_eff = alpha (1+(lambda-1)e*) / (alpha(1+(lambda-1)e*) + (1-alpha)(1+(lambda-1)e0))."""
    from collective_action.theory.effective_size import alpha_eff_jtt, jtt_formula

    _alpha_eff("JTT alpha_eff", jtt_formula, alpha_eff_jtt, as_json, latex, alpha=alpha,
               upweight=upweight, collective_error=collective_error, base_error=base_error)


@alpha_eff_app.command("cvar")
def cvar_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    beta: Optional[float] = _measured("--beta", "CVaR level in (0, 1]."),
    tail_share: Optional[float] = _measured("--tail-share", "q*: share of the collective's points in the beta-tail."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """CVaR-DRO: alpha_eff = alpha q* / beta (weights fixed at a given model)."""
    from collective_action.theory.effective_size import alpha_eff_cvar, cvar_formula

    _alpha_eff("CVaR alpha_eff", cvar_formula, alpha_eff_cvar, as_json, latex, alpha=alpha, beta=beta,
               tail_share=tail_share)


@alpha_eff_app.command("chi2")
def chi2_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    collective_excess: Optional[float] = _measured("--collective-excess",
                                                   "Mean (loss - eta)_+ over collective points."),
    base_excess: Optional[float] = _measured("--base-excess", "Mean (loss - eta)_+ over base points."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """chi-square DRO: the weighted-risk lemma with weights proportional to (loss - eta)_+."""
    from collective_action.theory.effective_size import alpha_eff_chi2, chi2_formula

    _alpha_eff("chi-square DRO alpha_eff", chi2_formula, alpha_eff_chi2, as_json, latex, alpha=alpha,
               collective_excess=collective_excess, base_excess=base_excess)


@alpha_eff_app.command("lff")
def lff_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    collective_weight: Optional[float] = _measured("--collective-weight", "Mean LfF weight W over collective points."),
    base_weight: Optional[float] = _measured("--base-weight", "Mean LfF weight W over base points."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """LfF: the weighted-risk lemma with the mean LfF weights of both groups."""
    from collective_action.theory.effective_size import alpha_eff_lff, lff_formula

    _alpha_eff("LfF alpha_eff", lff_formula, alpha_eff_lff, as_json, latex, alpha=alpha,
               collective_weight=collective_weight, base_weight=base_weight)


@alpha_eff_app.command("general")
def general_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    collective_weight: Optional[float] = _measured("--collective-weight",
                                                   "E_{P*}[w], mean weight of collective points."),
    base_weight: Optional[float] = _measured("--base-weight", "E_{P0}[w], mean weight of base points."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """Weighted-risk lemma: alpha E*[w] / (alpha E*[w] + (1-alpha) E0[w])."""
    from collective_action.theory.effective_size import alpha_eff, weighted_risk_lemma

    _alpha_eff("alpha_eff (weighted-risk lemma)", weighted_risk_lemma, alpha_eff, as_json, latex,
               alpha=alpha, collective_weight=collective_weight, base_weight=base_weight)


@theory_app.command("cvar-fixed-point")
def cvar_fixed_point_cmd(
    alpha: Optional[float] = ALPHA_OPTION,
    beta: Optional[float] = typer.Option(None, "--beta", help="CVaR level in (0, 1)."),
    rest_error: Optional[float] = typer.Option(None, "--rest-error",
                                               help="r: error mass of the rest of the population, below beta."),
    critical: Optional[float] = typer.Option(None, "--critical",
                                             help="a_c: effective size at which the Bayes learner learns the signal."),
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """CVaR-DRO + Bayes learner: which pure state is consistent (fails / oscillates / succeeds)."""
    import sympy as sp

    from collective_action.theory.cvar_fixed_point import (
        cvar_alpha_range,
        cvar_fixed_points,
        cvar_state_sizes,
    )

    if latex:
        sizes = cvar_state_sizes()
        rows = {
            r"a_U\,(r+\alpha\le\beta)": sizes["unlearned_small"],
            r"a_U\,(r+\alpha>\beta)": sizes["unlearned_large"],
            r"a_L": sizes["learned"],
        }
        text = "; ".join(f"{k} = {sp.latex(v)}" for k, v in rows.items())
        typer.echo(json.dumps({"latex": text}) if as_json else text)
        return
    _need(alpha=alpha, beta=beta, rest_error=rest_error, critical=critical)
    fp = cvar_fixed_points(alpha, beta, rest_error, critical)
    alpha_u, alpha_l = cvar_alpha_range(beta, rest_error, critical)
    emit({"regime": str(fp.regime), "a_unlearned": float(fp.a_unlearned),
          "a_learned": float(fp.a_learned), "alpha_unlearned_max": alpha_u,
          "alpha_learned_min": alpha_l, "alpha": alpha, "beta": beta, "rest_error": rest_error,
          "critical": critical}, as_json, "CVaR-DRO pure fixed points (Bayes learner, 0-1 loss)")


def _read_problem(path: Path) -> dict:
    from collective_action.experiment import read_yaml_mapping

    data = read_yaml_mapping(path, "problem file", "a problem file must be a mapping with p0, g, target")
    unknown = set(data) - {"p0", "g", "target"}
    if unknown:
        raise InputError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected p0, g, target)")
    for key in ("p0", "g"):
        if key not in data:
            raise InputError(f"{path}: missing key {key!r}")
    return data


@theory_app.command("exact")
def exact_cmd(
    problem: Path = typer.Option(..., "--problem", help="YAML/JSON file with p0 (table), g (map), target."),
    alpha: float = typer.Option(..., "--alpha", help="Collective size in (0, 1)."),
    strategy: str = typer.Option("feature-label", "--strategy",
                                  help="feature-label | feature-only (planting) | unplanting | erasing."),
    epsilon: float = EPSILON_OPTION,
    definition: str = DEFINITION_OPTION,
    as_json: bool = JSON_OPTION,
    latex: bool = LATEX_OPTION,
):
    """Exact success on a discrete problem: Bayes (eps = 0) or worst-case eps-suboptimal."""
    import numpy as np

    from collective_action.discrete import DiscreteProblem
    from collective_action.errors import check_choice
    from collective_action.collective import get_strategy
    from collective_action.theory import bayes, hardt, hardt_goals, worst_case

    check_choice("definition", definition, hardt.DEFINITIONS)
    get_strategy(strategy)  # an unknown strategy is one line before any work
    if latex:
        _print_latex(r"m(x')", bayes.per_point_margin(), as_json)
        return
    data = _read_problem(problem)
    try:
        p0 = np.array(data["p0"], dtype=float)
        g = np.array(data["g"], dtype=np.int64)
        target = data.get("target", 0)
        if isinstance(target, bool) or not (isinstance(target, int) or (isinstance(target, float)
                                                                        and target.is_integer())):
            raise ValueError(target)
        target = int(target)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{problem}: p0 must be a table of numbers, g a list of integers and target "
                         "an integer") from None
    prob = DiscreteProblem(p0, g, target)
    delta, xi = bayes.hardt_constants(prob)
    bayes_value = float(bayes.bayes_success(prob, alpha, strategy))
    if epsilon > 0:
        success = float(worst_case.worst_case_success(prob, alpha, epsilon, definition, strategy))
    else:
        success = bayes_value
    # each strategy's Hardt-form bound (theory/hardt_goals.py); success is the strategy's goal
    bound = float(hardt_goals.population_bound(prob, alpha, strategy, epsilon, definition))
    out = {"success": success, "bayes_success": bayes_value, "success_lower_bound": bound,
           "goal": get_strategy(strategy).goal.statement, "alpha": alpha, "epsilon": epsilon,
           "definition": definition, "strategy": strategy}
    if strategy == "feature-label":  # Hardt's (Delta, xi); the other bounds have their own constants
        out.update(delta=delta, xi=xi)
    emit(out, as_json, "Exact success")


def register(app: typer.Typer) -> None:
    app.add_typer(theory_app, name="theory")
