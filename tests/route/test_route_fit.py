"""costlab.whatif.routefit: fitting and the honest evaluation (grouped CV, intervals, calibration,
threshold choice), on generated outcomes where the answer is known, and `costlab route fit` then
`costlab whatif --policy learned:FILE` on RouteLLM records imported with `replay import`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from costlab.whatif.routefit import FitOptions, choose_threshold, evaluate_policy, fit, prompt_groups
from costlab.whatif.routellm import outcomes_reduction

from helpers import FIXTURES, one_command_app

WORDS = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "theta", "kappa")


def generated(n=1200, seed=3, duplicates=0):
    """Two features: on 'lookup' the cheap tier is good 90% of the time, on 'proof' 20%; the strong
    tier 95% everywhere. Prompt length and wording carry nothing, so the complexity policy is blind."""
    rng = np.random.default_rng(seed)
    feats = np.where(rng.random(n) < 0.5, "lookup", "proof")
    prompts = [" ".join(rng.choice(WORDS, size=int(rng.integers(5, 60)))) + f" item {i}" for i in range(n)]
    for i in range(duplicates):  # copies differing only in case and spacing
        prompts[n - 1 - i] = "  " + prompts[i].upper() + " "
    p_weak = np.where(feats == "lookup", 0.9, 0.2)
    weak = (rng.random(n) < p_weak).astype(float)
    strong = (rng.random(n) < 0.95).astype(float)
    q = np.column_stack([weak, strong])
    return outcomes_reduction(q, q.copy(), prompts, list(feats), ("haiku", "opus"), (0, 1)), p_weak


def test_learned_beats_a_blind_complexity_policy_by_more_than_the_interval():
    red, _ = generated()
    ev = evaluate_policy(red, FitOptions(folds=5, vocab=0, resamples=100))
    assert ev.difference["interval"][0] > 0.05
    assert ev.learned["apgr_interval"][0] > ev.random["apgr_range"][1]
    assert ev.oracle["quality"] == pytest.approx(np.nanmax(red.quality, axis=1).mean())


def test_out_of_fold_probabilities_are_calibrated():
    red, p_weak = generated(n=2000)
    ev = evaluate_policy(red, FitOptions(folds=5, vocab=0, resamples=0))
    # the two features' rates come back out of fold (0.9 and 0.2, within sampling error)
    assert abs(ev.oof[p_weak == 0.9, 0].mean() - 0.9) < 0.04
    assert abs(ev.oof[p_weak == 0.2, 0].mean() - 0.2) < 0.04
    assert ev.calibration["brier"] < ev.calibration["brier_constant"]


def test_copies_of_a_prompt_differing_in_case_and_spacing_are_one_group():
    red, _ = generated(n=200, duplicates=20)
    g = prompt_groups(red)
    assert (g[:20] == g[-20:][::-1]).all()
    assert len(np.unique(g)) == 180


def test_the_chosen_threshold_reaches_the_target_on_the_cross_validated_curve():
    red, _ = generated()
    ev = evaluate_policy(red, FitOptions(folds=5, vocab=0, resamples=0))
    t = choose_threshold(ev, 0.9)
    point = next(p for p in ev.curve if round(p["threshold"], 6) == t)
    qw, qs = ev.curve[0]["quality"], ev.curve[-1]["quality"]
    assert (point["quality"] - qw) / (qs - qw) >= 0.9
    cheaper = [p for p in ev.curve if p["cost_share"] < point["cost_share"]]
    assert all((p["quality"] - qw) / (qs - qw) < 0.9 for p in cheaper)


def test_the_policy_file_records_what_it_rests_on():
    red, _ = generated(n=400)
    policy, ev = fit(red, FitOptions(folds=3, resamples=10), source="generated", models={"haiku": "a", "opus": "b"})
    assert policy["format"] == "costlab.route/2" and policy["tiers"] == ["haiku", "opus"]
    assert policy["data"]["requests"] == 400 and policy["models"] == {"haiku": "a", "opus": "b"}
    assert policy["evaluation"]["n"] == 400 and policy["evaluation"]["folds"] == 3
    assert "feature=lookup" not in policy["features"]["feature_values"]  # names, not labels
    assert policy["features"]["feature_values"] == ["lookup", "proof"]
    assert policy["features"]["vocab"] == []  # words carry nothing here: the inner CV keeps none


def test_route_fit_then_whatif_learned_on_an_imported_eval(tmp_path):
    from costlab.cli.replay import register as reg_replay
    from costlab.cli.route import register as reg_route
    from costlab.cli.whatif import register as reg_whatif

    db = str(tmp_path / "s.duckdb")
    run = lambda reg, *a: CliRunner().invoke(one_command_app(reg), list(a))  # noqa: E731
    res = run(reg_replay, "replay", "import", str(FIXTURES / "routellm" / "mmlu"), "--format", "routellm",
              "--map", "weak=haiku", "--map", "strong=opus", "--name", "mmlu2", "--db", db)
    assert res.exit_code == 0, res.output
    policy_file = tmp_path / "p.json"
    res = run(reg_route, "route", "fit", str(policy_file), "--eval", "mmlu2", "--resamples", "20", "--folds", "3",
              "--db", db, "-f", "json")
    assert res.exit_code == 0, res.output
    rows = {r["policy"]: r for r in json.loads(res.stdout)}
    assert {"learned (out of fold)", "complexity", "learned - complexity"} <= set(rows)
    policy = json.loads(policy_file.read_text(encoding="utf-8"))
    assert policy["data"]["source"] == "eval:mmlu2"
    res = run(reg_whatif, "whatif", "--eval", "mmlu2", "--policy", f"learned:{policy_file}", "--db", db, "-f", "json",
              "--resamples", "0")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["scenario"] == "learned" and row["haiku_share"] + row["opus_share"] == pytest.approx(1)
    # the runtime, fed each imported prompt as an application would, routes the set as the what-if assumed
    from costlab.config import Config
    from costlab.open import open_store
    from costlab.routing import Router
    from costlab.whatif.evals import load_eval
    from costlab.whatif.learned import learned_assignment

    with open_store(db, Config()) as store:
        red = load_eval(store, "mmlu2", tiers={"haiku": "claude-haiku-5-5", "opus": "claude-opus-5-5"}).reduction
    names = [red.features[k] for k in red.feature]
    router = Router.load(policy_file)
    tiers = [router.tier({"prompt": p, "feature": f}) for p, f in zip(red.texts, names)]
    assert tiers == [red.tiers[a] for a in learned_assignment(red, policy)]
    assert row["opus_share"] == pytest.approx(tiers.count("opus") / len(tiers))
    res = run(reg_route, "route", "explain", str(policy_file), "-f", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["tier"] == "haiku"


def test_whatif_refuses_a_policy_file_that_is_not_one(tmp_path):
    from costlab.cli.whatif import register as reg_whatif

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "x"}', encoding="utf-8")
    res = CliRunner().invoke(one_command_app(reg_whatif), ["whatif", "--policy", f"learned:{bad}", "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code != 0 and "not a costlab routing policy" in res.output


def test_a_policy_for_other_tiers_is_refused_with_the_tiers_named():
    from costlab.errors import ConfigError
    from costlab.whatif.learned import learned_assignment

    red, _ = generated(n=200)
    policy, _ = fit(red, FitOptions(folds=2, vocab=0, resamples=0), source="generated")
    policy["tiers"] = ["haiku", "sonnet"]
    with pytest.raises(ConfigError, match="haiku, sonnet"):
        learned_assignment(red, policy)


def test_export_to_an_unbuilt_target_is_a_usage_error(tmp_path):
    from costlab.cli.route import register as reg_route

    res = CliRunner().invoke(one_command_app(reg_route), ["route", "export", str(FIXTURES / "route_policy.json"), "--to", "litellm"])
    assert res.exit_code == 2 and "not built yet" in res.output


def test_fitting_without_judged_requests_says_how_to_get_them():
    from costlab.errors import ConfigError
    from costlab.whatif.routefit import evaluate_policy

    red, _ = generated(n=100)
    red.good[:, 1] = np.nan  # nothing judged on the top tier
    with pytest.raises(ConfigError, match="found 0 of 100.*replay import"):
        evaluate_policy(red, FitOptions(folds=2, vocab=0, resamples=0))
