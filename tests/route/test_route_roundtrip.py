"""The exported policy routes the evaluation set exactly as `whatif --policy learned:FILE` assumed:
the set-based features and assignment (costlab.whatif.learned) against the runtime (costlab.routing)
request by request, on RouteLLM's GSM8K outcomes (tests/fixtures/routellm_whatif, Apache-2.0)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from costlab.routing import Router
from costlab.whatif import learned
from costlab.whatif.routefit import FitOptions, fit
from costlab.whatif.routellm import outcomes_reduction, read_outcomes
from costlab.whatif.scenario import Scenario, Split, evaluate

from helpers import FIXTURES, copy_store, one_command_app

DATA = FIXTURES / "routellm_whatif"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, store_template):
    tmp = tmp_path_factory.mktemp("rt")
    s = copy_store(store_template, tmp / "s.duckdb")
    df = read_outcomes(s, DATA / "gsm8k_outcomes.csv")
    s.close()
    q = np.column_stack([df["weak"].cast(float).to_numpy(), df["strong"].cast(float).to_numpy()])
    red = outcomes_reduction(q, q.copy(), df["prompt"].to_list(), df["subject"].to_list(), ("haiku", "opus"), (0, 1))
    # a fixed vocabulary, so the word features are exercised whatever the inner CV would choose
    policy, ev = fit(red, FitOptions(folds=3, vocab=50, resamples=20), source="test", models={"haiku": "m-small", "opus": "m-big"})
    path = tmp / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    return red, policy, path, df


def _requests(df):
    return [{"prompt": p, "feature": s} for p, s in zip(df["prompt"].to_list(), df["subject"].to_list())]


def test_the_runtime_computes_the_same_features_as_the_set_based_design(fitted):
    red, policy, path, df = fitted
    X = learned.design(red, policy["features"]["feature_values"], policy["features"]["vocab"])
    router = Router.load(path)
    R = np.array([router.features(r) for r in _requests(df)])
    assert len(policy["features"]["vocab"]) == 50
    np.testing.assert_array_equal(R, X)


def test_the_exported_runtime_routes_every_prompt_as_whatif_assumed(fitted):
    red, policy, path, df = fitted
    A = learned.learned_assignment(red, policy)
    router = Router.load(path)
    tiers = [router.tier(r) for r in _requests(df)]
    assert [red.tiers[a] for a in A] == tiers
    res = evaluate(red, Scenario(Split(), policy="learned", learned=policy))
    assert res.tier_share["opus"] == pytest.approx(tiers.count("opus") / len(tiers))
    assert 0 < tiers.count("opus") < len(tiers)  # the threshold splits the set


def test_the_python_export_is_a_standalone_module_that_routes_the_same(fitted, tmp_path):
    from typer.testing import CliRunner

    from costlab.cli.route import register

    red, policy, path, df = fitted
    out = tmp_path / "router_policy.py"
    res = CliRunner().invoke(one_command_app(register), ["route", "export", str(path), "--to", "python", "--out", str(out)])
    assert res.exit_code == 0, res.output
    spec = importlib.util.spec_from_file_location("router_policy_export", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    reqs = _requests(df)[:300]
    assert [mod.tier(r) for r in reqs] == [Router.load(path).tier(r) for r in reqs]
    assert mod.model(reqs[0]) in ("m-small", "m-big")
