"""`collective-action theory ...`: numbers, --json keys, --latex, and exit 2 on bad input."""

import json

import pytest

from collective_action.theory import alpha_eff_cvar, alpha_eff_jtt, critical_mass, hardt_bound


def test_bound_json_and_text(cli):
    res = cli("theory", "bound", "--alpha", 0.1, "--delta", 0.2, "--xi", 0.3, "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["success_lower_bound"] == pytest.approx(hardt_bound(0.1, 0.2, 0.3))
    assert res.json()["success_lower_bound"] == pytest.approx(1 - 0.9 / 0.1 * 0.06)
    tv = cli("theory", "bound", "--alpha", 0.1, "--delta", 0.2, "--xi", 0.3, "--epsilon", 0.01,
             "--definition", "tv", "--json").json()
    assert tv["success_lower_bound"] == pytest.approx(1 - 0.9 / 0.1 * 0.06 - 0.2)
    text = cli("theory", "bound", "--alpha", 0.1, "--delta", 0.2, "--xi", 0.3)
    assert text.exit_code == 0 and "success_lower_bound" in text.stdout


def test_negative_bound_is_printed_unclipped(cli):
    res = cli("theory", "bound", "--alpha", 0.01, "--delta", 1, "--xi", 1, "--json")
    assert res.json()["success_lower_bound"] < 0


def test_critical_mass(cli):
    res = cli("theory", "critical-mass", "--delta", 0.2, "--xi", 0.3, "--target", 0.9,
              "--epsilon", 0.01, "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["alpha_star"] == pytest.approx(critical_mass(0.2, 0.3, 0.9, 0.01))
    assert res.json()["alpha_star"] == pytest.approx((0.06 + 0.01 / 0.99) / (0.1 + 0.06))
    unreachable = cli("theory", "critical-mass", "--delta", 1, "--xi", 1, "--target", 1,
                      "--epsilon", 0.1, "--json")
    assert unreachable.exit_code == 0 and unreachable.json()["alpha_star"] == "inf"


def test_alpha_eff_commands(cli):
    jtt = cli("theory", "alpha-eff", "jtt", "--alpha", 0.01, "--upweight", 20,
              "--collective-error", 0.9, "--base-error", 0.1, "--json")
    assert jtt.exit_code == 0, jtt.stderr
    assert jtt.json()["alpha_eff"] == pytest.approx(alpha_eff_jtt(0.01, 20, 0.9, 0.1))
    cvar = cli("theory", "alpha-eff", "cvar", "--alpha", 0.01, "--beta", 0.1, "--tail-share", 1,
               "--json")
    assert cvar.json()["alpha_eff"] == pytest.approx(alpha_eff_cvar(0.01, 0.1, 1.0)) == pytest.approx(0.1)
    chi2 = cli("theory", "alpha-eff", "chi2", "--alpha", 0.2, "--collective-excess", 0.5,
               "--base-excess", 0.1, "--json")
    assert chi2.json()["alpha_eff"] == pytest.approx(0.1 / (0.1 + 0.08))
    lff = cli("theory", "alpha-eff", "lff", "--alpha", 0.2, "--collective-weight", 0.9,
              "--base-weight", 0.3, "--json")
    assert lff.json()["alpha_eff"] == pytest.approx(0.18 / (0.18 + 0.24))
    general = cli("theory", "alpha-eff", "general", "--alpha", 0.2, "--collective-weight", 2,
                  "--base-weight", 1, "--json")
    assert general.json()["alpha_eff"] == pytest.approx(0.4 / 1.2)


@pytest.mark.parametrize("args, fragment", [
    (("bound",), r"\geq"),
    (("bound", "--epsilon", "0.1", "--definition", "tv"), r"2 \epsilon"),
    (("critical-mass", "--epsilon", "0.1"), r"\alpha^*"),
    (("alpha-eff", "jtt"), r"\lambda"),
    (("alpha-eff", "cvar"), r"\beta"),
    (("alpha-eff", "chi2"), r"\ell"),
    (("alpha-eff", "lff"), r"\bar W"),
    (("alpha-eff", "general"), r"\mathbb{E}"),
])
def test_latex_prints_the_formula(cli, args, fragment):
    res = cli("theory", *args, "--latex")
    assert res.exit_code == 0, res.stderr
    assert fragment in res.stdout
    as_json = cli("theory", *args, "--latex", "--json").json()
    assert fragment in as_json["latex"] and as_json["assumptions"]


def test_exact_on_a_problem_file(cli, tmp_path):
    path = tmp_path / "problem.yaml"
    path.write_text(json.dumps({"p0": [[0.3, 0.2], [0.1, 0.4], [0.0, 0.0]], "g": [2, 2, 2],
                                "target": 0}))
    res = cli("theory", "exact", "--problem", path, "--alpha", 0.1, "--epsilon", 0.05,
              "--definition", "tv", "--json")
    assert res.exit_code == 0, res.stderr
    out = res.json()
    assert out["bayes_success"] == 1.0 and out["success"] == 0.0  # TV adversary flips x'
    assert out["success_lower_bound"] <= out["success"]
    missing = cli("theory", "exact", "--problem", tmp_path / "nope.yaml", "--alpha", 0.1)
    assert missing.exit_code == 2 and "not found" in missing.stderr



@pytest.mark.parametrize("strategy", ["feature-label", "feature-only", "unplanting", "erasing"])
def test_exact_reports_each_strategys_goal_and_bound(cli, tmp_path, strategy):
    import numpy as np

    from collective_action.collective import get_strategy
    from collective_action.discrete import DiscreteProblem
    from collective_action.theory import bayes_success
    from collective_action.theory.hardt_goals import population_bound

    table = {"p0": [[0.3, 0.1, 0.05], [0.05, 0.2, 0.1], [0.05, 0.05, 0.1]], "g": [2, 2, 2], "target": 0}
    path = tmp_path / "problem.yaml"
    path.write_text(json.dumps(table))
    out = cli("theory", "exact", "--problem", path, "--alpha", 0.2, "--strategy", strategy, "--json").json()
    problem = DiscreteProblem(np.array(table["p0"]), np.array(table["g"]), 0)
    assert out["goal"] == get_strategy(strategy).goal.statement
    assert out["bayes_success"] == pytest.approx(float(bayes_success(problem, 0.2, strategy)))
    assert out["success_lower_bound"] == pytest.approx(float(population_bound(problem, 0.2, strategy)))
    assert out["success_lower_bound"] <= out["success"] + 1e-12
    assert ("xi" in out) == (strategy == "feature-label")

BAD = [
    (("bound", "--alpha", 0, "--delta", 0.2, "--xi", 0.3), "alpha"),
    (("bound", "--alpha", 1, "--delta", 0.2, "--xi", 0.3), "alpha"),
    (("bound", "--alpha", 0.1, "--delta", 1.5, "--xi", 0.3), "delta"),
    (("bound", "--alpha", 0.1, "--delta", 0.2, "--xi", -0.1), "xi"),
    (("bound", "--alpha", 0.1, "--delta", 0.2, "--xi", 0.3, "--epsilon", 1), "epsilon"),
    (("bound", "--alpha", 0.1, "--delta", 0.2, "--xi", 0.3, "--definition", "l2"), "definition"),
    (("bound", "--alpha", "abc", "--delta", 0.2, "--xi", 0.3), "alpha"),
    (("bound", "--delta", 0.2, "--xi", 0.3), "--alpha"),
    (("critical-mass", "--delta", 0.2, "--xi", 0.3, "--target", 0), "target"),
    (("critical-mass", "--delta", 0.2, "--xi", 0.3, "--target", 1.2), "target"),
    (("critical-mass", "--delta", 0.2, "--xi", 0.3, "--target", 0.9, "--epsilon", -0.1), "epsilon"),
    (("critical-mass", "--delta", 0.2, "--xi", 0.3, "--target", 0.9, "--definition", "x"), "definition"),
    (("alpha-eff", "jtt", "--alpha", 1.5, "--upweight", 5, "--collective-error", 0.5,
      "--base-error", 0.1), "alpha"),
    (("alpha-eff", "jtt", "--alpha", 0.1, "--upweight", 0.5, "--collective-error", 0.5,
      "--base-error", 0.1), "upweight"),
    (("alpha-eff", "jtt", "--alpha", 0.1, "--upweight", 5, "--collective-error", 1.5,
      "--base-error", 0.1), "collective_error"),
    (("alpha-eff", "cvar", "--alpha", 0.5, "--beta", 0.1, "--tail-share", 0.5), "beta"),
    (("alpha-eff", "cvar", "--alpha", 0.1, "--beta", 0, "--tail-share", 0.5), "beta"),
    (("alpha-eff", "cvar", "--alpha", 0.1, "--beta", 0.2, "--tail-share", 2), "tail_share"),
    (("alpha-eff", "chi2", "--alpha", 0.1, "--collective-excess", 0, "--base-excess", 0), "excess"),
    (("alpha-eff", "bogus"), "bogus"),
]


@pytest.mark.parametrize("args, fragment", BAD)
def test_bad_input_exits_2_with_one_line(cli, args, fragment):
    res = cli("theory", *args)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    assert res.stdout == ""


def test_cvar_fixed_point_command(cli):
    res = cli("theory", "cvar-fixed-point", "--alpha", 0.1, "--beta", 0.2, "--rest-error", 0.05,
              "--critical", 0.3, "--json")
    assert res.exit_code == 0, res.stderr
    out = res.json()
    assert out["regime"] == "oscillates"
    assert out["alpha_unlearned_max"] < 0.1 <= out["alpha_learned_min"]
    assert out["a_unlearned"] == pytest.approx(0.5) and out["a_learned"] < 0.3
    assert cli("theory", "cvar-fixed-point", "--alpha", 0.5, "--beta", 0.2, "--rest-error", 0.05,
               "--critical", 0.3, "--json").json()["regime"] == "succeeds"
    assert r"\frac{\alpha}{\beta}" in cli("theory", "cvar-fixed-point", "--latex").stdout
    bad = cli("theory", "cvar-fixed-point", "--alpha", 0.1, "--beta", 0.2, "--rest-error", 0.3,
              "--critical", 0.3)
    assert bad.exit_code == 2 and "rest_error" in bad.stderr and len(bad.stderr.splitlines()) == 1


@pytest.mark.parametrize("content, fragment", [
    ("p0: [[0.5, 0.5]]\ng: [0]\nextra: 1\n", "unknown key"),
    ("p0: [[0.5, 0.6]]\ng: [0]\n", "sum to 1"),
    ("g: [0]\n", "missing key 'p0'"),
    ("p0: [[0.5, 0.5]]\ng: [3]\n", "g must map X into X"),
    ("p0: [[0.5, 0.5]\n", "not valid YAML"),
    ("- 1\n- 2\n", "mapping"),
])
def test_exact_rejects_bad_problem_files(cli, tmp_path, content, fragment):
    path = tmp_path / "p.yaml"
    path.write_text(content)
    res = cli("theory", "exact", "--problem", path, "--alpha", 0.1)
    assert res.exit_code == 2, res.stdout
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
