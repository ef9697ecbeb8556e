"""costlab.routing: the dependency-free runtime an application imports (features of one request,
the policy file's checks)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from costlab.routing import FORMAT, NUMERIC, PolicyFileError, Router, numeric_features, request_text

from helpers import ROOT


def _policy(**over):
    width = len(NUMERIC) + 1 + 2
    base = {"format": FORMAT, "tiers": ["haiku", "opus"], "models": {"haiku": "claude-haiku-5-5", "opus": "claude-opus-5-5"},
            "features": {"numeric": list(NUMERIC), "feature_values": ["math"], "vocab": ["prove", "sum"]},
            "scale": {"mean": [0.0] * width, "std": [1.0] * width},
            "classifiers": [{"tier": "haiku", "intercept": 0.0, "coef": [0.0] * len(NUMERIC) + [-3.0, -2.0, 0.0]}],
            "threshold": 0.5}
    base.update(over)
    return base


def test_importing_the_runtime_loads_no_third_party_package():
    code = ("import sys, costlab.routing; print([m for m in ('numpy', 'polars', 'sklearn', 'duckdb', 'pyarrow', 'typer') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_messages_request_has_its_text_parts_documents_and_tools_as_features():
    req = {"system": "You are terse.", "tools": [{"name": "calc"}],
           "messages": [{"role": "user", "content": [{"type": "text", "text": "If it rains, then first count each drop."},
                                                      {"type": "document", "source": {}}]},
                        {"role": "assistant", "content": "ok"}]}
    assert request_text(req) == "If it rains, then first count each drop.\nok"
    x = numeric_features(req)
    assert dict(zip(NUMERIC, x)) == {"log_prompt_tokens": pytest.approx(math.log1p(len(request_text(req)) // 4)),
                                     "documents": 1.0, "tool_use": 1.0, "conditional": 1.0, "multistep": 1.0, "web_search": 0.0}
    assert numeric_features({"prompt": "hi", "prompt_tokens": 99})[0] == pytest.approx(math.log1p(99))


def test_the_router_picks_the_cheapest_tier_whose_probability_reaches_the_threshold(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(_policy()), encoding="utf-8")
    r = Router.load(f)
    assert r.tier({"prompt": "what is the capital of France"}) == "haiku"  # p = 0.5 >= 0.5
    assert r.tier({"prompt": "Prove the sum is even", "feature": "math"}) == "opus"  # p = sigmoid(-5)
    assert r.probabilities({"prompt": "prove it"})["haiku"] == pytest.approx(1 / (1 + math.exp(2)))
    assert r.model({"prompt": "prove it"}) == "claude-opus-5-5"
    assert r.tier({"prompt": "prove it"}, threshold=0.1) == "haiku"


def test_a_file_of_another_format_or_shape_is_refused():
    with pytest.raises(PolicyFileError, match="format"):
        Router(_policy(format="other/9"))
    with pytest.raises(PolicyFileError, match="do not match"):
        Router(_policy(scale={"mean": [0.0], "std": [1.0]}))
