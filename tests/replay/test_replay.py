"""Replay: sampling, sending through the SDK against the test server, budget, resume, checks, judges, results."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from costlab import replay
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.replay.plan import BudgetError
from costlab.open import open_store
from costlab.testing import Fault, TestServer
from helpers import ingest_log

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
SECRET = "sk-ant-test-SECRET-4242"


@pytest.fixture
def rstore(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    s = open_store(tmp_path / "r.duckdb", Config(tiers=TIERS))
    ingest_log(s, tmp_path, 30)
    yield s
    s.close()


def spec(**kw) -> replay.ReplaySpec:
    base = dict(sample=9, tiers=["haiku", "sonnet"], concurrency=4)
    base.update(kw)
    return replay.ReplaySpec(**base)


def rows(store, sql, params=None):
    return store.rows(sql, params)


def test_only_requests_with_a_logged_body_qualify(rstore):
    assert replay.qualifying(rstore, spec()) == 30
    rstore.execute("delete from payloads where request_id in ('msg_0000', 'msg_0001')")
    assert replay.qualifying(rstore, spec()) == 28
    assert replay.qualifying(rstore, spec(filter="feature = 'chat'")) == 9


def test_sample_is_stratified_seeded_and_stored_with_the_run(rstore):
    a, _ = replay.plan(rstore, spec(run="a", sample=6, seed=1))
    b, _ = replay.plan(rstore, spec(run="b", sample=6, seed=1))
    c, _ = replay.plan(rstore, spec(run="c", sample=6, seed=2))
    sample = lambda run: rows(rstore, "select request_id, stratum from replay_sample where run = ? order by 1", [run])
    assert sample("a") == sample("b") != sample("c")
    strata = sorted(s for _, s in sample("a"))
    assert strata == ["chat/sonnet"] * 2 + ["extract/haiku"] * 2 + ["triage/haiku"] * 2


def test_every_stratum_is_represented_before_proportional_allocation(rstore):
    rstore.execute("delete from payloads where request_id in (select request_id from requests where feature = 'chat' and request_id > 'msg_0003')")
    replay.plan(rstore, spec(run="s", sample=3))
    strata = sorted(r[0] for r in rows(rstore, "select stratum from replay_sample where run = 's'"))
    assert strata == ["chat/sonnet", "extract/haiku", "triage/haiku"]


def test_replay_under_injected_faults_answers_or_records_every_request(rstore):
    faults = [Fault(429, times=3, retry_after=0.05), Fault(429, times=2), Fault(529, times=2, retry_after_ms=10),
              Fault(500, times=1), Fault(0, drop=True, times=2),
              Fault(400, times=None, prompt="ticket 5:")]  # one request the API rejects outright
    with TestServer(faults=faults, latency=0.005) as server:
        run, _ = replay.plan(rstore, spec(run="f", sample=12))
        out = replay.execute(rstore, run, base_url=server.url, max_retries=4)
    statuses = rows(rstore, "select status, error_type, count(*) from replays where run = 'f' group by all order by 1")
    assert sum(n for _, _, n in statuses) == 24
    assert {s for s, _, _ in statuses} <= {"ok", "error"}
    errors = rows(rstore, "select request_id, error_type from replays where run = 'f' and status = 'error'")
    assert all(e == "invalid_request" for _, e in errors)
    assert out.throttled >= 1 and out.min_concurrency < 4
    assert rows(rstore, "select status from replay_runs where run = 'f'") == [("complete",)]


def test_each_result_is_priced_from_the_price_card(rstore):
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="p", sample=3))
        replay.execute(rstore, run, base_url=server.url)
    priced = rows(rstore, """select x.cost_usd, costlab_usage_cost(x.model, 'standard', x.started_at, x.input_tokens,
                                    x.output_tokens, 0, 0, 0), p.input, p.output, x.input_tokens, x.output_tokens
                             from replays x join prices p on p.model = x.model and p.origin = 'builtin' and p.speed = 'standard'
                              and p.band_min_tokens = 0 and p.valid_to is null where x.run = 'p'""")
    assert priced
    for cost, again, pin, pout, tin, tout in priced:
        assert cost == again == (pin * tin + pout * tout) / Decimal(1_000_000)


def test_not_carried_parameters_are_recorded_not_dropped_silently(rstore):
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="n", sample=1, tiers=["haiku"]))
        replay.execute(rstore, run, base_url=server.url)
    (nc,) = rows(rstore, "select not_carried from replays where run = 'n'")[0]
    assert "temperature" in json.loads(nc)


def test_budget_refuses_a_run_estimated_above_max_usd(rstore):
    with pytest.raises(BudgetError, match="above --max-usd 0.0001"):
        replay.plan(rstore, spec(run="big", max_usd=Decimal("0.0001")))


def test_budget_is_never_exceeded_while_sending(rstore):
    run, est = replay.plan(rstore, spec(run="b", sample=9))
    with TestServer() as server:
        # All 18 answers cost about $0.00075 here; a sonnet call reserves up to $0.0007 until priced.
        out = replay.execute(rstore, run, base_url=server.url, max_usd=Decimal("0.00074"))
        sent = server.count()
    spent = rstore.scalar("select sum(cost_usd) from replays where run = 'b'")
    assert 0 < spent <= Decimal("0.00074")
    assert out.not_sent > 0 and sent == out.sent < 18
    assert rows(rstore, "select count(*) from replays where run = 'b' and status = 'not_sent'") == [(out.not_sent,)]
    assert rows(rstore, "select status from replay_runs where run = 'b'") == [("partial",)]


def test_resume_sends_only_what_is_missing_and_never_a_paid_request(rstore):
    run, _ = replay.plan(rstore, spec(run="r", sample=9))
    with TestServer() as server:
        first = replay.execute(rstore, run, base_url=server.url, max_usd=Decimal("0.00074"))
        second = replay.execute(rstore, run, base_url=server.url, max_usd=Decimal("1"))
        third = replay.execute(rstore, run, base_url=server.url, max_usd=Decimal("1"))
    assert 0 < first.sent < 18 and first.sent + second.sent == 18 and third.sent == 0
    assert max(server.paid.values()) == 1 and sum(server.paid.values()) == 18
    assert rows(rstore, "select count(*), count(distinct (source, request_id, tier)) from replays where run = 'r'") == [(18, 18)]


def test_dry_run_estimate_sends_nothing(rstore):
    with TestServer() as server:
        run, est = replay.plan(rstore, spec(run="d"))
        assert server.count(None) == 0
    assert est["tier"].to_list() == ["haiku", "sonnet"]
    assert all(e <= w for e, w in zip(est["expected_usd"], est["worst_usd"]))
    assert rows(rstore, "select count(*) from replays") == [(0,)]


def test_unknown_tier_is_a_clear_error(rstore):
    with pytest.raises(ConfigError, match="no model for tier 'haiko'. Did you mean 'haiku'"):
        replay.plan(rstore, spec(tiers=["haiko"]))


def test_deterministic_checks_catch_broken_json_and_wrong_labels(rstore):
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="c", sample=9))
        replay.execute(rstore, run, base_url=server.url)
    res = {(r["feature"], r["tier"], r["judge"]): r for r in replay.results(rstore, run).iter_rows(named=True)}
    assert res[("extract", "haiku", "check:json")]["pass_rate"] == 0.0  # the test server's haiku cuts its JSON
    assert res[("extract", "sonnet", "check:json")]["pass_rate"] == 1.0
    assert res[("triage", "haiku", "check:match")]["pass_rate"] == 0.0  # says negative, the original said positive
    assert res[("triage", "sonnet", "check:match")]["pass_rate"] == 1.0
    assert ("chat", "haiku", "check:match") not in res  # long answers are not compared verbatim
    fails = replay.failures(rstore, run)
    assert set(fails["tier"]) == {"haiku"} and set(fails["judge"]) == {"check:json", "check:match"}


def test_pairwise_judge_is_blind_in_both_orders_and_booked_apart(rstore):
    rstore.config.replay["rubrics"] = {"chat": "RUBRIC-FOR-CHAT: is it clear?", "default": "RUBRIC-DEFAULT"}
    with TestServer(record_bodies=True) as server:
        run, _ = replay.plan(rstore, spec(run="j", sample=3, tiers=["haiku", "opus"], judge="opus"))
        replay.execute(rstore, run, base_url=server.url)
        judge_calls = server.count(model="opus") - 3
        shown = [json.dumps([e["body"]["system"], e["body"]["messages"]]) for e in server.log
                 if str(e["body"].get("system", "")).startswith("You are a costlab judge")]
    verdicts = dict(rows(rstore, "select tier, list(distinct verdict) from judgements where run = 'j' and judge = 'pairwise:opus' group by 1"))
    # References are the logged answers (2 details in chat, none in the short ones); haiku has 1, opus 3.
    assert judge_calls == 2 * 6  # both orders, for each of 3 requests x 2 tiers
    assert rows(rstore, "select bool_and(order_consistent) from judgements where judge = 'pairwise:opus'") == [(True,)]
    assert "win" in verdicts["opus"]
    st = replay.status(rstore, run).row(0, named=True)
    assert st["judge_cost_usd"] > 0 and st["replay_cost_usd"] > 0
    assert rstore.scalar("select sum(cost_usd) from replays where run = 'j'") == st["replay_cost_usd"]
    # The judge never sees a model or tier name: answers are shown as A and B.
    assert len(shown) == judge_calls
    for text in shown:
        assert not any(name in text.lower() for name in ("claude", "haiku", "sonnet", "opus", "tier"))
    # Each feature's rubric from [replay.rubrics], the default for the others.
    chat = [t for t in shown if "release notes" in t]
    assert chat and all("RUBRIC-FOR-CHAT" in t for t in chat)
    assert all("RUBRIC-DEFAULT" in t for t in shown if t not in chat)


def test_judge_with_position_bias_shows_up_as_order_inconsistency(rstore):
    with TestServer(judge_position_bias=True) as server:
        run, _ = replay.plan(rstore, spec(run="pb", sample=3, tiers=["haiku"], judge="opus"))
        replay.execute(rstore, run, base_url=server.url)
    res = replay.results(rstore, run).filter(judge="pairwise:opus")
    assert res["inconsistent_rate"].to_list() == [1.0] * res.height
    assert set(res["ties"].to_list()) == {1}  # 'A' then 'A': one win, one loss -> a tie on balance


def test_results_have_wilson_intervals_and_cost_per_good_answer(rstore):
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="w", sample=9))
        replay.execute(rstore, run, base_url=server.url)
    for r in replay.results(rstore, run).iter_rows(named=True):
        assert 0 <= r["pass_low"] <= r["pass_rate"] <= r["pass_high"] <= 1
        if r["good"]:
            assert r["cost_per_good_usd"] == (r["replay_cost_usd"] / r["good"]).quantize(Decimal("1e-9"))
        else:
            assert r["cost_per_good_usd"] is None


def test_batch_mode_uses_message_batches_at_half_price_with_failed_rows_recorded(rstore):
    bad = {"r1": "errored", "r2": "expired", "r3": "canceled"}
    with TestServer(batch_polls_to_end=2, batch_outcome=lambda cid, p: bad.get(cid, "succeeded")) as server:
        run, est = replay.plan(rstore, spec(run="bt", sample=3, batch=True))
        out = replay.execute(rstore, run, base_url=server.url, poll_interval=0.01)
        again = replay.execute(rstore, run, base_url=server.url, poll_interval=0.01)
        assert server.count("/v1/messages/batches") == 1 and server.count("/v1/messages") == 0
    assert out.ok == 3 and out.errors == 3 and again.sent == 0
    errs = rows(rstore, "select error_type, cost_usd from replays where run = 'bt' and status = 'error' order by 1")
    assert errs == [("canceled", 0), ("errored", 0), ("expired", 0)]
    half = rows(rstore, """select bool_and(cost_usd = costlab_usage_cost(model, 'standard', started_at, input_tokens,
                                      output_tokens, 0, 0, 0) / 2) from replays where run = 'bt' and status = 'ok'""")
    assert half == [(True,)]


def test_api_key_never_reaches_the_store(rstore, tmp_path):
    with TestServer(api_key=SECRET) as server:
        run, _ = replay.plan(rstore, spec(run="k", sample=3, judge="opus"))
        replay.execute(rstore, run, base_url=server.url)
    assert rows(rstore, "select count(*) from replays where run = 'k' and status = 'ok'") == [(6,)]
    rstore.execute("checkpoint")
    assert SECRET.encode() not in (tmp_path / "r.duckdb").read_bytes()


def test_regex_check_and_rubric_judge_from_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    config = Config(tiers=TIERS, replay={"regex": {"chat": r"^\w+ detail detail"}, "rubric_judge": True})
    with open_store(tmp_path / "g.duckdb", config) as s:
        ingest_log(s, tmp_path, 30)
        with TestServer() as server:
            run, _ = replay.plan(s, spec(run="g", sample=3, judge="opus"))
            replay.execute(s, run, base_url=server.url)
        res = {(r["feature"], r["tier"], r["judge"]): r for r in replay.results(s, run).iter_rows(named=True)}
    assert res[("chat", "haiku", "check:regex")]["pass_rate"] == 0.0  # one "detail" only
    assert res[("chat", "sonnet", "check:regex")]["pass_rate"] == 1.0
    assert ("triage", "haiku", "check:regex") not in res
    # rubric: 3 + 2 x details, good from 7: haiku (1 detail) 5/10 fails, sonnet (2) 7/10 passes
    assert res[("chat", "haiku", "rubric:opus")]["pass_rate"] == 0.0
    assert res[("chat", "sonnet", "rubric:opus")]["pass_rate"] == 1.0
    assert res[("chat", "sonnet", "rubric:opus")]["judge_cost_usd"] > 0


def test_missing_api_key_is_a_clear_error_before_anything_is_sent(rstore, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="nokey", sample=2))
        with pytest.raises(ConfigError, match="no API key: set ANTHROPIC_API_KEY"):
            replay.execute(rstore, run, base_url=server.url)
        assert server.count(None) == 0


def test_failed_judge_calls_are_left_for_resume_to_judge(rstore):
    judge_down = [Fault(529, times=None, model="opus", should_retry="false")]
    with TestServer(faults=judge_down) as server:
        run, _ = replay.plan(rstore, spec(run="jd", sample=2, tiers=["haiku"], judge="opus"))
        replay.execute(rstore, run, base_url=server.url)
    assert rstore.scalar("select count(*) from judgements where run = 'jd' and judge = 'pairwise:opus'") == 0
    with TestServer() as server:
        out = replay.execute(rstore, run, base_url=server.url)
        assert server.count(model="haiku") == 0  # nothing re-sent, only judged
    assert out.sent == 0
    assert rstore.scalar("select count(*) from judgements where run = 'jd' and judge = 'pairwise:opus'") == 2


def test_pairwise_judge_whose_second_order_fails_books_the_first_call_and_resume_completes_it(rstore):
    # The second order shows the reference (the logged answer, "Item ...") as A: only those calls fail.
    second_order_down = [Fault(529, times=None, model="opus", prompt="<answer_a>\\nItem ", should_retry="false")]
    with TestServer(faults=second_order_down) as server:
        run, _ = replay.plan(rstore, spec(run="half", sample=3, tiers=["haiku"], judge="opus", filter="feature = 'chat'"))
        replay.execute(rstore, run, base_url=server.url)
        assert server.count(model="opus", status=200) == 3 and server.count(model="opus", status=529) == 3
    half = rows(rstore, """select verdict, good, score, details->>'incomplete' is not null, judge_cost_usd,
                                  costlab_usage_cost('claude-opus-5-5', 'standard', now(), (details->>'input_tokens')::BIGINT,
                                                     (details->>'output_tokens')::BIGINT, 0, 0, 0)
                           from judgements where run = 'half' and judge = 'pairwise:opus'""")
    assert len(half) == 3
    for verdict, good, score, incomplete, cost, first_call in half:
        # no verdict (what-if and the pass rates ignore it), but the paid first call is booked
        assert (verdict, good, score, incomplete) == (None, None, None, True) and cost == first_call > 0
    res = replay.results(rstore, run).filter(judge="pairwise:opus").row(0, named=True)
    assert res["incomplete"] == 3 and res["judged"] == 0 and res["judge_cost_usd"] == sum(h[4] for h in half)
    with TestServer() as server:
        replay.execute(rstore, run, base_url=server.url)
        assert server.count(model="opus") == 3  # only the missing order: the first is never paid twice
        assert server.count(model="haiku") == 0
    done = rows(rstore, """select verdict, order_consistent, details->>'incomplete', judge_cost_usd,
                                  costlab_usage_cost('claude-opus-5-5', 'standard', now(), (details->>'input_tokens')::BIGINT,
                                                     (details->>'output_tokens')::BIGINT, 0, 0, 0)
                           from judgements where run = 'half' and judge = 'pairwise:opus'""")
    assert len(done) == 3
    for verdict, consistent, incomplete, cost, both_calls in done:
        assert verdict == "loss" and consistent and incomplete is None  # haiku's 1 detail against the original's 2
        assert cost == both_calls > max(h[4] for h in half)
    assert replay.results(rstore, run).filter(judge="pairwise:opus")["incomplete"].to_list() == [0]


def test_stop_check_fails_answers_cut_at_max_tokens_and_refusals(rstore):
    # chat answers: sonnet says 3 words, haiku 2; with max_tokens 2 sonnet is cut. "forbidden": haiku refuses.
    rstore.execute("""update payloads set request_json = json_merge_patch(request_json, '{"max_tokens": 2}')
                      where request_id in (select request_id from requests where feature = 'chat')""")
    rstore.execute("""update payloads set request_json = replace(request_json::VARCHAR, 'ticket', 'forbidden ticket')::JSON
                      where request_id in (select request_id from requests where feature = 'triage')""")
    with TestServer() as server:
        run, _ = replay.plan(rstore, spec(run="stop", sample=6))
        replay.execute(rstore, run, base_url=server.url)
    res = {(r["feature"], r["tier"]): r["pass_rate"] for r in replay.results(rstore, run).filter(judge="check:stop").iter_rows(named=True)}
    assert res == {("chat", "haiku"): 1.0, ("chat", "sonnet"): 0.0, ("extract", "haiku"): 1.0, ("extract", "sonnet"): 1.0,
                   ("triage", "haiku"): 0.0, ("triage", "sonnet"): 1.0}
    stops = dict(rows(rstore, """select x.tier || '/' || r.feature, list(distinct x.stop_reason) from replays x
                                 join requests r using (source, request_id) where x.run = 'stop' group by 1"""))
    assert stops["sonnet/chat"] == ["max_tokens"] and stops["haiku/triage"] == ["refusal"]


def test_a_batch_create_that_times_out_is_never_retried_into_a_second_batch(rstore):
    # The server creates the batch but answers after the client has given up: a retry would create
    # (and bill) a second batch. The pairs stay in doubt, counted at their worst case; resume
    # collects nothing twice and creates no batch for them.
    fault = Fault(path="/v1/messages/batches", delay=2.0, times=1)
    with TestServer(faults=[fault], batch_polls_to_end=1) as server:
        run, _ = replay.plan(rstore, spec(run="bto", sample=2, batch=True))
        with pytest.raises(Exception):
            replay.execute(rstore, run, base_url=server.url, poll_interval=0.01, timeout=0.5, max_retries=3)
        status = rows(rstore, "select status, count(*) > 0, sum(in_doubt_usd) > 0 from replays where run = 'bto' group by 1")
        replay.execute(rstore, run, base_url=server.url, poll_interval=0.01)
        deadline = time.monotonic() + 10
        while not server.count("/v1/messages/batches", status=200) and time.monotonic() < deadline:
            time.sleep(0.05)  # the server answers the first create after its delay
        time.sleep(0.3)
        assert server.count("/v1/messages/batches", status=200) == 1
    assert status == [("sending", True, True)]


def test_a_batch_create_refused_with_an_error_answer_puts_its_pairs_back_for_resume(rstore):
    # An error answer means no batch was made: nothing is in doubt, and resume sends the pairs.
    with TestServer(faults=[Fault(status=529, path="/v1/messages/batches", times=1)], batch_polls_to_end=1) as server:
        run, _ = replay.plan(rstore, spec(run="b529", sample=2, batch=True))
        with pytest.raises(Exception):
            replay.execute(rstore, run, base_url=server.url, poll_interval=0.01, max_retries=0)
        assert rows(rstore, "select count(*) from replays where run = 'b529' and status = 'sending'") == [(0,)]
        out = replay.execute(rstore, run, base_url=server.url, poll_interval=0.01)
        assert server.count("/v1/messages/batches", status=200) == 1
    assert out.ok > 0 and rows(rstore, "select status, count(*) from replays where run = 'b529' group by 1") == [("ok", out.ok)]
