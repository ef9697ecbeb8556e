"""Replay budget over replays and judging, and US-only inference (inference_geo "us") priced as such.

--max-usd covers the replay spend and the judge spend together (each still booked apart): the
estimate has a line per judge, a run whose replays fit but whose judging does not is refused before
anything is sent, and a running run stops judging before the total would cross the cap."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import polars as pl
import pytest

from costlab import replay
from costlab.config import Config
from costlab.replay.plan import BudgetError
from costlab.open import open_store as open_db
from costlab.store import Store
from costlab.testing import TestServer
from helpers import ingest_log, invoke

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5", "old": "claude-haiku-4-5"}
SECRET = "sk-ant-test-SECRET-budget-5150"


def open_store(tmp_path, monkeypatch, name: str = "b.duckdb", **replay_settings) -> Store:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    s = open_db(tmp_path / name, Config(tiers=TIERS, replay=replay_settings))
    ingest_log(s, tmp_path, 30)
    return s


def spec(**kw) -> replay.ReplaySpec:
    base = dict(sample=6, tiers=["haiku", "sonnet"], judge="opus", concurrency=3)
    base.update(kw)
    return replay.ReplaySpec(**base)


def totals(est: pl.DataFrame) -> tuple[Decimal, Decimal]:
    return (sum(est.filter(kind="replay")["expected_usd"].to_list(), Decimal(0)),
            sum(est.filter(kind="judge")["expected_usd"].to_list(), Decimal(0)))


def test_estimate_has_a_line_per_judge_with_its_calls(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch, rubric_judge=True)
    _, est = replay.plan(s, spec(run="e"))
    lines = {r["tier"]: r for r in est.iter_rows(named=True)}
    assert est["kind"].to_list() == ["replay", "replay", "judge", "judge"]
    # Every sampled request has a logged answer: both tiers are compared with it, in two orders each.
    assert lines["pairwise:opus"]["calls"] == 2 * 6 * 2 and lines["pairwise:opus"]["model"] == "claude-opus-5-5"
    assert lines["rubric:opus"]["calls"] == 6 * 2
    for r in est.iter_rows(named=True):
        assert 0 < r["expected_usd"] <= r["worst_usd"]
    # Priced at the judge's rates: the same prompt tokens and replies cost more at opus than at haiku.
    with pytest.raises(KeyError):
        lines["pairwise:haiku"]
    _, cheap = replay.plan(s, spec(run="e2", judge="haiku"))
    cheap_lines = {r["tier"]: r for r in cheap.iter_rows(named=True)}
    assert cheap_lines["pairwise:haiku"]["prompt_tokens"] == lines["pairwise:opus"]["prompt_tokens"]
    assert cheap_lines["pairwise:haiku"]["expected_usd"] < lines["pairwise:opus"]["expected_usd"]
    s.close()


def test_run_whose_replays_fit_but_judging_does_not_is_refused_before_sending(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    _, est = replay.plan(s, spec(run="probe"))  # no budget: only the estimate
    replays_usd, judge_usd = totals(est)
    assert judge_usd > 0
    cap = replays_usd + judge_usd / 2
    with TestServer() as server:
        with pytest.raises(BudgetError, match=r"\(replays \$[0-9.]+, judging \$[0-9.]+\), above --max-usd"):
            replay.plan(s, spec(run="over", max_usd=cap))
        assert server.count(None) == 0
    assert s.rows("select count(*) from replay_runs where run = 'over'") == [(0,)]
    # The same replays without the judge fit that budget.
    replay.plan(s, spec(run="fits", judge=None, max_usd=cap))
    s.close()


def test_running_run_stops_judging_before_replay_plus_judge_spend_crosses_the_cap(tmp_path, monkeypatch):
    # A first run without a budget: what the replays and the judge cost on this sample (the test
    # server answers deterministically, so a second run of the same sample costs the same).
    s = open_store(tmp_path, monkeypatch)
    with TestServer() as server:
        full, _ = replay.plan(s, spec(run="full"))
        replay.execute(s, full, base_url=server.url)
        full_judge_calls = server.count(model="opus")
    st = replay.status(s, full).row(0, named=True)
    replay_usd, judge_usd = st["replay_cost_usd"], st["judge_cost_usd"]
    assert full_judge_calls == 2 * 6 * 2 and judge_usd > 0
    cap = replay_usd + judge_usd / 2  # every replay fits, about half of the judging does
    with TestServer() as server:
        run, _ = replay.plan(s, spec(run="capped"))
        out = replay.execute(s, run, base_url=server.url, max_usd=cap)
        judge_calls = server.count(model="opus")
        replayed = server.count(model="haiku") + server.count(model="sonnet")
    st = replay.status(s, run).row(0, named=True)
    assert replayed == 12 and st["replay_cost_usd"] == replay_usd  # the replays all fitted
    assert 0 < judge_calls < full_judge_calls  # judging started, then stopped before the cap
    assert 0 < st["judge_cost_usd"] < judge_usd
    assert st["replay_cost_usd"] + st["judge_cost_usd"] <= cap
    assert out.judge_spent_usd == st["judge_cost_usd"] and out.spent_usd == st["replay_cost_usd"]  # booked apart
    assert st["status"] == "partial" and any("judging stopped before the budget" in n for n in out.notes)
    # Resume with room judges the rest, paying no judge call twice.
    with TestServer() as server:
        replay.execute(s, run, base_url=server.url, max_usd=Decimal(1))
        assert server.count(model="opus") + judge_calls == full_judge_calls
        assert server.count(model="haiku") == server.count(model="sonnet") == 0
    st = replay.status(s, run).row(0, named=True)
    assert st["judge_cost_usd"] == judge_usd and st["status"] == "complete"
    s.close()


def test_sending_counts_the_judge_spend_already_booked(tmp_path, monkeypatch):
    # A run judged on haiku, then given a second tier: its replays get the budget left after both the
    # replay and the judge spend.
    s = open_store(tmp_path, monkeypatch)
    with TestServer() as server:
        run, _ = replay.plan(s, spec(run="r", tiers=["haiku"], sample=6))
        replay.execute(s, run, base_url=server.url)
    st = replay.status(s, run).row(0, named=True)
    assert st["judge_cost_usd"] > 0
    s.execute("""update replay_runs set tiers = ['haiku', 'sonnet'],
                 params = json_merge_patch(params, '{"tiers": ["haiku", "sonnet"],
                                                     "models": {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5"}}')
                 where run = 'r'""")
    sonnet_worst = replay.estimate(s, run).filter(tier="sonnet")["worst_usd"][0]
    # Counting the replays alone, every sonnet replay's worst case fits below this cap; with the judge
    # spend counted, the run has spent it already.
    cap = st["replay_cost_usd"] + st["judge_cost_usd"] - Decimal("0.000000001")
    assert st["replay_cost_usd"] + sonnet_worst < cap
    with TestServer() as server:
        out = replay.execute(s, run, base_url=server.url, max_usd=cap)
        assert server.count(model="sonnet") == 0
    assert out.not_sent == 6 and replay.status(s, run)["status"][0] == "partial"
    s.close()


def test_cli_dry_run_prints_the_judge_line(env):
    with TestServer() as server:
        r = invoke("--sample", "6", "--tiers", "haiku,sonnet", "--judge", "opus", "--dry-run", "--run", "d",
                   "--format", "csv", "--base-url", server.url)
        assert server.count(None) == 0
    assert r.exit_code == 0, r.output
    est = pl.read_csv(io.StringIO(r.stdout))
    assert est["tier"].to_list() == ["haiku", "sonnet", "pairwise:opus"]
    assert est.filter(kind="judge")["calls"].to_list() == [24]


def set_geo(store: Store, feature: str, geo: str) -> None:
    store.execute("""update payloads set request_json = json_merge_patch(request_json, json_object('inference_geo', ?))
                     where request_id in (select request_id from requests where feature = ?)""", [geo, feature])


def test_us_only_request_is_replayed_and_priced_at_the_us_rate(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    set_geo(s, "chat", "us")
    set_geo(s, "triage", "global")
    with TestServer(record_bodies=True) as server:
        run, est = replay.plan(s, spec(run="geo", judge=None, tiers=["haiku", "old"], sample=9))
        replay.execute(s, run, base_url=server.url)
        sent = {(e["body"]["model"], json.dumps(e["body"]["messages"])): e["body"].get("inference_geo") for e in server.log}
    rows = s.rows("""select x.tier, r.feature, x.platform, x.geo_class, x.not_carried->>'inference_geo' is not null,
                            x.cost_usd, costlab_platform_usage_cost(x.model, 'anthropic', 'global', 'standard', x.started_at,
                                                                    x.input_tokens, x.output_tokens, 0, 0, 0)
                     from replays x join requests r using (source, request_id) where x.run = 'geo' and x.status = 'ok'""")
    assert len(rows) == 18
    for tier, feature, platform, geo, dropped, cost, global_cost in rows:
        assert platform == "anthropic"
        if feature == "chat" and tier == "haiku":
            # Carried over, and priced as what it is: the US-only rate, 1.1x the global one.
            assert geo == "us" and not dropped
            assert cost == (global_cost * Decimal("1.1")).quantize(Decimal("1e-9"))
        elif feature == "chat":
            # claude-haiku-4-5 has no data residency option (the API answers 400): not carried, global.
            assert geo == "global" and dropped and cost == global_cost
        else:
            assert geo == "global" and cost == global_cost and dropped == (feature == "triage" and tier == "old")
    assert {g for (m, _), g in sent.items() if m == "claude-haiku-5-5"} == {"us", "global", None}
    assert {g for (m, _), g in sent.items() if m == "claude-haiku-4-5"} == {None}
    # The estimate priced it the same way: haiku's chat requests at the US rate.
    us_geo = s.rows("select count(*) from replays where run = 'geo' and geo_class = 'us'")
    assert us_geo == [(3,)]
    assert est.filter(tier="haiku")["expected_usd"][0] > 0
    s.close()


def test_us_geo_estimate_carries_the_us_factor(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    _, before = replay.plan(s, spec(run="g0", judge=None, tiers=["haiku"], sample=30))
    set_geo(s, "chat", "us")
    _, after = replay.plan(s, spec(run="g1", judge=None, tiers=["haiku"], sample=30))
    chat_share = s.scalar("""select sum(costlab_usage_cost('claude-haiku-5-5', 'standard', now(), prompt_tokens, output_tokens, 0, 0, 0))
                             from costed_requests where feature = 'chat'""")
    assert after["expected_usd"][0] - before["expected_usd"][0] == (chat_share * Decimal("0.1")).quantize(Decimal("1e-9"))
    s.close()


def test_batch_rows_record_their_geo_class(tmp_path, monkeypatch):
    s = open_store(tmp_path, monkeypatch)
    set_geo(s, "chat", "us")
    with TestServer(batch_polls_to_end=1) as server:
        run, _ = replay.plan(s, spec(run="bg", judge=None, tiers=["haiku"], sample=6, batch=True))
        replay.execute(s, run, base_url=server.url, poll_interval=0.01)
    rows = s.rows("""select r.feature, x.geo_class, x.cost_usd = costlab_platform_usage_cost(x.model, 'anthropic', x.geo_class,
                            'batch', x.started_at, x.input_tokens, x.output_tokens, 0, 0, 0)
                     from replays x join requests r using (source, request_id) where x.run = 'bg'""")
    assert sorted(set(rows)) == [("chat", "us", True), ("extract", "global", True), ("triage", "global", True)]
    s.close()
