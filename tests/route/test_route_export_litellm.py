"""`costlab route export --to litellm`: a LiteLLM proxy config (YAML with LiteLLM's documented keys)
and the classifier plugin module it names, which routes like the runtime."""

from __future__ import annotations

import importlib.util
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab.cli.route import register
from costlab.routing import Router
from costlab.routing.export import ExportError, LITELLM_TIERS, litellm_tiers

from helpers import FIXTURES, one_command_app

yaml = pytest.importorskip("yaml", reason="PyYAML parses the exported config (a test dependency, pyproject [test])")
POLICY = FIXTURES / "route_policy.json"  # fitted on RouteLLM's GSM8K outcomes: haiku / opus


def _export(tmp_path, *extra):
    out = tmp_path / "litellm" / "config.yaml"
    out.parent.mkdir()
    res = CliRunner().invoke(one_command_app(register), ["route", "export", str(POLICY), "--to", "litellm", "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return out


def test_the_litellm_export_is_yaml_with_litellms_documented_router_keys(tmp_path):
    config = yaml.safe_load(_export(tmp_path).read_text())
    entries = {e["model_name"]: e["litellm_params"] for e in config["model_list"]}
    assert entries["haiku"]["model"] == "anthropic/claude-haiku-5-5"
    assert entries["opus"]["model"] == "anthropic/claude-opus-5-5"
    assert entries["haiku"]["api_key"] == "os.environ/ANTHROPIC_API_KEY"
    router = entries["costlab-router"]
    assert router["model"] == "auto_router/complexity_router"
    assert router["complexity_router_default_model"] == "opus"
    cfg = router["complexity_router_config"]
    assert cfg["classifier_type"] == "custom" and cfg["classifier_plugin"] == "costlab_route_classifier.classifier"
    assert cfg["classifier_fallback"] == "default_model" and cfg["default_model"] == "opus"
    assert list(cfg["tiers"]) == list(LITELLM_TIERS)
    assert cfg["tiers"] == {"SIMPLE": "haiku", "MEDIUM": "opus", "COMPLEX": "opus", "REASONING": "opus"}
    assert set(cfg["tiers"].values()) <= set(entries)  # every tier names a model_list entry


def test_the_config_says_what_litellm_cannot_express(tmp_path):
    text = _export(tmp_path).read_text()
    assert "cannot express: a fitted logistic model and its threshold" in text
    assert "Approximated at the gateway" in text and "metadata" in text


def test_the_plugin_module_routes_every_prompt_as_the_runtime_does(tmp_path):
    out = _export(tmp_path)
    spec = importlib.util.spec_from_file_location("costlab_route_classifier", out.parent / "costlab_route_classifier.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    prompts = pl.read_csv(FIXTURES / "routellm_whatif" / "gsm8k_outcomes.csv")["prompt"].to_list()[:300]
    router = Router.load(POLICY)
    want = {"haiku": "SIMPLE", "opus": "COMPLEX"}
    got = [mod.classifier.classify({"messages": [{"role": "user", "content": p}], "metadata": {}}) for p in prompts]
    assert got == [want[router.tier({"prompt": p})] for p in prompts]
    assert {"SIMPLE", "COMPLEX"} == set(got)  # both tiers are used on these prompts

    class Context:  # attribute access, as an object context would carry it
        messages = [{"role": "user", "content": prompts[0]}]
        metadata = {"feature": "x", "prompt_tokens": 40}

    assert mod.classifier.classify(Context()) == want[router.tier({"prompt": prompts[0], "feature": "x", "prompt_tokens": 40})]


def test_to_stdout_the_config_alone_and_a_note_about_the_plugin():
    res = CliRunner().invoke(one_command_app(register), ["route", "export", str(POLICY), "--to", "litellm"])
    assert res.exit_code == 0
    assert yaml.safe_load(res.stdout)["model_list"][0]["model_name"] == "haiku"
    assert "--out" in res.stderr


def test_tier_names_map_three_and_four_tiers_and_refuse_five():
    assert litellm_tiers({"tiers": ["a", "b", "c"]}) == {"SIMPLE": "a", "MEDIUM": "b", "COMPLEX": "c", "REASONING": "c"}
    assert litellm_tiers({"tiers": ["a", "b", "c", "d"]}) == dict(zip(LITELLM_TIERS, "abcd"))
    with pytest.raises(ExportError, match="four tiers"):
        litellm_tiers({"tiers": list("abcde")})


def test_a_policy_without_models_is_refused_with_how_to_fix(tmp_path):
    policy = json.loads(POLICY.read_text())
    policy["models"] = {}
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(policy))
    res = CliRunner().invoke(one_command_app(register), ["route", "export", str(bare), "--to", "litellm"])
    assert res.exit_code == 2 and "maps no model" in res.stderr
