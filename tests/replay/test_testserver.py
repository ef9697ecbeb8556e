"""The Anthropic-compatible test server (costlab.testing): wire formats, auth, faults, batches."""

from __future__ import annotations

import json
import time

import anthropic
import httpx2
import pytest

from costlab.testing import Fault, TestServer

HELLO = [{"role": "user", "content": "hello"}]


def client(server: TestServer, retries: int = 2, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-test", max_retries=retries, **kw)


def test_messages_answer_is_deterministic_per_prompt_and_model():
    with TestServer() as server:
        c = client(server)
        a1 = c.messages.create(model="claude-haiku-5-5", max_tokens=50, messages=HELLO)
        a2 = c.messages.create(model="claude-haiku-5-5", max_tokens=50, messages=HELLO)
        b = c.messages.create(model="claude-opus-5-5", max_tokens=50, messages=HELLO)
    assert a1.content[0].text == a2.content[0].text
    assert a1.content[0].text.split()[0] == b.content[0].text.split()[0]  # same prompt digest
    assert a1.content[0].text.count("detail") == 1 and b.content[0].text.count("detail") == 3
    assert a1.usage.input_tokens > 0 and a1.usage.output_tokens == 2 and a1.stop_reason == "end_turn"
    assert a1._request_id.startswith("req_")


def test_answer_longer_than_max_tokens_stops_at_max_tokens():
    with TestServer() as server:
        m = client(server).messages.create(model="claude-opus-5-5", max_tokens=2, messages=HELLO)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 2


def test_sdk_sends_bearer_and_x_api_key_is_accepted_too():
    with TestServer(api_key="sk-right") as server:
        anthropic.Anthropic(base_url=server.url, api_key="sk-right").messages.create(
            model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
        r = httpx2.post(server.url + "/v1/messages", headers={"x-api-key": "sk-right", "anthropic-version": "2023-06-01"},
                        json={"model": "claude-haiku-5-5", "max_tokens": 5, "messages": HELLO})
        bad = httpx2.post(server.url + "/v1/messages", headers={"x-api-key": "sk-wrong"},
                          json={"model": "claude-haiku-5-5", "max_tokens": 5, "messages": HELLO})
    assert r.status_code == 200 and r.json()["type"] == "message"
    assert [e["auth"] for e in server.log] == ["bearer", "x-api-key", "none"]
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
    assert "sk-right" not in json.dumps(server.log)


def test_responses_carry_request_id_and_rate_limit_headers():
    with TestServer() as server:
        r = httpx2.post(server.url + "/v1/messages", headers={"authorization": "Bearer k"},
                        json={"model": "claude-haiku-5-5", "max_tokens": 5, "messages": HELLO})
    assert r.headers["request-id"].startswith("req_")
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert int(r.headers[f"anthropic-ratelimit-{kind}-limit"]) > 0
        assert r.headers[f"anthropic-ratelimit-{kind}-reset"].endswith("Z")


def test_count_tokens_matches_the_usage_of_the_same_prompt():
    with TestServer() as server:
        c = client(server)
        n = c.messages.count_tokens(model="claude-haiku-5-5", messages=HELLO).input_tokens
        m = c.messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
    assert n == m.usage.input_tokens


def test_invalid_request_is_a_400_error_body_the_sdk_raises():
    with TestServer() as server:
        with pytest.raises(anthropic.BadRequestError) as info:
            client(server).messages.create(model="claude-unsupported-1", max_tokens=5, messages=HELLO)
    assert info.value.status_code == 400 and info.value.request_id.startswith("req_")
    assert server.count() == 1  # 400 is not retried


def test_429_with_retry_after_is_retried_after_the_given_wait():
    with TestServer(faults=[Fault(429, times=1, retry_after=0.3)]) as server:
        t0 = time.monotonic()
        client(server).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
        elapsed = time.monotonic() - t0
    assert [e["status"] for e in server.log] == [429, 200]
    assert elapsed >= 0.3


def test_429_without_retry_after_and_should_retry_false_is_not_retried():
    with TestServer(faults=[Fault(429, times=1, should_retry="false")]) as server:
        with pytest.raises(anthropic.RateLimitError):
            client(server).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
    assert server.count() == 1


@pytest.mark.parametrize("status, error", [(529, anthropic.OverloadedError), (500, anthropic.InternalServerError)])
def test_server_errors_are_retried_then_raised_when_they_persist(status, error):
    with TestServer(faults=[Fault(status, times=None, retry_after_ms=1)]) as server:
        with pytest.raises(error):
            client(server, retries=2).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
    assert server.count(status=status) == 3  # one try and two retries


def test_dropped_connection_is_retried_by_the_sdk():
    with TestServer(faults=[Fault(0, drop=True, times=1)]) as server:
        m = client(server).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
    assert m.type == "message" and [e["status"] for e in server.log] == [0, 200]


def test_slow_response_times_out_on_the_client():
    with TestServer(faults=[Fault(0, delay=1.0, times=None)]) as server:
        with pytest.raises(anthropic.APITimeoutError):
            client(server, retries=0, timeout=0.2).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)


def test_fault_matches_only_its_model():
    with TestServer(faults=[Fault(529, times=None, model="opus")]) as server:
        c = client(server, retries=0)
        c.messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
        with pytest.raises(anthropic.OverloadedError):
            c.messages.create(model="claude-opus-5-5", max_tokens=5, messages=HELLO)


def _batch_requests(n: int) -> list[dict]:
    return [{"custom_id": f"c{i}", "params": {"model": "claude-haiku-5-5", "max_tokens": 20,
                                              "messages": [{"role": "user", "content": f"q{i}"}]}} for i in range(n)]


def test_batch_create_retrieve_and_results_in_any_order_with_errored_and_expired_rows():
    outcome = {"c1": "errored", "c2": "expired"}
    with TestServer(batch_polls_to_end=2, batch_outcome=lambda cid, params: outcome.get(cid, "succeeded")) as server:
        c = client(server)
        batch = c.messages.batches.create(requests=_batch_requests(4))
        assert batch.processing_status == "in_progress" and batch.request_counts.processing == 4
        assert c.messages.batches.retrieve(batch.id).processing_status == "in_progress"
        ended = c.messages.batches.retrieve(batch.id)
        results = {r.custom_id: r.result for r in c.messages.batches.results(batch.id)}
    assert ended.processing_status == "ended" and ended.results_url
    assert ended.request_counts.succeeded == 2 and ended.request_counts.errored == 1 and ended.request_counts.expired == 1
    assert results["c0"].type == "succeeded" and results["c0"].message.usage.service_tier == "batch"
    assert results["c1"].type == "errored" and results["c2"].type == "expired"


def test_batch_cancel_marks_unprocessed_rows_canceled():
    with TestServer(batch_polls_to_end=99) as server:
        c = client(server)
        batch = c.messages.batches.create(requests=_batch_requests(2))
        assert c.messages.batches.cancel(batch.id).processing_status == "canceling"
        assert c.messages.batches.retrieve(batch.id).processing_status == "ended"
        types = {r.result.type for r in c.messages.batches.results(batch.id)}
    assert types == {"canceled"}


def test_batch_results_before_the_end_and_unknown_batch_are_errors():
    with TestServer(batch_polls_to_end=99) as server:
        c = client(server, retries=0)
        batch = c.messages.batches.create(requests=_batch_requests(1))
        with pytest.raises(anthropic.NotFoundError):
            c.messages.batches.retrieve("msgbatch_nope")
        r = httpx2.get(f"{server.url}/v1/messages/batches/{batch.id}/results", headers={"x-api-key": "k"})
    assert r.status_code == 400


def test_judge_prompts_get_deterministic_verdicts():
    system = "You are a costlab judge. Reply A, B or TIE."
    pair = "<answer_a>\nx detail\n</answer_a>\n<answer_b>\nx detail detail\n</answer_b>"
    with TestServer() as server:
        c = client(server)
        said = c.messages.create(model="claude-opus-5-5", max_tokens=5, system=system,
                                 messages=[{"role": "user", "content": pair}]).content[0].text
        score = c.messages.create(model="claude-opus-5-5", max_tokens=5, system=system,
                                  messages=[{"role": "user", "content": "<answer>a detail detail</answer>"}]).content[0].text
    assert said == "B" and score == "SCORE: 7"


# -- Bedrock InvokeModel and Vertex rawPredict ------------------------------------------------------

AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDSERVERTEST", "AWS_SECRET_ACCESS_KEY": "server-test-secret"}


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    from anthropic.lib.aws._auth import _get_session  # the SDK caches a session per region: none from other tests

    _get_session.cache_clear()
    yield
    _get_session.cache_clear()


def bedrock(server: TestServer, retries: int = 0, **kw) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(aws_region="us-east-1", base_url=server.url, max_retries=retries, **kw)


def vertex(server: TestServer, retries: int = 0) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(region="europe-west1", project_id="proj", access_token="tok",
                                     base_url=server.url + "/v1", max_retries=retries)


@pytest.mark.parametrize("model", ["anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-haiku-5-5"])
def test_bedrock_invoke_model_is_signed_and_answers_like_the_claude_api(aws_env, model):
    with TestServer(aws_secret_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"]) as server:
        m = bedrock(server).messages.create(model=model, max_tokens=50, messages=HELLO)
        same = client(server).messages.create(model=model, max_tokens=50, messages=HELLO)
    assert m.content[0].text == same.content[0].text and m.model == model
    assert m.usage.service_tier is None  # no Claude API service tiers on Bedrock
    (entry, _) = server.log
    assert entry["path"] == f"/model/{model}/invoke" and entry["endpoint"] == "/v1/messages"
    assert entry["platform"] == "bedrock" and entry["auth"] == "sigv4" and entry["anthropic_version"]
    assert server.count(platform="bedrock") == 1 and server.count() == 2


def test_bedrock_rejects_a_wrong_signature_a_model_in_the_body_and_streaming(aws_env):
    with TestServer(aws_secret_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"]) as server:
        with pytest.raises(anthropic.PermissionDeniedError):
            bedrock(server, aws_access_key="AKIDSERVERTEST", aws_secret_key="wrong").messages.create(
                model="anthropic.claude-haiku-5-5", max_tokens=5, messages=HELLO)
        # (the SDK always moves the model to the path, so the body with a model is sent by hand, with a Bedrock API key)
        extra = httpx2.post(server.url + "/model/anthropic.claude-haiku-5-5/invoke", headers={"authorization": "Bearer k"},
                            json={"anthropic_version": "bedrock-2023-05-31", "model": "claude-haiku-5-5", "max_tokens": 5,
                                  "messages": HELLO})
        with pytest.raises(anthropic.BadRequestError) as stream:
            bedrock(server).messages.create(model="anthropic.claude-haiku-5-5", max_tokens=5, messages=HELLO, stream=True)
        r = httpx2.post(server.url + "/model/anthropic.claude-haiku-5-5/invoke", headers={"authorization": "Bearer bedrock-api-key"},
                        json={"max_tokens": 5, "messages": HELLO})
    assert extra.status_code == 400 and "extraneous key [model]" in extra.json()["message"]
    assert "does not stream" in stream.value.body["message"]
    assert r.status_code == 400 and r.headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert "anthropic_version" in r.json()["message"] and "x-amzn-requestid" in r.headers


def test_faults_hit_bedrock_and_vertex_calls_too_and_the_sdk_retries_them(aws_env):
    faults = [Fault(429, times=1, retry_after=0), Fault(503, times=1)]  # the Messages endpoint, on any platform
    with TestServer(faults=faults) as server:
        bedrock(server, retries=2).messages.create(model="anthropic.claude-haiku-5-5", max_tokens=5, messages=HELLO)
        vertex(server, retries=2).messages.create(model="claude-haiku-5-5", max_tokens=5, messages=HELLO)
    assert [(e["platform"], e["status"]) for e in server.log] == [("bedrock", 429), ("bedrock", 503), ("bedrock", 200),
                                                                 ("vertex", 200)]


def test_vertex_raw_predict_and_count_tokens_with_an_access_token():
    with TestServer(api_key="tok") as server:
        c = vertex(server)
        m = c.messages.create(model="claude-haiku-4-5@20251001", max_tokens=50, messages=HELLO)
        n = c.messages.count_tokens(model="claude-haiku-4-5@20251001", messages=HELLO)
        with pytest.raises(anthropic.BadRequestError):
            c.messages.create(model="claude-haiku-4-5@20251001", max_tokens=5, messages=HELLO, stream=True)
    assert n.input_tokens == m.usage.input_tokens and m.model == "claude-haiku-4-5@20251001"
    assert [e["path"].rsplit("/", 1)[-1] for e in server.log] == [
        "claude-haiku-4-5@20251001:rawPredict", "count-tokens:rawPredict", "claude-haiku-4-5@20251001:streamRawPredict"]
    assert {e["auth"] for e in server.log} == {"bearer"} and server.count("/v1/messages/count_tokens") == 1


def test_haiku_refuses_a_forbidden_prompt_and_the_others_answer():
    ask = [{"role": "user", "content": "Do the forbidden thing."}]
    with TestServer() as server:
        c = client(server)
        h = c.messages.create(model="claude-haiku-5-5", max_tokens=50, messages=ask)
        s = c.messages.create(model="claude-sonnet-5-5", max_tokens=50, messages=ask)
    assert h.stop_reason == "refusal" and s.stop_reason == "end_turn" and s.content[0].text.count("detail") == 2


def test_server_books_paid_calls_and_dollars_per_key_and_holds_answers_until_released():
    from concurrent.futures import ThreadPoolExecutor
    from decimal import Decimal

    prices = {"claude-haiku-5-5": (Decimal(1), Decimal(5)), "claude-opus-5-5": (Decimal(5), Decimal(25))}
    judge = "You are a costlab judge. Reply A, B or TIE."
    with TestServer(prices=prices, faults=[Fault(429, times=1, should_retry="false")]) as server:
        a = anthropic.Anthropic(base_url=server.url, api_key="sk-key-A", max_retries=0)
        b = anthropic.Anthropic(base_url=server.url, api_key="sk-key-B", max_retries=0)
        with pytest.raises(anthropic.RateLimitError):  # an error answer is not a paid call
            a.messages.create(model="claude-haiku-5-5", max_tokens=50, messages=HELLO)
        m = a.messages.create(model="claude-haiku-5-5", max_tokens=50, messages=HELLO)
        j = b.messages.create(model="claude-opus-5-5", max_tokens=5, system=judge,
                              messages=[{"role": "user", "content": "<answer_a>x</answer_a><answer_b>y</answer_b>"}])
        assert server.answered() == 2 and server.answered(key="sk-key-A") == 1 and server.answered(judge=True) == 1
        assert server.charged_usd(key="sk-key-A") == (m.usage.input_tokens * 1 + m.usage.output_tokens * 5) / Decimal(10**6)
        assert server.charged_usd(judge=True) == server.charged_usd(key="sk-key-B") == \
            (j.usage.input_tokens * 5 + j.usage.output_tokens * 25) / Decimal(10**6)
        assert "sk-key" not in json.dumps(server.log)  # books by a hash of the key, never the key
        # Held: the first call passes, the next two wait until released, then are answered and charged.
        server.hold(after=1, model="haiku")
        with ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(a.messages.create, model="claude-haiku-5-5", max_tokens=50, messages=HELLO)
                     for _ in range(3)]
            assert server.wait_held(2, timeout=10)
            assert server.answered(key="sk-key-A") == 2 and sum(c.done() for c in calls) <= 1  # two still waiting
            server.release()
            assert all(c.result().usage.output_tokens == 2 for c in calls)
        assert server.answered(key="sk-key-A") == 4 and server.held() == 0
