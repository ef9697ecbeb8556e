"""Wrong-model signals (issue #4): each detector fires on its injected pattern, with the right segment
and a weekly dollar impact within 5% of the injected truth, and stays silent on a clean background.

The scenario builder: a clean background from the seeded generator (two weeks, 2 November to
16 November 2026), into which `inject` writes one pattern as plain rows of `requests`. The truth a
detector is checked against is computed independently of the detector's SQL: by pricing the injected
rows (and the same rows on the cheaper tier or at the batch tier) through the costed_requests view
of a scratch store, or from the injected token counts and the catalogue's list rates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from costlab import signals
from costlab.store import queries
from costlab.cli.signals import register
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.schema import COLUMN_NAMES
from costlab.open import open_store
from costlab.store import Store

from helpers import END, FIXTURES, ROOT, START, copy_store, inject

LAST_WEEK = END - timedelta(days=7)
WEEKS = 2
BACKGROUND_ROWS = 40_000


# -- the scenario builder ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def background_file(tmp_path_factory, store_template):
    """A store holding only the clean generated background, built once per module."""
    path = tmp_path_factory.mktemp("signals") / "background.duckdb"
    with copy_store(store_template, path) as s:
        s.execute("insert into requests by name " + generate_sql(BACKGROUND_ROWS, seed=11, start="2026-11-02", days=14))
    return path


@pytest.fixture
def scenario(background_file, tmp_path):
    """A private copy of the background store to inject one pattern into."""
    path = tmp_path / "scenario.duckdb"
    shutil.copy(background_file, path)
    s = open_store(path, Config())
    yield s
    s.close()


_scratch: list[Store] = []  # the module's scratch store (the fixture below), for priced_total


@pytest.fixture(scope="module", autouse=True)
def scratch_store(store_template, tmp_path_factory):
    """One fresh store for the module that priced_total empties and refills at each call."""
    with copy_store(store_template, tmp_path_factory.mktemp("scratch") / "scratch.duckdb") as s:
        _scratch.append(s)
        yield s
        _scratch.remove(s)


def priced_total(rows: pl.DataFrame) -> Decimal:
    """What these request rows cost, priced by the costed_requests view of a scratch store that holds
    only them."""
    scratch = _scratch[0]
    scratch.execute("delete from requests")
    scratch.con.register("incoming", rows)
    try:
        scratch.execute("insert into requests by name select * from incoming")
    finally:
        scratch.con.unregister("incoming")
    assert scratch.scalar("select count(*) from requests") == rows.height
    assert scratch.scalar("select count(*) filter (where not priced) from costed_requests") == 0
    return scratch.scalar("select sum(cost_usd) from costed_requests")


def injected(store: Store, prefix: str = "inj_") -> pl.DataFrame:
    return store.frame("select * from requests where request_id like $p", {"p": prefix + "%"})


def findings(store: Store, config: Config | None = None, **kwargs) -> pl.DataFrame:
    return signals.run_signals(store, config=config or Config(), **kwargs)


def one(found: pl.DataFrame, signal: str) -> dict:
    rows = found.filter(pl.col("signal") == signal)
    assert rows.height == 1, found.select("signal", "segment", "evidence")
    return rows.row(0, named=True)


def assert_within_5_percent(got: Decimal | float, truth: Decimal | float) -> None:
    got, truth = float(got), float(truth)
    assert truth > 0
    assert abs(got - truth) <= 0.05 * truth, f"impact {got:.4f} vs injected truth {truth:.4f}"


REAL = FIXTURES / "signals"  # see its README.md for sources and licences


def real_background(store: Store) -> None:
    """The heads of the Azure LLM (code, conversation) and Mooncake traces, each replayed once on each
    of the 14 days, five hours later each day, mapped to tiers as fixtures/signals/README.md says.

    A few minutes of traffic at the same clock time every day is what a scheduled job looks like (and
    batch_eligible reads it so); the recorded traces say nothing about the time of day, so they are
    not given one."""
    store.execute(
        """insert into requests by name
        with days as (select unnest(range(14)) as day),
        code as (select row_number() over (order by TIMESTAMP) - 1 as k,
                        epoch(TIMESTAMP - min(TIMESTAMP) over ()) as sec, ContextTokens as p, GeneratedTokens as o
                 from read_csv($code, types = {'TIMESTAMP': 'TIMESTAMP'})),
        conv as (select row_number() over (order by TIMESTAMP) - 1 as k,
                        epoch(TIMESTAMP - min(TIMESTAMP) over ()) as sec, ContextTokens as p, GeneratedTokens as o
                 from read_csv($conv, types = {'TIMESTAMP': 'TIMESTAMP'})),
        mc as (select row_number() over () - 1 as k, timestamp / 1000.0 as sec, input_length as p,
                      output_length as o, hash_ids from read_json($mooncake)),
        blocks as (select k, unnest(hash_ids) as hid, generate_subscripts(hash_ids, 1) as pos from mc),
        first_seen as (select hid, min(k) as k0 from blocks group by hid),
        -- leading prefix blocks some earlier request already sent: what a prompt cache would read
        shared as (select b.k, coalesce(min(b.pos) filter (where f.k0 >= b.k) - 1, max(b.pos)) as blocks
                   from blocks b join first_seen f using (hid) group by b.k),
        traces as (
            select 'az_code_' || k as id, sec, 9 * 3600 as tod, p as input, 0 as cached, o, 'code-complete' as feature,
                   'claude-haiku-5-5' as model, k from code
            union all
            select 'az_conv_' || k, sec, 15 * 3600, p, 0, o, 'chat', 'claude-sonnet-5-5', k from conv
            union all
            select 'mc_' || mc.k, sec, 20 * 3600, p - least(p, s.blocks * 512), least(p, s.blocks * 512), o,
                   'long-chat', 'claude-sonnet-5-5', mc.k from mc join shared s using (k)
        )
        select id || '_d' || day as request_id,
               $start::TIMESTAMPTZ + to_microseconds(((day * 86400 + (tod + 5 * 3600 * day) % 86400 + sec) * 1e6)::BIGINT) as ts,
               'anthropic' as platform, model, 'standard' as service_tier, 'standard' as speed,
               'global' as inference_geo, input as input_tokens, o as output_tokens, cached as cache_read_tokens,
               0 as cache_write_5m_tokens, 0 as cache_write_1h_tokens, 'ok' as status, 200 as http_status,
               'end_turn' as stop_reason, feature, 'trace_user_' || (hash(k, feature) % 300) as user_id,
               'trace_customer_' || (hash(k, feature) % 12) as customer_id, 1 as attempt, 'trace' as source
        from traces, days""",
        {"code": str(REAL / "azure_code_head800.csv"), "conv": str(REAL / "azure_conv_head1500.csv"),
         "mooncake": str(REAL / "mooncake_head1000.jsonl"), "start": START})


@pytest.fixture(scope="module")
def real_file(tmp_path_factory, store_template):
    path = tmp_path_factory.mktemp("signals_real") / "real.duckdb"
    with copy_store(store_template, path) as s:
        real_background(s)
    return path


@pytest.fixture
def real_scenario(real_file, tmp_path):
    path = tmp_path / "real.duckdb"
    shutil.copy(real_file, path)
    s = open_store(path, Config())
    yield s
    s.close()


# -- the clean background ------------------------------------------------------------------------

def test_every_detector_is_silent_on_the_clean_generated_background(scenario):
    assert findings(scenario).height == 0


def test_every_detector_is_silent_on_the_real_trace_background(real_scenario):
    assert real_scenario.scalar("select count(*) from requests") == 3_300 * 14
    assert real_scenario.scalar("select sum(cache_read_tokens) from requests where feature = 'long-chat'") > 0
    found = findings(real_scenario)
    assert found.height == 0, found.select("signal", "segment", "evidence").to_dicts()


def test_over_modeling_fires_on_the_real_trace_background_too(real_scenario):
    inject(real_scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="1000 + (i * 7 % 7000)", output_tokens="3 + (i % 9)")
    rows = injected(real_scenario)
    truth = (priced_total(rows) - priced_total(rows.with_columns(pl.lit("claude-sonnet-5-5").alias("model")))) / WEEKS
    f = one(findings(real_scenario), "over_modeling")
    assert f["segment"] == "feature=ticket-tagger model=claude-opus-5-5 tier=opus"
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_batch_detector_is_silent_when_the_configured_features_have_no_standard_traffic(scenario):
    found = findings(scenario, Config(signals={"batch_features": ["report-gen"]}))
    assert found.height == 0


def test_an_empty_store_has_no_findings(store):
    found = findings(store)
    assert found.height == 0 and found.schema == pl.Schema(signals.COLUMNS)


# -- one detector, one pattern -------------------------------------------------------------------

def test_over_modeling_finds_short_classification_traffic_on_opus_and_the_saving_on_sonnet(scenario):
    inject(scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="4000 + (i % 400)", output_tokens="3 + (i % 9)")
    rows = injected(scenario)
    truth = (priced_total(rows) - priced_total(rows.with_columns(pl.lit("claude-sonnet-5-5").alias("model")))) / WEEKS
    f = one(findings(scenario), "over_modeling")
    assert f["segment"] == "feature=ticket-tagger model=claude-opus-5-5 tier=opus"
    assert_within_5_percent(f["weekly_impact_usd"], truth)
    assert "claude-sonnet-5-5" in f["suggestion"] and f["query"] == "queries/signals/over_modeling.sql"


def test_over_modeling_follows_the_tiers_configuration(scenario):
    inject(scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="4000 + (i % 400)", output_tokens="3 + (i % 9)")
    config = Config(tiers={"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-5-5"})
    f = one(findings(scenario, config), "over_modeling")
    assert "claude-sonnet-4-6" in f["suggestion"]


def test_over_modeling_stays_quiet_when_outputs_are_long(scenario):
    inject(scenario, 12_000, START, END, feature="'essay-writer'", model="'claude-opus-5-5'",
           input_tokens="4000", output_tokens="900 + (i % 200)")
    assert findings(scenario).filter(pl.col("signal") == "over_modeling").height == 0


def test_over_modeling_stays_quiet_when_feedback_shows_the_cheaper_tier_is_worse(scenario):
    inject(scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="4000 + (i % 400)", output_tokens="3 + (i % 9)", feedback_score="0.9")
    inject(scenario, 500, START, END, request_id="'inj_s_' || i", feature="'ticket-tagger'",
           input_tokens="4000 + (i % 400)", output_tokens="3 + (i % 9)", feedback_score="0.6")
    assert findings(scenario).filter(pl.col("signal") == "over_modeling").height == 0
    # the same feedback on both tiers: the saving is reported, with the comparison as evidence
    scenario.execute("update requests set feedback_score = 0.88 where request_id like 'inj_s_%'")
    f = one(findings(scenario), "over_modeling")
    assert "feedback 0.9 here vs 0.88 on sonnet" in f["evidence"]


def test_cost_per_user_finds_the_customer_whose_cost_grew_with_the_same_users(scenario):
    # the smallest customer active in both weeks, so its own week-to-week noise is small
    customer, users = scenario.rows(
        """select customer_id, list(distinct user_id order by user_id) from requests
           group by customer_id
           having count(distinct user_id) filter (where ts >= $w) >= 3
              and count(distinct user_id) filter (where ts < $w) >= 3
           order by count(*) limit 1""", {"w": LAST_WEEK})[0]
    users_sql = "[" + ", ".join(f"'{u}'" for u in users) + "]"
    inject(scenario, 2_400, LAST_WEEK, END, customer_id=f"'{customer}'",
           user_id=f"{users_sql}[(i % {len(users)}) + 1]", input_tokens="10000", output_tokens="500")
    truth = priced_total(injected(scenario))  # all of it in the last week
    found = findings(scenario)
    rows = found.filter((pl.col("signal") == "cost_per_user") & (pl.col("segment") == f"customer={customer}"))
    assert rows.height == 1, found.select("signal", "segment", "evidence")
    assert_within_5_percent(rows["weekly_impact_usd"][0], truth)


def test_escalation_spike_finds_the_feature_whose_haiku_answers_started_escalating(scenario):
    parents = scenario.frame(
        """select request_id, ts from requests
           where feature = 'support-triage' and model = 'claude-haiku-5-5' and status = 'ok'
             and coalesce(attempt, 1) = 1 and ts >= $w
           order by request_id limit 900""", {"w": LAST_WEEK})
    assert parents.height == 900
    scenario.con.register("parents", parents.with_row_index("k"))
    scenario.execute(
        """insert into requests by name
           select 'inj_esc_' || k as request_id, ts + interval 4 second as ts, 'anthropic' as platform,
                  'claude-sonnet-5-5' as model, 'standard' as service_tier, 'standard' as speed,
                  'global' as inference_geo, 20000 as input_tokens, 300 as output_tokens,
                  0 as cache_read_tokens, 0 as cache_write_5m_tokens, 0 as cache_write_1h_tokens,
                  'ok' as status, 200 as http_status, 'end_turn' as stop_reason,
                  'support-triage' as feature, request_id as parent_request_id, 2 as attempt,
                  'scenario' as source
           from parents""")
    truth = priced_total(injected(scenario, "inj_esc_"))
    f = one(findings(scenario), "escalation_spike")
    assert f["segment"] == "feature=support-triage"
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_rate_limit_headroom_counts_opus_429s_in_minutes_when_sonnet_was_free(scenario):
    # each 429 on Opus comes with a Sonnet request that went through in the same minute
    for prefix, model, status in (("inj_rl_", "claude-opus-5-5", "error"), ("inj_ok_", "claude-sonnet-5-5", "ok")):
        inject(scenario, 3_000, LAST_WEEK, END, request_id=f"'{prefix}' || i", model=f"'{model}'",
               status=f"'{status}'",
               error_type="'rate_limit'" if status == "error" else "null",
               http_status="429" if status == "error" else "200",
               input_tokens="0" if status == "error" else "1000",
               output_tokens="0" if status == "error" else "100",
               stop_reason="null" if status == "error" else "'end_turn'")
    f = one(findings(scenario), "rate_limit_headroom")
    assert f["segment"] == "tier=opus fallback=sonnet"
    assert f["severity"] == "high" and f["weekly_impact_usd"] is None
    assert_within_5_percent(f["observed"], 3_000 / WEEKS)


def test_retiring_models_names_the_deprecated_model_its_date_and_replacement(scenario):
    inject(scenario, 600, START, END, model="'claude-sonnet-4-5'", input_tokens="3000", output_tokens="300")
    truth = priced_total(injected(scenario)) / WEEKS
    f = one(findings(scenario), "retiring_models")
    assert f["segment"] == "model=claude-sonnet-4-5 tier=sonnet"
    assert f["severity"] == "high"  # retires on 2026-11-30, 14 days after the window
    assert "2026-11-30" in f["evidence"] and "claude-sonnet-5-5" in f["suggestion"]
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_unpriced_traffic_and_rejects_are_data_quality_findings_never_zero_dollars(scenario):
    inject(scenario, 300, START, END, model="'claude-nova-9'")
    scenario.execute("insert into rejects (ingest_id, file, line, reason, raw) values "
                     "(null, 'logs/bad.jsonl', 3, 'input_tokens: expected an integer', '{'), "
                     "(null, 'logs/bad.jsonl', 9, 'ts: missing', '{}')")
    found = findings(scenario)
    unpriced = one(found, "unpriced")
    assert unpriced["segment"] == "model=claude-nova-9" and unpriced["requests"] == 300
    assert unpriced["weekly_impact_usd"] is None
    rejects = one(found, "ingest_rejects")
    assert rejects["segment"] == "file=logs/bad.jsonl" and rejects["requests"] == 2


def test_cache_underuse_finds_large_stable_prompts_without_caching_and_the_saving(scenario):
    n = 20_000
    inject(scenario, n, START, END, feature="'kb-answer'", input_tokens="6000 + (i % 400)", output_tokens="200")
    rows = injected(scenario)
    writes = rows.select(pl.col("ts").dt.truncate("5m").n_unique()).item()
    reads = n - writes
    prefix = 6000  # the stable part; Sonnet 5.5 rates in November 2026: input $2, cache read $0.10, 5m write $2.50
    truth = (Decimal(reads * prefix) * (Decimal("2") - Decimal("0.10"))
             - Decimal(writes * prefix) * (Decimal("2.50") - Decimal("2"))) / 1_000_000 / WEEKS
    f = one(findings(scenario), "cache_underuse")
    assert f["segment"] == "feature=kb-answer model=claude-sonnet-5-5"
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_batch_eligible_prices_the_configured_feature_at_the_batch_tier(scenario):
    inject(scenario, 5_000, START, END, feature="'report-gen'", input_tokens="8000", output_tokens="1500")
    rows = injected(scenario)
    truth = (priced_total(rows) - priced_total(rows.with_columns(pl.lit("batch").alias("service_tier")))) / WEEKS
    f = one(findings(scenario, Config(signals={"batch_features": ["report-gen"]})), "batch_eligible")
    assert f["segment"] == "feature=report-gen"
    assert_within_5_percent(f["weekly_impact_usd"], truth)
    assert findings(scenario).filter(pl.col("signal") == "batch_eligible").height == 0  # not configured: silent


def test_spend_anomaly_finds_the_day_a_feature_spent_far_above_its_weekday_baseline(scenario):
    day = datetime(2026, 11, 12, tzinfo=timezone.utc)  # a Thursday in the last week
    inject(scenario, 2_000, day, day + timedelta(days=1), feature="'doc-summarize'",
           input_tokens="30000", output_tokens="600")
    truth = priced_total(injected(scenario))
    f = one(findings(scenario), "spend_anomaly")
    assert f["segment"] == "feature=doc-summarize day=2026-11-12"
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_context_window_finds_the_feature_overflowing_and_crowding_the_window(scenario):
    inject(scenario, 200, START, END, feature="'contract-review'", input_tokens="850000 + 500 * i", output_tokens="800")
    near = injected(scenario)
    inject(scenario, 100, START, END, request_id="'inj_overflow_' || i", feature="'contract-review'",
           status="'error'", error_type="'context_exceeded'", http_status="400", stop_reason="null",
           input_tokens="0", output_tokens="0")
    f = one(findings(scenario), "context_window")
    assert f["segment"] == "feature=contract-review model=claude-sonnet-5-5"
    assert f["requests"] == 300 and f["severity"] == "high"
    assert "100 requests failed on the 1,000,000-token window and 200 ran above 80%" in f["evidence"]
    assert_within_5_percent(f["weekly_impact_usd"], priced_total(near) / WEEKS)


def test_latency_slo_finds_the_tier_over_the_feature_slo_and_names_the_tier_that_meets_it(scenario):
    inject(scenario, 1_000, START, END, feature="'live-answer'", model="'claude-opus-5-5'",
           latency_ms="9000 + (i * 37 % 2000)")
    inject(scenario, 1_000, START, END, request_id="'inj_fast_' || i", feature="'live-answer'",
           model="'claude-haiku-5-5'", latency_ms="1500 + (i * 37 % 500)")
    slow = injected(scenario).filter(pl.col("model") == "claude-opus-5-5")
    truth = slow.select(pl.col("latency_ms").quantile(0.95, interpolation="linear")).item()
    config = Config(signals={"latency_slo_ms": {"live-answer": 5000}})
    f = one(findings(scenario, config), "latency_slo")
    assert f["segment"] == "feature=live-answer tier=opus" and f["severity"] == "high"
    assert "met on haiku" in f["evidence"] and f["baseline"] == 5000
    assert_within_5_percent(f["observed"], truth)
    assert findings(scenario).filter(pl.col("signal") == "latency_slo").height == 0  # no SLO configured: silent


def test_overload_bursts_counts_the_answers_lost_in_an_outage_without_a_fallback(scenario):
    outage = datetime(2026, 11, 11, 13, tzinfo=timezone.utc)
    inject(scenario, 3_000, outage, outage + timedelta(hours=3), model="'claude-opus-5-5'", status="'error'",
           error_type="'overloaded'", http_status="529", stop_reason="null", input_tokens="0", output_tokens="0")
    # a tenth of them were re-sent to Sonnet: those answers were not lost
    inject(scenario, 300, outage, outage + timedelta(hours=3), request_id="'inj_fb_' || i",
           parent_request_id="'inj_' || (i * 10)", attempt="2")
    f = one(findings(scenario), "overload_bursts")
    assert f["segment"] == "tier=opus" and f["severity"] == "high" and f["weekly_impact_usd"] is None
    assert_within_5_percent(f["observed"], 2_700 / WEEKS)


# -- settings and the window ---------------------------------------------------------------------

def test_config_overrides_a_threshold_for_one_detector(scenario):
    inject(scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="4000", output_tokens="3 + (i % 9)")

    def fired(settings: dict) -> set[str]:
        return set(findings(scenario, Config(signals=settings))["signal"])

    assert fired({}) == {"over_modeling", "cache_underuse"}  # a constant 4,000-token prompt is cacheable too
    assert fired({"over_modeling": {"max_output_p90": 2}}) == {"cache_underuse"}
    assert fired({"disable": ["over_modeling"]}) == {"cache_underuse"}
    assert fired({"min_impact_usd": 10_000}) == set()  # shared: every detector that takes it


@pytest.mark.parametrize("settings, message", [
    ({"min_impact": 5}, "[signals] has no setting 'min_impact'. Did you mean 'min_impact_usd'?"),
    ({"disable": ["over_modelling"]}, "[signals] disable: no detector 'over_modelling'. Did you mean 'over_modeling'?"),
    ({"over_modeling": {"max_output": 5}}, "[signals.over_modeling] has no setting 'max_output'. Did you mean 'max_output_p90'?"),
])
def test_unknown_signals_settings_are_refused_with_a_suggestion(settings, message):
    with pytest.raises(ConfigError) as err:
        signals.resolve_params(Config(signals=settings))
    assert str(err.value).startswith(message)


def test_latency_slos_come_from_tables_in_the_config_file(tmp_path):
    from costlab.config import load_config

    path = tmp_path / "costlab.toml"
    path.write_text('[signals.latency_slo_ms]\n"chat-assistant" = 8000\nsql-assist = 5000\n'
                    '[signals.ttft_slo_ms]\nchat-assistant = 1500\n')
    detectors, params = signals.resolve_params(load_config(path))
    assert "latency_slo" in [d.id for d in detectors]
    assert params["latency_slo"]["latency_slo_ms"] == "chat-assistant=8000,sql-assist=5000"
    assert params["latency_slo"]["ttft_slo_ms"] == "chat-assistant=1500"
    with pytest.raises(ConfigError, match="must be a table of feature = milliseconds"):
        signals.resolve_params(Config(signals={"latency_slo_ms": 8000}))


@pytest.mark.parametrize("text, expected", [
    ("8w", timedelta(weeks=8)), ("14d", timedelta(days=14)), ("36h", timedelta(hours=36)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
])
def test_since_accepts_a_duration_or_a_day(text, expected):
    assert signals.parse_since(text) == expected


def test_since_refuses_anything_else():
    with pytest.raises(ConfigError, match="expected a duration like 8w"):
        signals.parse_since("last week")


def test_the_window_ends_with_the_day_of_the_last_request_and_starts_at_the_first(scenario):
    assert signals.window(scenario, "8w") == (START, END)
    assert signals.window(scenario, "1w") == (LAST_WEEK, END)


def test_findings_are_ordered_worst_first():
    frame = pl.DataFrame({
        "severity": ["low", "high", "medium", "high"], "signal": ["a", "b", "c", "d"], "segment": ["s"] * 4,
        "weekly_impact_usd": [Decimal("900"), None, Decimal("5"), Decimal("10")],
        "evidence": ["e"] * 4, "observed": [1.0] * 4, "baseline": [0.0] * 4, "requests": [1] * 4,
        "suggestion": ["x"] * 4, "query": ["q"] * 4,
    }, schema=signals.COLUMNS)
    assert signals.order(frame)["signal"].to_list() == ["d", "b", "c", "a"]


def test_running_the_signals_leaves_the_costed_requests_view_as_it_was(scenario):
    before = scenario.frame("select count(*) as n, sum(cost_usd) as cost from costed_requests")
    findings(scenario, since="1w")
    assert scenario.scalar("select count(*) from duckdb_tables() where temporary") == 0
    assert scenario.frame("select count(*) as n, sum(cost_usd) as cost from costed_requests").equals(before)


# -- the query files -----------------------------------------------------------------------------

@pytest.mark.parametrize("detector", signals.DETECTORS, ids=lambda d: d.id)
def test_each_detector_file_declares_what_it_returns_and_runs_by_hand_on_the_view(store, detector):
    q = queries.load(detector.query)
    assert q.purpose and [name for name, _ in q.returns] == [
        "signal", "severity", "segment", "evidence", "observed", "baseline", "requests", "weekly_impact_usd", "suggestion"]
    frame = store.run_query(detector.query)  # no temp table: the view itself, every default
    assert frame.columns == [name for name, _ in q.returns]
    polars_type = {"VARCHAR": pl.String, "DOUBLE": pl.Float64, "BIGINT": pl.Int64, "DECIMAL(18,6)": pl.Decimal(18, 6)}
    assert dict(frame.schema) == {name: polars_type[declared] for name, declared in q.returns}


def test_the_detectors_are_the_query_files_in_rank_order():
    files = sorted(p.stem for p in (queries.queries_dir() / "signals").glob("*.sql"))
    assert sorted(signals.BY_ID) == files
    assert [d.rank for d in signals.DETECTORS] == list(range(1, len(files) + 1))
    assert signals.BY_ID["latency_slo"].needs == ("latency_slo_ms", "ttft_slo_ms")
    assert signals.BY_ID["unpinned_aliases"].needs == ("pin_versions",)


@pytest.mark.parametrize("detector", signals.DETECTORS, ids=lambda d: d.id)
def test_every_detector_is_documented_in_docs_signals_md_under_its_rank(detector):
    text = (ROOT / "docs" / "signals.md").read_text(encoding="utf-8")
    assert f"\n### {detector.rank}. `{detector.id}`" in text, (
        f"docs/signals.md needs a section '### {detector.rank}. `{detector.id}`' (the file's rank and id)")


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture
def cli():
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """A group, as in the real CLI (a lone command would become the app itself)."""

    register(app)
    return app


def run(cli, *args):
    return CliRunner().invoke(cli, ["signals", *args])


@pytest.fixture
def tagged_store_file(scenario):
    # prompts too uneven to cache (p10 1,700 tokens): over-modeling and a retiring model, nothing else
    inject(scenario, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="1000 + (i * 7 % 7000)", output_tokens="3 + (i % 9)")
    inject(scenario, 600, START, END, request_id="'old_' || i", model="'claude-sonnet-4-5'",
           input_tokens="3000", output_tokens="300")
    path = scenario.path
    scenario.close()
    return path


@pytest.mark.parametrize("level, code", [("high", signals.FINDINGS_EXIT), ("medium", signals.FINDINGS_EXIT)])
def test_fail_on_exits_non_zero_when_a_finding_reaches_the_level(cli, tagged_store_file, level, code):
    result = run(cli, "--db", str(tagged_store_file), "--fail-on", level)
    assert result.exit_code == code, result.stderr
    assert "retiring_models" in result.stdout
    assert f"at or above {level}" in result.stderr


def test_fail_on_exits_zero_on_a_clean_store(cli, background_file, tmp_path):
    path = tmp_path / "clean.duckdb"
    shutil.copy(background_file, path)
    result = run(cli, "--db", str(path), "--fail-on", "medium")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "no findings" in result.stderr


def test_fail_on_refuses_an_unknown_level(cli, background_file, tmp_path):
    result = run(cli, "--db", str(tmp_path / "x.duckdb"), "--fail-on", "critical")
    assert result.exit_code == 2
    assert "critical" in result.stderr


def test_json_output_is_one_object_per_finding_with_money_as_exact_strings(cli, tagged_store_file):
    result = run(cli, "--db", str(tagged_store_file), "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["signal"] for r in rows} == {"over_modeling", "retiring_models"}
    assert all(isinstance(r["weekly_impact_usd"], str) for r in rows)
    assert rows[0]["query"].startswith("queries/signals/")


def test_table_and_markdown_output_show_evidence_suggestion_and_drill_down(cli, tagged_store_file):
    for fmt, marker in (("table", "drill down: costlab sql -F queries/signals/"), ("markdown", "| severity |")):
        result = run(cli, "--db", str(tagged_store_file), "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert marker in result.stdout and "evidence" in result.stdout


def test_signals_reads_thresholds_from_the_config_file(cli, tagged_store_file, tmp_path):
    config = tmp_path / "costlab.toml"
    config.write_text('[signals]\ndisable = ["retiring_models", "over_modeling"]\n')
    result = run(cli, "--db", str(tagged_store_file), "--config", str(config), "--fail-on", "medium")
    assert result.exit_code == 0, result.stderr


def test_only_runs_the_named_detectors_and_refuses_unknown_ones(cli, tagged_store_file):
    result = run(cli, "--db", str(tagged_store_file), "--only", "retiring_models", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert set(pl.read_csv(result.stdout.encode())["signal"]) == {"retiring_models"}
    result = run(cli, "--db", str(tagged_store_file), "--only", "retiring_model")
    assert result.exit_code == 2
    assert result.stderr == ("Error: no detector 'retiring_model'. Did you mean 'retiring_models'? Detectors: "
                             + ", ".join(signals.BY_ID) + ".\n")


def test_since_narrows_the_window_to_the_last_days(cli, tagged_store_file):
    result = run(cli, "--db", str(tagged_store_file), "--since", "3d", "--only", "retiring_models", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "over 2026-11-13 to 2026-11-16" in result.stderr
    assert json.loads(result.stdout)[0]["requests"] == 600 * 3 // 14 + 1



# -- under-modeling ------------------------------------------------------------------------------

def inject_long_prompt_failures(store: Store, bad_short: str = "i % 33 = 0") -> None:
    """contract-qa on Haiku: 3,000 short prompts (a few max_tokens stops) and 1,000 long ones of which
    40% go wrong: 100 max_tokens stops, 100 refusals, 100 thumbs down and 100 re-sent to Sonnet.
    Prompt sizes vary enough that no other detector sees a cacheable prefix."""
    inject(store, 3_000, START, END, request_id="'inj_short_' || i", feature="'contract-qa'",
           model="'claude-haiku-5-5'", input_tokens="1000 + (i * 37 % 6000)", output_tokens="300",
           stop_reason=f"case when {bad_short} then 'max_tokens' else 'end_turn' end")
    inject(store, 1_000, START, END, request_id="'inj_long_' || i", feature="'contract-qa'",
           model="'claude-haiku-5-5'", input_tokens="33000 + (i * 7919 % 90000)", output_tokens="400",
           stop_reason="case i % 10 when 0 then 'max_tokens' when 1 then 'refusal' else 'end_turn' end",
           feedback_score="case when i % 10 = 2 then 0.0 when i % 10 = 4 then 1.0 end")
    # the re-sends: 100 long answers (i % 10 = 3) asked again on Sonnet half an hour later
    inject(store, 100, START, END, request_id="'inj_resend_' || i", feature="'contract-qa'",
           parent_request_id="'inj_long_' || (i * 10 + 3)", attempt="2",
           input_tokens="33000 + ((i * 10 + 3) * 7919 % 90000)", output_tokens="500")


def test_under_modeling_finds_long_prompts_failing_on_haiku_and_prices_the_upgrade(scenario):
    inject_long_prompt_failures(scenario)
    long = injected(scenario, "inj_long_")
    resends = priced_total(injected(scenario, "inj_resend_"))
    upgrade = priced_total(long.with_columns(pl.lit("claude-sonnet-5-5").alias("model"))) - priced_total(long)
    truth = (resends - upgrade) / WEEKS  # negative: the upgrade costs more than the re-sends it saves
    f = one(findings(scenario), "under_modeling")
    assert f["segment"] == "feature=contract-qa model=claude-haiku-5-5 tier=haiku prompt>=32000"
    assert f["severity"] == "high" and f["requests"] == 1_000
    assert f["observed"] == pytest.approx(0.4) and f["baseline"] == pytest.approx(91 / 3_000)
    assert "400 of 1,000 answers to prompts of 32,000+ tokens went wrong" in f["evidence"]
    assert "shorter prompts on haiku" in f["evidence"] and "claude-sonnet-5-5" in f["suggestion"]
    assert truth < 0
    got = -float(f["weekly_impact_usd"])
    assert_within_5_percent(got, -float(truth))


def test_under_modeling_stays_quiet_when_short_prompts_fail_as_often(scenario):
    inject_long_prompt_failures(scenario, bad_short="i % 5 < 2")  # 40% of short answers go wrong too
    assert findings(scenario).filter(pl.col("signal") == "under_modeling").height == 0


def test_under_modeling_stays_quiet_when_the_next_tier_fails_on_the_same_long_prompts(scenario):
    inject_long_prompt_failures(scenario)
    inject(scenario, 400, START, END, request_id="'inj_sonnet_long_' || i", feature="'contract-qa'",
           input_tokens="33000 + (i * 7919 % 90000)", output_tokens="400",
           stop_reason="case when i % 3 = 0 then 'max_tokens' else 'end_turn' end")
    assert findings(scenario).filter(pl.col("signal") == "under_modeling").height == 0


# -- unpinned aliases ----------------------------------------------------------------------------

def ingest_spellings(store: Store, tmp_path: Path) -> None:
    """Requests of feature `pinned-chat` under five spellings, through the real canonical ingest,
    which keeps the raw spelling in attributes.model_raw where it differs from the normalised id."""
    from costlab.ingest import ingest_paths

    spellings = ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                 "claude-3-7-sonnet-latest", "claude-sonnet-5-5"]
    rows = store.frame(
        """select 'pin_' || i as request_id, $start::TIMESTAMPTZ + to_seconds(i * 600) as ts,
                  $names[(i % 5) + 1] as model, 2000 as input_tokens, 200 as output_tokens,
                  'pinned-chat' as feature, 'ok' as status
           from range(500) t(i)""", {"start": START, "names": spellings})
    path = tmp_path / "pinned.csv"
    rows.write_csv(path)
    summary = ingest_paths(store, [str(path)])
    assert summary.files[0].rows_added == 500


def test_unpinned_aliases_finds_the_alias_and_latest_spellings_where_the_team_pins(scenario, tmp_path):
    ingest_spellings(scenario, tmp_path)
    found = findings(scenario, Config(signals={"pin_versions": True})).filter(pl.col("signal") == "unpinned_aliases")
    got = {r["segment"]: r for r in found.iter_rows(named=True)}
    assert set(got) == {"feature=pinned-chat model=claude-sonnet-4-5", "feature=pinned-chat model=claude-3-7-sonnet-latest"}
    alias = got["feature=pinned-chat model=claude-sonnet-4-5"]
    assert alias["requests"] == 100 and alias["severity"] == "medium" and alias["weekly_impact_usd"] is None
    assert alias["observed"] == pytest.approx(100 / WEEKS)
    assert "resolves to claude-sonnet-4-5-20250929 today" in alias["evidence"]
    assert alias["suggestion"] == "pin pinned-chat to claude-sonnet-4-5-20250929 instead of claude-sonnet-4-5"
    assert "claude-3-7-sonnet-20250219" in got["feature=pinned-chat model=claude-3-7-sonnet-latest"]["suggestion"]


def test_unpinned_aliases_reads_only_the_features_that_pin_and_runs_only_when_asked(scenario, tmp_path):
    ingest_spellings(scenario, tmp_path)

    def unpinned(config: Config) -> int:
        return findings(scenario, config).filter(pl.col("signal") == "unpinned_aliases").height

    assert unpinned(Config()) == 0
    assert unpinned(Config(signals={"pin_versions": False})) == 0
    assert unpinned(Config(signals={"pin_versions": ["chat-assistant"]})) == 0
    assert unpinned(Config(signals={"pin_versions": ["chat-assistant", "pinned-chat"]})) == 2
    with pytest.raises(ConfigError, match="pin_versions: expected true, false or a list of features"):
        signals.resolve_params(Config(signals={"pin_versions": 3}))


def test_unpinned_aliases_is_silent_on_the_clean_backgrounds_where_every_model_is_pinned(scenario, real_scenario):
    for store in (scenario, real_scenario):
        assert findings(store, Config(signals={"pin_versions": True})).height == 0


# -- escalation through sessions and traces ------------------------------------------------------

def inject_session_escalations(store: Store, link: str, delay_s: int = 30) -> pl.DataFrame:
    """doc-qa answers on Haiku over two weeks (no parent links anywhere); in the last week two in five
    are asked again on Sonnet `delay_s` later in the same session (link='session') or trace."""
    inject(store, 4_000, START, END, feature="'doc-qa'", model="'claude-haiku-5-5'",
           input_tokens="1000 + (i * 37 % 3000)", output_tokens="200",
           session_id="'inj_s_' || i", trace_id="'inj_t_' || i")
    parents = store.frame("select session_id, trace_id, ts from requests where request_id like 'inj_%' "
                          "and ts >= $w and hash(request_id) % 5 < 2", {"w": LAST_WEEK})
    store.con.register("parents", parents.with_row_index("k"))
    keep = "session_id, null as trace_id" if link == "session" else "null as session_id, trace_id"
    store.execute(
        f"""insert into requests by name
            select 'inj_up_' || k as request_id, ts + to_seconds({delay_s}) as ts, {keep}, 'anthropic' as platform,
                   'claude-sonnet-5-5' as model, 'standard' as service_tier, 'standard' as speed,
                   'global' as inference_geo, 20000 as input_tokens, 300 as output_tokens,
                   0 as cache_read_tokens, 0 as cache_write_5m_tokens, 0 as cache_write_1h_tokens,
                   'ok' as status, 200 as http_status, 'end_turn' as stop_reason, 'doc-qa' as feature,
                   1 as attempt, 'scenario' as source
            from parents""")
    return parents


@pytest.mark.parametrize("link", ["session", "trace"])
def test_escalation_spike_follows_the_same_session_or_trace_moving_up_a_tier(scenario, link):
    parents = inject_session_escalations(scenario, link)
    truth = priced_total(injected(scenario, "inj_up_"))
    f = one(findings(scenario), "escalation_spike")
    assert f["segment"] == "feature=doc-qa"
    assert f["requests"] == scenario.scalar(
        "select count(*) from requests where request_id like 'inj_%' and request_id not like 'inj_up_%' and ts >= $w",
        {"w": LAST_WEEK})  # the moves up are not first attempts
    assert f"{parents.height:,} of them the same session or trace moving up within 5 minutes" in f["evidence"]
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_escalation_spike_ignores_a_move_up_long_after_the_cheap_answer(scenario):
    inject_session_escalations(scenario, "session", delay_s=1_200)
    assert findings(scenario).filter(pl.col("signal") == "escalation_spike").height == 0


def test_session_moves_do_not_count_for_a_feature_that_links_its_escalations(scenario):
    # support-triage records its escalations with parent_request_id in the generated log: a session
    # that also moves up is not counted a second time
    parents = scenario.frame(
        """select request_id, session_id, ts from requests
           where feature = 'support-triage' and model = 'claude-haiku-5-5' and status = 'ok' and ts >= $w
           order by request_id limit 900""", {"w": LAST_WEEK})
    scenario.con.register("parents", parents.with_row_index("k"))
    scenario.execute(
        """insert into requests by name
           select 'inj_up_' || k as request_id, ts + interval 30 second as ts, session_id, 'anthropic' as platform,
                  'claude-sonnet-5-5' as model, 20000 as input_tokens, 300 as output_tokens, 'ok' as status,
                  'support-triage' as feature, 1 as attempt, 'scenario' as source
           from parents""")
    assert findings(scenario).filter(pl.col("signal") == "escalation_spike").height == 0


# -- over-modeling with replay results -----------------------------------------------------------

def inject_tagger(store: Store) -> Decimal:
    inject(store, 12_000, START, END, feature="'ticket-tagger'", model="'claude-opus-5-5'",
           input_tokens="1000 + (i * 7 % 7000)", output_tokens="3 + (i % 9)")
    rows = injected(store)
    return (priced_total(rows) - priced_total(rows.with_columns(pl.lit("claude-sonnet-5-5").alias("model")))) / WEEKS


def import_outcomes(store: Store, tmp_path: Path, name: str, good: int, total: int, stratum: str = "ticket-tagger"):
    """`costlab replay import --format csv` of `total` prompts of the feature answered by a Sonnet
    candidate, `good` of them correctly."""
    from costlab.replay.importer import import_outcomes as run_import

    path = tmp_path / f"{name}.csv"
    pl.DataFrame({"prompt_id": [f"{name}-{i}" for i in range(total)], "model": ["sonnet-candidate"] * total,
                  "correct": ["true" if i < good else "false" for i in range(total)],
                  "stratum": [stratum] * total}).write_csv(path)
    run_import(store, path, "csv", name, {"sonnet-candidate": "sonnet"})


def test_over_modeling_shows_the_replayed_quality_on_the_cheaper_tier(scenario, tmp_path):
    truth = inject_tagger(scenario)
    import_outcomes(scenario, tmp_path, "tagger-check", good=48, total=50)
    f = one(findings(scenario), "over_modeling")
    assert f["segment"] == "feature=ticket-tagger model=claude-opus-5-5 tier=opus"
    assert "replayed on sonnet: 48 of 50 answers satisfactory (96.0%, 95% interval 86.5-98.9%)" in f["evidence"]
    assert f["suggestion"].endswith("the replays on sonnet held")
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_over_modeling_does_not_suggest_a_downgrade_the_replays_say_fails(scenario, tmp_path):
    inject_tagger(scenario)
    import_outcomes(scenario, tmp_path, "tagger-check", good=48, total=50)
    import_outcomes(scenario, tmp_path, "tagger-recheck", good=20, total=40)  # 68 of 90 over both runs: 76%
    assert findings(scenario).filter(pl.col("signal") == "over_modeling").height == 0
    # replays of another feature say nothing about this one
    import_outcomes(scenario, tmp_path, "other", good=0, total=40, stratum="email-draft")
    assert findings(scenario).filter(pl.col("signal") == "over_modeling").height == 0


def test_over_modeling_reads_replays_of_logged_requests_by_their_feature_and_every_judgement(scenario):
    truth = inject_tagger(scenario)
    # a replay run of 40 logged ticket-tagger requests on sonnet: all pass the checks, and the
    # pairwise judge finds 8 of them worse than the original answer
    scenario.execute_script(
        """insert into replays (run, source, request_id, tier, model, status)
           select 'r1', 'scenario', 'inj_' || i, 'sonnet', 'claude-sonnet-5-5', 'ok' from range(40) t(i);
           insert into judgements (run, source, request_id, tier, judge, verdict, good)
           select 'r1', 'scenario', 'inj_' || i, 'sonnet', judge,
                  case when judge = 'pairwise:opus' and i < 8 then 'loss' else 'pass' end,
                  not (judge = 'pairwise:opus' and i < 8)
           from range(40) t(i), (values ('check:answered'), ('check:match'), ('pairwise:opus')) j(judge)""")
    assert findings(scenario).filter(pl.col("signal") == "over_modeling").height == 0  # 32 of 40: 80%
    scenario.execute("update judgements set good = true, verdict = 'tie' where judge = 'pairwise:opus' and request_id >= 'inj_4'")
    f = one(findings(scenario), "over_modeling")  # 'inj_0'..'inj_3' still lost: 36 of 40, 90%
    assert "replayed on sonnet: 36 of 40 answers satisfactory (90.0%" in f["evidence"]
    assert_within_5_percent(f["weekly_impact_usd"], truth)


def test_over_modeling_says_how_few_replays_there_are_below_the_minimum(scenario, tmp_path):
    inject_tagger(scenario)
    import_outcomes(scenario, tmp_path, "tiny", good=5, total=10)
    f = one(findings(scenario), "over_modeling")
    assert "only 10 judged replays on sonnet (30 needed): replay more before moving" in f["evidence"]


# -- batch eligibility from scheduled bursts -----------------------------------------------------

def inject_nightly_export(store: Store, hour_sql: str = "2") -> None:
    """300 requests a day for 14 days, all within 20 minutes from `hour_sql` o'clock UTC (an
    expression in the day number `i // 300`)."""
    inject(store, 4_200, START, END, feature="'nightly-export'", input_tokens="1000 + (i * 7919 % 14000)",
           output_tokens="1500",
           ts=f"$start + to_microseconds(((i // 300) * 86400000000 + ({hour_sql}) * 3600000000 + (i % 300) * 4000000 + 0 * ($span // $n))::BIGINT)")


def test_batch_eligible_finds_a_feature_that_runs_in_bursts_at_the_same_hour_every_day(scenario):
    inject_nightly_export(scenario)
    rows = injected(scenario)
    truth = (priced_total(rows) - priced_total(rows.with_columns(pl.lit("batch").alias("service_tier")))) / WEEKS
    f = one(findings(scenario), "batch_eligible")
    assert f["segment"] == "feature=nightly-export" and f["requests"] == 4_200
    assert "scheduled job: on 14 of the 14 days it ran, at least 90% of its requests came within 60 minutes from about 02:00 UTC" in f["evidence"]
    assert_within_5_percent(f["weekly_impact_usd"], truth)


@pytest.mark.parametrize("settings", [
    {"interactive_features": ["nightly-export"]},
    {"latency_slo_ms": {"nightly-export": 30_000}},
    {"ttft_slo_ms": {"nightly-export": 2_000}},
], ids=["interactive", "latency-slo", "ttft-slo"])
def test_batch_eligible_leaves_bursty_features_alone_when_someone_waits_for_them(scenario, settings):
    inject_nightly_export(scenario)
    assert findings(scenario, Config(signals=settings)).filter(pl.col("signal") == "batch_eligible").height == 0


def test_batch_eligible_ignores_bursts_at_a_different_hour_each_day(scenario):
    inject_nightly_export(scenario, hour_sql="(i // 300) * 5 % 24")
    assert findings(scenario).filter(pl.col("signal") == "batch_eligible").height == 0


def test_a_listed_batch_feature_is_reported_once_as_configured(scenario):
    inject_nightly_export(scenario)
    f = one(findings(scenario, Config(signals={"batch_features": ["nightly-export"]})), "batch_eligible")
    assert "configured as non-interactive" in f["evidence"]


def test_the_trace_background_replayed_at_one_clock_time_reads_as_scheduled(new_store, tmp_path):
    # why the real-trace background moves its replay by five hours a day: a few minutes of traffic at
    # the same time every day is a job's signature, whatever the traffic was recorded from
    with new_store(tmp_path / "fixed.duckdb") as s:
        real_background(s)
        s.execute("update requests set ts = date_trunc('day', ts) + interval 20 hour + (ts - date_trunc('hour', ts)) "
                  "where feature = 'long-chat'")
        f = one(findings(s), "batch_eligible")
        assert f["segment"] == "feature=long-chat"
