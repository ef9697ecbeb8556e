"""check:schema: replayed answers validated (jsonschema) against a JSON Schema per feature from
costlab.toml [replay.schemas], or the logged request's own structured-output schema."""

from __future__ import annotations

import json

import pytest

from costlab import replay
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.open import open_store as open_db
from costlab.store import Store
from costlab.testing import TestServer
from helpers import ingest_log

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
# The test server answers JSON prompts with {"answer": <digest>, "detail": quality}: opus 3, sonnet 2;
# haiku's is cut (invalid JSON).
AT_LEAST_3 = {"type": "object", "required": ["answer", "detail"],
              "properties": {"answer": {"type": "string"}, "detail": {"type": "integer", "minimum": 3}}}


def open_store(tmp_path, monkeypatch, schemas=None) -> Store:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-schema")
    config = Config(tiers=TIERS, replay={"schemas": schemas} if schemas is not None else {}, path=tmp_path / "costlab.toml")
    s = open_db(tmp_path / "s.duckdb", config)
    ingest_log(s, tmp_path, 30)
    return s


def schema_rows(store: Store, run: str) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for tier, verdict, good, details in store.rows(
            "select tier, verdict, good, details::VARCHAR from judgements where run = ? and judge = 'check:schema' order by all",
            [run]):
        out.setdefault(tier, []).append((verdict, good, json.loads(details)))
    return out


def run_it(store: Store, name: str, tiers=("haiku", "sonnet", "opus")) -> str:
    with TestServer() as server:
        run, _ = replay.plan(store, replay.ReplaySpec(sample=9, tiers=list(tiers), run=name, concurrency=3))
        replay.execute(store, run, base_url=server.url)
    return run


def test_configured_schema_passes_valid_answers_and_fails_the_others(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch, {"extract": AT_LEAST_3})
    run = run_it(s, "cfg")
    rows = schema_rows(s, run)
    assert {t: len(r) for t, r in rows.items()} == {"haiku": 3, "sonnet": 3, "opus": 3}  # extract only
    assert all(v == "pass" and g and d == {"schema": "config:extract"} for v, g, d in rows["opus"])
    # valid JSON, wrong value: the error and where it is
    assert all(v == "fail" and not g and d["path"] == "/detail" and "less than the minimum of 3" in d["error"]
               for v, g, d in rows["sonnet"])
    assert all(v == "fail" and d["error"].startswith("not JSON") for v, _, d in rows["haiku"])
    res = {(r["feature"], r["tier"]): r["pass_rate"] for r in replay.results(s, run).filter(judge="check:schema").iter_rows(named=True)}
    assert res == {("extract", "haiku"): 0.0, ("extract", "sonnet"): 0.0, ("extract", "opus"): 1.0}
    assert set(replay.failures(s, run).filter(judge="check:schema")["tier"]) == {"haiku", "sonnet"}
    s.close()


def test_schema_from_a_file_beside_costlab_toml(tmp_path, monkeypatch):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "extract.json").write_text(json.dumps({**AT_LEAST_3, "properties": {"detail": {"minimum": 2}}}))
    s = open_store(tmp_path, monkeypatch, {"extract": "schemas/extract.json"})
    rows = schema_rows(s, run_it(s, "file", tiers=("sonnet",)))
    assert [v for v, _, _ in rows["sonnet"]] == ["pass"] * 3
    s.close()


def test_request_with_its_own_output_schema_is_checked_against_it(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    fmt = {"output_config": {"format": {"type": "json_schema", "schema": AT_LEAST_3}}}
    s.execute("""update payloads set request_json = json_merge_patch(request_json, ?::JSON)
                 where request_id in (select request_id from requests where feature = 'extract')""", [json.dumps(fmt)])
    rows = schema_rows(s, run_it(s, "req", tiers=("sonnet", "opus")))
    assert [(v, d["schema"]) for v, _, d in rows["opus"]] == [("pass", "request:output_config.format")] * 3
    assert [v for v, _, _ in rows["sonnet"]] == ["fail"] * 3
    s.close()


def test_no_schema_no_check(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    assert schema_rows(s, run_it(s, "none", tiers=("sonnet",))) == {}
    s.close()


def test_invalid_configured_schema_is_refused_before_anything_is_sent(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch, {"extract": {"type": "objekt"}})
    with TestServer() as server:
        with pytest.raises(ConfigError, match=r"\[replay.schemas\] extract: not a valid JSON Schema: 'objekt' is not valid"):
            replay.plan(s, replay.ReplaySpec(sample=3, tiers=["haiku"], run="bad"))
        assert server.count(None) == 0
    assert s.rows("select count(*) from replay_runs") == [(0,)]
    s.close()


def test_missing_schema_file_names_the_feature_and_the_path(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch, {"extract": "nowhere.json"})
    with pytest.raises(ConfigError, match=r"\[replay.schemas\] extract: cannot read .*nowhere.json"):
        replay.plan(s, replay.ReplaySpec(sample=3, tiers=["haiku"], run="bad"))
    s.close()
