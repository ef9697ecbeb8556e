"""Replay through Amazon Bedrock and Google Vertex AI: the SDK's AnthropicBedrock and AnthropicVertex
clients against the test server's InvokeModel and rawPredict paths on 127.0.0.1, priced at the platform's
rates (regional endpoints carry the regional premium)."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest

from costlab import replay
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.open import open_store as open_db
from costlab.store import Store
from costlab.testing import TestServer
from helpers import ingest_log

AWS_KEY_ID = "AKIDCOSTLABTEST0001"
AWS_SECRET = "costlab/fake+aws/SECRET/never-stored-4242"
GCP_TOKEN = "ya29.costlab-fake-ACCESS-TOKEN-9191"


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """Fake AWS credentials in this test's environment only; no profile files, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL",
                 "AWS_REGION", "AWS_DEFAULT_REGION", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    # The SDK caches one boto3 session (and its resolved credentials) per region and profile: start
    # and end without one, so another test's credentials are never used to sign.
    from anthropic.lib.aws._auth import _get_session

    _get_session.cache_clear()
    yield
    _get_session.cache_clear()


def open_store(tmp_path, tiers: dict[str, str], settings: dict) -> Store:
    s = open_db(tmp_path / "p.duckdb", Config(tiers=tiers, replay=settings))
    ingest_log(s, tmp_path, 12)
    return s


def platform_cost_matches(store: Store, run: str, platform: str, geo: str) -> list[tuple]:
    """Per tier: (tier, model, every row priced at platform/geo, sum of cost, the same usage on the Claude API global)."""
    return store.rows(
        """select tier, model,
                  bool_and(cost_usd = costlab_platform_usage_cost(model, ?, ?, 'standard', started_at, input_tokens,
                                                                  output_tokens, 0, 0, 0)),
                  sum(cost_usd), sum(costlab_usage_cost(model, 'standard', started_at, input_tokens, output_tokens, 0, 0, 0))
           from replays where run = ? and status = 'ok' group by all order by tier""", [platform, geo, run])


def test_replay_through_bedrock_is_sigv4_signed_and_priced_at_bedrock_rates(tmp_path, aws):
    tiers = {"haiku": "anthropic.claude-haiku-5-5",    # an in-Region id: a regional endpoint, +10%
             "sonnet": "claude-sonnet-5-5",            # a catalogue id: sent as the global. profile
             "opus": "global.anthropic.claude-opus-5-5"}
    store = open_store(tmp_path, tiers, {"provider": "bedrock", "region": "eu-west-1"})
    with TestServer(aws_secret_key=AWS_SECRET) as server:  # verifies every SigV4 signature with botocore
        run, est = replay.plan(store, replay.ReplaySpec(sample=6, tiers=["haiku", "sonnet"], judge="opus", run="bed",
                                                        concurrency=3))
        out = replay.execute(store, run, base_url=server.url)
        log = list(server.log)
    assert out.ok == 12 and out.errors == 0
    calls = [e for e in log if e["platform"] == "bedrock"]
    assert len(calls) == len(log) and {e["auth"] for e in log} == {"sigv4"} and {e["status"] for e in log} == {200}
    paths = {e["path"] for e in calls}
    assert {"/model/anthropic.claude-haiku-5-5/invoke", "/model/global.anthropic.claude-sonnet-5-5/invoke",
            "/model/global.anthropic.claude-opus-5-5/invoke"} == paths
    assert all(e["anthropic_version"] for e in calls)  # in the body, as InvokeModel wants (the model is in the path)
    st = replay.status(store, run).row(0, named=True)
    assert st["platform"] == "bedrock" and st["status"] == "complete"
    # Stored as the catalogue model, priced at Bedrock's rate card: regional +10% for the in-Region id.
    by_tier = {t: r for t, *r in platform_cost_matches(store, run, "bedrock", "regional")}
    assert by_tier["haiku"][0] == "claude-haiku-5-5" and by_tier["haiku"][1] is True
    assert by_tier["haiku"][2] > by_tier["haiku"][3]  # the premium over the Claude API's global rate
    assert by_tier["haiku"][2] == pytest.approx(by_tier["haiku"][3] * Decimal("1.1"), abs=Decimal("1e-8"))
    global_rows = {t: r for t, *r in platform_cost_matches(store, run, "bedrock", "global")}
    assert global_rows["sonnet"][1] is True and global_rows["sonnet"][2] == global_rows["sonnet"][3]
    # The estimate was priced the same way: haiku at the regional rate, sonnet at the global one.
    assert est.filter(tier="haiku")["expected_usd"][0] > 0
    # The judge went through Bedrock too, its spend booked apart, at Bedrock's global rate.
    judged = store.rows("""select bool_and(judge_cost_usd = costlab_platform_usage_cost('claude-opus-5-5', 'bedrock', 'global',
                               'standard', now(), (details->>'input_tokens')::BIGINT, (details->>'output_tokens')::BIGINT, 0, 0, 0)),
                               count(*) from judgements where run = 'bed' and judge = 'pairwise:opus'""")
    assert judged == [(True, 12)]
    store.execute("checkpoint")
    files = [tmp_path / "p.duckdb", *(tmp_path / "p.duckdb.replay").glob("*")]
    for f in files:
        assert AWS_SECRET.encode() not in f.read_bytes()
    store.close()


@pytest.mark.parametrize("region, geo", [("us-east5", "regional"), ("global", "global")])
def test_replay_through_vertex_uses_rawpredict_with_an_access_token(tmp_path, monkeypatch, region, geo):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_VERTEX_PROJECT_ID", raising=False)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN)  # so no Google auth library is called
    tiers = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5"}
    store = open_store(tmp_path, tiers, {"provider": "vertex", "region": region, "project_id": "costlab-test"})
    with TestServer(api_key=GCP_TOKEN) as server:  # any other bearer token gets a 401
        run, _ = replay.plan(store, replay.ReplaySpec(sample=4, tiers=["haiku", "sonnet"], run="vtx", concurrency=2))
        out = replay.execute(store, run, base_url=server.url + "/v1")  # the SDK's Vertex base URLs end in /v1
        log = list(server.log)
    assert out.ok == 8 and "google.auth" not in sys.modules
    assert {e["platform"] for e in log} == {"vertex"} and {e["auth"] for e in log} == {"bearer"}
    assert {e["path"] for e in log} == {
        f"/v1/projects/costlab-test/locations/{region}/publishers/anthropic/models/{m}:rawPredict" for m in tiers.values()}
    assert replay.status(store, run)["platform"].to_list() == ["vertex"]
    rows = platform_cost_matches(store, run, "vertex", geo)
    assert [r[2] for r in rows] == [True, True]
    for _, _, _, cost, claude_api in rows:
        assert cost == claude_api if geo == "global" else cost > claude_api
    store.execute("checkpoint")
    assert GCP_TOKEN.encode() not in (tmp_path / "p.duckdb").read_bytes()
    store.close()


def test_vertex_model_ids_with_a_date_are_sent_as_given_and_priced_as_the_catalogue_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN)
    store = open_store(tmp_path, {"haiku": "claude-haiku-4-5@20251001"},
                       {"provider": "vertex", "region": "global", "project_id": "p1"})
    with TestServer(record_bodies=True) as server:
        run, _ = replay.plan(store, replay.ReplaySpec(sample=2, tiers=["haiku"], run="dated"))
        replay.execute(store, run, base_url=server.url + "/v1")
        paths = {e["path"] for e in server.log}
        bodies = [e["body"] for e in server.log]
    assert paths == {"/v1/projects/p1/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict"}
    assert store.rows("select distinct model, cost_usd > 0 from replays where run = 'dated'") == [("claude-haiku-4-5", True)]
    # The logged temperature carries over to a model that accepts it, although this SDK release has no
    # `temperature` argument (it goes in extra_body): the original parameters, only the model changed.
    assert [b["temperature"] for b in bodies] == [0.2, 0.2]
    assert store.rows("select count(*) from replays where run = 'dated' and not_carried is not null") == [(0,)]
    store.close()


@pytest.mark.parametrize("provider", ["bedrock", "vertex"])
def test_batch_on_bedrock_or_vertex_is_refused_before_anything_is_sent(tmp_path, aws, provider):
    store = open_store(tmp_path, {"haiku": "claude-haiku-5-5"}, {"provider": provider, "region": "us-east-1",
                                                                  "project_id": "p1"})
    with pytest.raises(ConfigError, match=f"--batch: Message Batches are a Claude API feature; the anthropic SDK's {provider} client"):
        replay.plan(store, replay.ReplaySpec(sample=2, tiers=["haiku"], batch=True, run="b"))
    assert store.rows("select count(*) from replay_runs") == [(0,)]
    store.close()


def test_missing_aws_credentials_are_a_clear_error_before_anything_is_sent(tmp_path, aws, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_store(tmp_path, {"haiku": "claude-haiku-5-5"}, {"provider": "bedrock", "region": "us-east-1"})
    with TestServer() as server:
        run, _ = replay.plan(store, replay.ReplaySpec(sample=2, tiers=["haiku"], run="nocred"))
        with pytest.raises(ConfigError, match="no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID"):
            replay.execute(store, run, base_url=server.url)
        assert server.count(None) == 0
    store.close()


def test_missing_vertex_token_without_google_auth_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("anthropic")
    if "google.auth" in sys.modules or _has_google_auth():
        pytest.skip("google-auth is installed: application default credentials would be used")
    monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN", raising=False)
    store = open_store(tmp_path, {"haiku": "claude-haiku-5-5"}, {"provider": "vertex", "region": "global", "project_id": "p"})
    run, _ = replay.plan(store, replay.ReplaySpec(sample=1, tiers=["haiku"], run="notoken"))
    with pytest.raises(ConfigError, match="no Google credentials for Vertex: set GOOGLE_OAUTH_ACCESS_TOKEN"):
        replay.execute(store, run, base_url="http://127.0.0.1:9/v1")
    store.close()


def _has_google_auth() -> bool:
    import importlib.util

    return importlib.util.find_spec("google.auth") is not None if importlib.util.find_spec("google") else False


def test_a_run_resumed_on_another_platform_is_refused(tmp_path, aws, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    store = open_store(tmp_path, {"haiku": "claude-haiku-5-5"}, {"provider": "anthropic"})
    run, _ = replay.plan(store, replay.ReplaySpec(sample=2, tiers=["haiku"], run="moved"))
    store.config.replay["provider"] = "bedrock"
    with pytest.raises(ConfigError, match="run 'moved' was planned on anthropic; \\[replay\\] provider is now 'bedrock'"):
        replay.execute(store, run, base_url="http://127.0.0.1:9")
    store.close()
