"""The learned policy's features read from logged request bodies: an Anthropic-envelope log whose
bodies have conversation turns, system prompts (string, text blocks, none), images, tools, documents
and structured-output requests (output_format, response_format, a tool_choice forcing a tool) is
ingested for real; the what-if pass's SQL (queries/whatif/evidence/request_features.sql) must give
each request the values the runtime (costlab.routing) computes from the same body, and a policy
fitted on them must route every logged request as `whatif --policy learned` assumed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costlab.ingest import ingest_paths
from costlab.routing import Router, images, named_features, request_text, structured, system_hash, user_turns
from costlab.whatif import reduce
from costlab.whatif import learned
from costlab.whatif.routefit import FitOptions, fit
from costlab.whatif.routetables import explain_table, feature_names

from helpers import REPLAY_DDL, TIERS

SYSTEMS = ["You are a support agent. Answer briefly.",
           [{"type": "text", "text": "You extract fields"}, {"type": "text", "text": "as JSON only."}],
           None, "Résumé writer — ünïcode system prompt."]
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
DOC = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "a contract"}}
STRUCTURE = [{}, {"output_format": {"type": "json_schema", "schema": {"type": "object"}}},
             {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
             {"response_format": {"type": "text"}},  # not structured
             {"tool_choice": {"type": "tool", "name": "lookup"}}, {"tool_choice": {"type": "auto"}},  # auto: not
             {"tool_choice": "required"}]
N = 400
NO_BODY = 10  # requests whose stored body is removed: their features are 0 / none in SQL and runtime alike


def _body(i: int) -> dict:
    turns = 1 + i % 3
    messages = []
    for t in range(turns):
        last = t == turns - 1
        if last and i % 5 == 0:
            content = [IMAGE, {"type": "text", "text": f"What is in picture {i}? If unclear, then say so first."}]
        elif last and i % 11 == 0:
            content = [DOC, {"type": "text", "text": f"Summarise clause {i}"}]
        else:
            content = (f"Turn {t} of question {i}: explain step one, then the total" if i % 2 else
                       # wording cues next to non-ASCII letters: no word boundary there for the runtime (Python's \b)
                       f"Question {i}, turn {t}: éif ünless thené firstß" if i % 7 == 0 else f"Question {i}, turn {t}")
        messages.append({"role": "user", "content": content})
        if not last:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": f"answer {t}"}]})
    body = {"model": "claude-haiku-5-5", "max_tokens": 64, "messages": messages, **STRUCTURE[i % len(STRUCTURE)]}
    system = SYSTEMS[i % len(SYSTEMS)]
    if system is not None:
        body["system"] = system
    if i % 4 == 1:
        body["tools"] = [{"name": "lookup", "input_schema": {"type": "object"}}]
    return body


def _write_log(path) -> dict[str, dict]:
    bodies, lines = {}, []
    for i in range(N):
        body = _body(i)
        rid = f"msg_{i:04d}"  # the envelope's request id is the response's message id
        bodies[rid] = body
        lines.append(json.dumps({
            "timestamp": f"2026-11-1{i % 5}T10:{i % 60:02d}:{i % 7:02d}Z", "request_id": rid, "platform": "anthropic",
            "request": body,
            "response": {"id": f"msg_{i:04d}", "type": "message", "role": "assistant", "model": body["model"],
                         "content": [{"type": "text", "text": "ok"}], "stop_reason": "tool_use" if i % 9 == 0 else "end_turn",
                         "usage": {"input_tokens": 40 + 13 * (i % 17), "output_tokens": 12}},
            "error": None, "status_code": 200, "latency_ms": 500.0,
            "metadata": {"feature": ["chat", "extract", "triage"][i % 3], "user_id": f"u{i}"},
        }))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bodies


@pytest.fixture
def logged(store, tmp_path):
    return _log_store(store, tmp_path)


def _log_store(store, tmp_path):
    """The log ingested into `store` (a few bodies removed), judged on every tier; (store, the runtime's requests
    in the Reduction's order)."""
    bodies = _write_log(tmp_path / "log.jsonl")
    summary = ingest_paths(store, [str(tmp_path / "log.jsonl")])
    assert summary.total("rows_added") == N
    assert store.scalar("select count(*) from payloads where request_json is not null") == N
    store.execute(f"delete from payloads where request_id in (select request_id from requests order by request_id limit {NO_BODY})")
    for rid in sorted(bodies)[:NO_BODY]:
        bodies[rid] = {}
    if not store.has_table("judgements"):
        store.execute_script(REPLAY_DDL)
    # the cheapest tier suffices for text-only, unstructured requests; sonnet for all but images; opus always
    rows = store.rows("select request_id from requests")
    good = []
    for (rid,) in rows:
        b = bodies[rid]
        good += [(rid, "haiku", not images(b) and not structured(b)), (rid, "sonnet", not images(b)), (rid, "opus", True)]
    store.execute("insert into judgements (run, source, request_id, tier, judge, score, good) "
                  "select 'r1', r.source, g.rid, g.tier, 'rubric', null, g.good from "
                  "(select unnest($rid) as rid, unnest($tier) as tier, unnest($good) as good) g "
                  "join requests r on r.request_id = g.rid",
                  {"rid": [x[0] for x in good], "tier": [x[1] for x in good], "good": [x[2] for x in good]})
    # the runtime's request: the logged body and what the log itself says before the call
    order = store.rows("select request_id, prompt_tokens, feature, stop_reason = 'tool_use', coalesce(web_search_requests, 0) "
                       "from costed_requests order by epoch_us(ts), hash(source, request_id)::UBIGINT")
    requests = [{**bodies[rid], "prompt_tokens": pt, "feature": f, "tool_use": tu, "web_search": ws}
                for rid, pt, f, tu, ws in order]
    return store, requests


def test_the_pass_reads_the_same_body_features_the_runtime_computes(logged):
    store, requests = logged
    plain = reduce(store, tiers=TIERS)
    assert plain.user_turns is None and plain.texts is None  # only computed when asked
    assert reduce(store, tiers=TIERS, route_features=True).texts is None  # texts only when asked
    red = reduce(store, tiers=TIERS, route_features=True, route_texts=True)
    assert red.n == N
    assert red.user_turns.tolist() == [user_turns(r) for r in requests]
    assert red.images.tolist() == [images(r) for r in requests]
    assert red.structured.tolist() == [structured(r) for r in requests]
    assert red.tools_offered.tolist() == [bool(r.get("tools")) for r in requests]
    hashes = np.array(list(red.systems) + [None], dtype=object)[red.system]
    assert hashes.tolist() == [system_hash(r) for r in requests]
    assert red.texts.tolist() == [request_text(r) for r in requests]
    cues = [named_features(r) for r in requests]
    assert red.cue_conditional.tolist() == [c["conditional"] == 1 for c in cues]
    assert red.cue_multistep.tolist() == [c["multistep"] == 1 for c in cues]
    assert 0 < red.cue_conditional.sum() < N and 0 < red.cue_multistep.sum() < N
    # the fixture's variety really is there: every feature takes both values, three system prompts
    assert len(red.systems) == 3 and set(red.user_turns.tolist()) == {0, 1, 2, 3}
    assert 0 < red.images.sum() and 0 < red.structured.sum() < N and (red.system == -1).sum() > NO_BODY
    assert sum(1 for r in requests if r.get("response_format", {}).get("type") == "text") and not any(
        structured(r) for r in requests if r.get("tool_choice") == {"type": "auto"})


def test_a_policy_fitted_on_body_features_routes_every_logged_request_as_whatif_assumed(logged, tmp_path):
    store, requests = logged
    red = reduce(store, tiers=TIERS, route_features=True, route_texts=True)
    policy, ev = fit(red, FitOptions(folds=3, vocab=0, resamples=10), source="logs", models=dict(zip(red.tiers, red.models)))
    f = policy["features"]
    assert f["numeric"][-3:] == ["log_user_turns", "images", "structured"] and len(f["system_values"]) == 3
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    router = Router.load(path)
    X = learned.policy_design(red, policy)
    np.testing.assert_array_equal(np.array([router.features(r) for r in requests]), X)
    A = learned.learned_assignment(red, policy)
    tiers = [router.tier(r) for r in requests]
    assert [red.tiers[a] for a in A] == tiers
    names = feature_names(policy)
    assert len(names) == X.shape[1] and [n for n in names if n.startswith("system=")] == [f"system={h}" for h in f["system_values"]]
    kinds = dict(zip(*explain_table(policy, top=len(names)).select("feature", "kind")))
    assert kinds["structured"] == kinds["images"] == "numeric" and {kinds[f"system={h}"] for h in f["system_values"]} == {"system"}
    # the body features decide: the cheapest tier's out-of-fold probability is low for images and
    # structured requests, high for plain text (the judged labels)
    img = np.array([images(r) > 0 for r in requests])
    plain = np.array([not images(r) and not structured(r) and bool(r) for r in requests])
    p0 = ev.oof[:, 0]
    assert p0[plain].mean() > p0[img].mean() + 0.3 and p0[plain].mean() > p0[~plain].mean() + 0.3


def test_an_older_policy_without_body_features_routes_logs_as_before(logged, tmp_path):
    store, requests = logged
    red = reduce(store, tiers=TIERS, route_features=True)
    policy, _ = fit(red, FitOptions(folds=3, vocab=0, resamples=10), source="logs")
    old = json.loads(json.dumps(policy))
    k = len(old["features"]["numeric"]) - 3
    old["features"]["numeric"] = old["features"]["numeric"][:k]
    s = len(old["features"].pop("system_values"))
    nf = len(old["features"]["feature_values"])
    keep = list(range(k)) + list(range(k + 3, k + 3 + nf)) + list(range(k + 3 + nf + s, len(old["scale"]["mean"])))
    for key in ("mean", "std"):
        old["scale"][key] = [old["scale"][key][j] for j in keep]
    for c in old["classifiers"]:
        c["coef"] = [c["coef"][j] for j in keep]
    router = Router(old)
    assert [red.tiers[a] for a in learned.learned_assignment(red, old)] == [router.tier(r) for r in requests]


def test_route_fit_and_whatif_learned_read_the_bodies_on_the_command_line(new_store, tmp_path):
    from typer.testing import CliRunner

    from costlab.cli.route import register as route_register
    from costlab.cli.whatif import register as whatif_register

    from helpers import one_command_app

    path = tmp_path / "cli.duckdb"
    with new_store(path) as s:
        _, requests = _log_store(s, tmp_path)
    cfg = tmp_path / "costlab.toml"
    cfg.write_text("[tiers]\n" + "".join(f'{t} = "{m}"\n' for t, m in TIERS.items()), encoding="utf-8")
    common = ["--db", str(path), "--config", str(cfg)]
    policy = tmp_path / "p.json"
    res = CliRunner().invoke(one_command_app(route_register),
                             ["route", "fit", str(policy), "--folds", "3", "--vocab", "0", "--resamples", "10", *common])
    assert res.exit_code == 0, res.output
    f = json.loads(policy.read_text())["features"]
    assert "structured" in f["numeric"] and f["system_values"]
    res = CliRunner().invoke(one_command_app(whatif_register),
                             ["whatif", "--policy", f"learned:{policy}", "--format", "json", *common])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    router = Router.load(policy)
    tiers = [router.tier(r) for r in requests]
    for t in TIERS:
        assert row[f"{t}_share"] == pytest.approx(round(tiers.count(t) / len(tiers), 4))
