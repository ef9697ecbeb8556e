"""The starter queries in queries/: headers parse, every query runs on an empty and a populated store,
the frames have exactly the declared columns and types, and the figures are right (hand-computed)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from costlab import frames, summary
from costlab.store import queries
from costlab.errors import ConfigError

STARTERS = queries.starter_queries()
NAMES = [q.name for q in STARTERS]
EXPECTED_NAMES = {
    "cache_savings",
    "cost_by_feature",
    "cost_by_tier_model_day",
    "cost_by_user",
    "error_rates_by_tier",
    "ingest_history",
    "top_requests_by_cost",
    "unpriced_requests",
}

# -- the populated store -------------------------------------------------------------------------
# Rates in $/MTok from costlab/data/catalogue.toml, in force in November 2026:
#   claude-sonnet-5-5  input 2     output 10    cache write 5m 2.50   1h 4     cache read 0.10
#   claude-haiku-5-5   input 0.10  output 0.50  cache write 5m 0.125  1h 0.20  cache read 0.01  (prompts <= 100K)
#   claude-opus-5-5    input 4     output 20    cache write 5m 5      1h 8     cache read 0.20
#   batch tier: every rate x 0.5.  claude-nova-1 has no price and no catalogue entry.
RATES = {
    "claude-sonnet-5-5": dict(input="2", output="10", cw5m="2.50", cw1h="4", cr="0.10"),
    "claude-haiku-5-5": dict(input="0.10", output="0.50", cw5m="0.125", cw1h="0.20", cr="0.01"),
    "claude-opus-5-5": dict(input="4", output="20", cw5m="5", cw1h="8", cr="0.20"),
}

# (count, model, service_tier, feature, input, output, cache_read, cache_write_5m, cache_write_1h,
#  status, error_type, http_status)
GROUPS = [
    # A: support-triage on Sonnet with cache hits: 0.002 + 0.002 + 0.0004 = $0.0044 each
    (6, "claude-sonnet-5-5", "standard", "support-triage", 1000, 200, 4000, 0, 0, "ok", None, 200),
    # B: 5-minute cache writes: 0.001 + 0.001 + 0.005 = $0.007 each
    (2, "claude-sonnet-5-5", "standard", "support-triage", 500, 100, 0, 2000, 0, "ok", None, 200),
    # C: a 1-hour cache write: 0.001 + 0.001 + 0.004 = $0.006
    (1, "claude-sonnet-5-5", "standard", "support-triage", 500, 100, 0, 0, 1000, "ok", None, 200),
    # D: errors, no tokens, $0
    (2, "claude-sonnet-5-5", "standard", "support-triage", 0, 0, 0, 0, 0, "error", "rate_limit", 429),
    (1, "claude-sonnet-5-5", "standard", "support-triage", 0, 0, 0, 0, 0, "error", "overloaded", 529),
    # E: batch tier, half price: (0.02 + 0.02 + 0.0005) x 0.5 = $0.02025 each
    (2, "claude-sonnet-5-5", "batch", "nightly-batch", 10000, 2000, 5000, 0, 0, "ok", None, 200),
    # F: Haiku summaries: 0.0003 + 0.000075 = $0.000375 each
    (8, "claude-haiku-5-5", "standard", "summarize", 3000, 150, 0, 0, 0, "ok", None, 200),
    # G: Haiku with cache hits: 0.0001 + 0.00005 + 0.0002 = $0.00035 each
    (4, "claude-haiku-5-5", "standard", "summarize", 1000, 100, 20000, 0, 0, "ok", None, 200),
    # H: Haiku errors: two prompts too long, a 429 whose source gave no error type, a timeout
    (2, "claude-haiku-5-5", "standard", "summarize", 0, 0, 0, 0, 0, "error", "context_exceeded", 400),
    (1, "claude-haiku-5-5", "standard", "summarize", 0, 0, 0, 0, 0, "error", None, 429),
    (1, "claude-haiku-5-5", "standard", "summarize", 0, 0, 0, 0, 0, "error", "timeout", 504),
    # I: Opus code review: 0.02 + 0.03 + 0.002 + 0.015 = $0.067 each
    (4, "claude-opus-5-5", "standard", "code-review", 5000, 1500, 10000, 3000, 0, "ok", None, 200),
    # J: Opus errors
    (1, "claude-opus-5-5", "standard", "code-review", 0, 0, 0, 0, 0, "error", "api_error", 500),
    (1, "claude-opus-5-5", "standard", "code-review", 0, 0, 0, 0, 0, "error", "overloaded", 529),
    # K: a model with no price: unpriced, never $0
    (3, "claude-nova-1", "standard", "summarize", 2000, 500, 1000, 0, 0, "ok", None, 200),
    # L: requests whose logs carried no feature: $0.000375 each
    (2, "claude-haiku-5-5", "standard", None, 3000, 150, 0, 0, 0, "ok", None, 200),
]
START = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)
STEP = timedelta(minutes=67)  # 41 rows spread over 16, 17 and 18 November


def request_rows() -> list[dict]:
    rows = []
    for count, model, tier, feature, inp, out, cr, cw5, cw1, status, error, http in GROUPS:
        for _ in range(count):
            k = len(rows)
            rows.append(dict(
                request_id=f"msg_{k:03d}", ts=START + k * STEP, platform="anthropic", model=model,
                service_tier=tier, speed="standard", input_tokens=inp, output_tokens=out,
                cache_read_tokens=cr, cache_write_5m_tokens=cw5, cache_write_1h_tokens=cw1,
                status=status, error_type=error, http_status=http, feature=feature,
                user_id=f"u{k % 3}", customer_id="acme" if k % 3 else "globex", session_id=f"s{k % 5}",
                source="canonical", ingest_id=1,
            ))
    return rows


def expected_cost(row: dict) -> Decimal | None:
    """The request's cost from RATES, computed in Python independently of the SQL."""
    rates = RATES.get(row["model"])
    if rates is None:
        return None
    factor = Decimal("0.5") if row["service_tier"] == "batch" else Decimal(1)
    mtok = Decimal(1_000_000)
    total = (
        row["input_tokens"] * Decimal(rates["input"]) + row["output_tokens"] * Decimal(rates["output"])
        + row["cache_read_tokens"] * Decimal(rates["cr"]) + row["cache_write_5m_tokens"] * Decimal(rates["cw5m"])
        + row["cache_write_1h_tokens"] * Decimal(rates["cw1h"])
    )
    return total * factor / mtok


def usd(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def populate(store) -> list[dict]:
    rows = request_rows()
    columns = list(rows[0])
    insert = f"insert into requests ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})"
    for row in rows:
        store.execute(insert, [row[c] for c in columns])
    store.execute(
        "insert into ingests (ingest_id, file, size, sha256, format, rows_read, rows_added, rows_present, rows_rejected, "
        "started_at, finished_at) values (1, 'examples/logs.jsonl', 1024, 'abc', 'canonical', 44, 41, 0, 3, "
        "'2026-11-19 10:00:00+00', '2026-11-19 10:00:02.5+00')"
    )
    store.execute(
        "insert into rejects values (1, 'examples/logs.jsonl', 7, 'ts: not a timestamp', '{}'), "
        "(1, 'examples/logs.jsonl', 9, 'ts: not a timestamp', '{}'), "
        "(1, 'examples/logs.jsonl', 12, 'service_tier: expected one of standard, batch, priority', '{}')"
    )
    return rows


@pytest.fixture
def populated(store):
    populate(store)
    return store


# -- headers --------------------------------------------------------------------------------------
def test_the_starter_queries_are_the_documented_set():
    assert EXPECTED_NAMES <= set(NAMES)


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_header_parses_with_purpose_params_and_returns(query):
    assert query.purpose and not query.purpose.startswith(query.name)
    first = query.text.splitlines()[0]
    assert first.startswith(f"-- {query.name}: ")
    names = [p.name for p in query.params]
    assert {"since", "until"} <= set(names)
    for p in query.params:
        assert p.default is not None, f"{query.name}: {p.name} needs a default so the query runs bare"
        assert p.doc, f"{query.name}: {p.name} has no description"
        assert f"${p.name}::{p.type}" in query.text, f"{query.name}: cast ${p.name} to its declared type"
    assert query.returns, f"{query.name}: no returns: columns parsed"


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_header_lines_are_all_parsed(query):
    # queries.parse skips lines it cannot read; a typo (one space before the doc) must not drop a column.
    header = []
    for line in query.text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    sections: dict[str, list[str]] = {"params": [], "returns": []}
    current = None
    for line in header[1:]:
        body = line[2:].strip()
        if body in ("params:", "returns:"):
            current = body[:-1]
        elif line.startswith("--   ") and current:
            sections[current].append(line)
        elif not line.startswith("--   "):
            current = None
    assert len(sections["params"]) == len(query.params)
    assert len(sections["returns"]) == len(query.returns)


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_every_output_column_is_cast(query):
    body = "\n".join(line for line in query.text.splitlines() if not line.lstrip().startswith("--"))
    final_select = body[[m.start() for m in re.finditer(r"^select\b", body, re.MULTILINE | re.IGNORECASE)][-1] :]
    for column, _type in query.returns:
        assert re.search(rf"::\s*[A-Z][A-Z0-9_(), ]*\)?\s+as {column}\b", final_select), f"{query.name}.{column} is not cast"


# -- schemas ----------------------------------------------------------------------------------
def polars_dtype(duckdb_type: str) -> pl.DataType:
    """The polars dtype DuckDB's .pl() gives for a declared DuckDB type."""
    t = duckdb_type.upper().replace(" ", "")
    if m := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", t):
        return pl.Decimal(int(m.group(1)), int(m.group(2)))
    return {
        "VARCHAR": pl.String(), "JSON": pl.String(), "BIGINT": pl.Int64(), "INTEGER": pl.Int32(),
        "SMALLINT": pl.Int16(), "DOUBLE": pl.Float64(), "BOOLEAN": pl.Boolean(), "DATE": pl.Date(),
        "TIMESTAMPTZ": pl.Datetime("us", "UTC"), "TIMESTAMPWITHTIMEZONE": pl.Datetime("us", "UTC"),
        "TIMESTAMP": pl.Datetime("us"), "HUGEINT": pl.Int128(),
    }[t]


def declared_schema(query: queries.QueryFile) -> pl.Schema:
    return pl.Schema([(name, polars_dtype(t)) for name, t in query.returns])


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_runs_on_an_empty_store_with_the_declared_schema(store, query):
    result = store.run_query(query.name)
    assert result.schema == declared_schema(query)
    assert result.height == 0


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_runs_on_a_populated_store_with_the_declared_schema(populated, query):
    result = populated.run_query(query.name)
    assert result.schema == declared_schema(query)
    assert result.height > 0


@pytest.mark.parametrize("query", [q for q in STARTERS if q.name != "ingest_history"], ids=lambda q: q.name)
def test_an_empty_window_returns_no_rows(populated, query):
    result = populated.run_query(query.name, since="2027-01-01", until="2027-02-01")
    assert result.height == 0


def test_unknown_parameter_is_refused_with_a_suggestion(store):
    with pytest.raises(ConfigError, match="Did you mean 'since'"):
        store.run_query("cost_by_feature", sinse="2026-11-01")


# -- figures ----------------------------------------------------------------------------------
def test_populated_store_costs_match_the_independent_calculation(populated):
    # Guards the fixture itself: the view prices each row as RATES says.
    rows = {r["request_id"]: r for r in request_rows()}
    got = populated.frame("select request_id, cost_usd from costed_requests order by request_id")
    for request_id, cost in got.iter_rows():
        assert cost == expected_cost(rows[request_id]), request_id


def test_cost_by_feature_figures(populated):
    result = populated.run_query("cost_by_feature")
    total = Decimal("0.36005")  # 0.268 + 0.0464 + 0.0405 + 0.0044 + 0.00075
    expected = pl.DataFrame(
        {
            "feature": ["code-review", "support-triage", "nightly-batch", "summarize", "(none)"],
            "requests": [6, 12, 2, 19, 2],
            "errors": [2, 3, 0, 4, 0],
            "input_tokens": [20000, 7500, 20000, 34000, 6000],
            "output_tokens": [6000, 1500, 4000, 3100, 300],
            "cache_read_tokens": [40000, 24000, 10000, 83000, 0],
            # code-review 4 x 0.067; support-triage 6 x 0.0044 + 2 x 0.007 + 0.006;
            # nightly-batch 2 x 0.02025; summarize 8 x 0.000375 + 4 x 0.00035 (nova unpriced); (none) 2 x 0.000375
            "cost_usd": [usd("0.268"), usd("0.0464"), usd("0.0405"), usd("0.0044"), usd("0.00075")],
            # per priced request: 0.268 / 6 = 0.0446666.. ; 0.0464 / 12 = 0.0038666.. ; 0.0044 / 16 = 0.000275
            "avg_cost_usd": [usd("0.044667"), usd("0.003867"), usd("0.02025"), usd("0.000275"), usd("0.000375")],
            "cost_share": [float(Decimal(c) / total) for c in ("0.268", "0.0464", "0.0405", "0.0044", "0.00075")],
            "unpriced_requests": [0, 0, 0, 3, 0],
        },
        schema=declared_schema(queries.load("cost_by_feature")),
    )
    assert result.schema == expected.schema
    assert_frame_equal(result, expected)


def test_cost_by_feature_window_only_counts_requests_inside_it(populated):
    rows = [r for r in request_rows() if datetime(2026, 11, 17, tzinfo=timezone.utc) <= r["ts"] < datetime(2026, 11, 18, tzinfo=timezone.utc)]
    result = populated.run_query("cost_by_feature", since="2026-11-17", until="2026-11-18")
    assert result["requests"].sum() == len(rows)
    priced = [expected_cost(r) for r in rows if expected_cost(r) is not None]
    assert sum(result["cost_usd"].drop_nulls().to_list()) == usd(sum(priced))
    assert result["unpriced_requests"].sum() == sum(expected_cost(r) is None for r in rows)


def test_error_rates_by_tier_figures(populated):
    result = populated.run_query("error_rates_by_tier")
    expected = pl.DataFrame(
        {
            "tier": ["haiku", "sonnet", "opus", "(unknown)"],
            "requests": [18, 14, 6, 3],
            "errors": [4, 3, 2, 0],
            "error_rate": [4 / 18, 3 / 14, 2 / 6, 0.0],
            # haiku's 429 had no error_type: the HTTP status alone counts it
            "rate_limited": [1, 2, 0, 0],
            "rate_limited_rate": [1 / 18, 2 / 14, 0.0, 0.0],
            "overloaded": [0, 1, 1, 0],
            "overloaded_rate": [0.0, 1 / 14, 1 / 6, 0.0],
            "context_exceeded": [2, 0, 0, 0],
            "context_exceeded_rate": [2 / 18, 0.0, 0.0, 0.0],
            "other_errors": [1, 0, 1, 0],  # haiku's timeout, opus's api_error
            "unpriced_requests": [0, 0, 0, 3],
        },
        schema=declared_schema(queries.load("error_rates_by_tier")),
    )
    assert result.schema == expected.schema
    assert_frame_equal(result, expected)


def test_error_rates_by_tier_classifies_errors_logged_without_an_http_status(store):
    # Some sources carry only the error type: an overloaded or context_exceeded error with no
    # HTTP status is still overloaded or context_exceeded, not "other".
    rows = request_rows()[:1]
    base = {**rows[0], "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "status": "error", "http_status": None}
    rows = [{**base, "request_id": f"msg_e{i}", "error_type": kind}
            for i, kind in enumerate(["overloaded", "context_exceeded", "rate_limit", "timeout"])]
    columns = list(rows[0])
    for row in rows:
        store.execute(f"insert into requests ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                      [row[c] for c in columns])
    result = store.run_query("error_rates_by_tier").row(0, named=True)
    assert (result["errors"], result["rate_limited"], result["overloaded"], result["context_exceeded"],
            result["other_errors"]) == (4, 1, 1, 1, 1)


def test_cache_savings_figures(populated):
    result = populated.run_query("cache_savings")
    d = usd
    expected = pl.DataFrame(
        {
            "model": ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-nova-1"],
            "tier": ["opus", "sonnet", "haiku", "(unknown)"],
            "requests": [6, 14, 18, 3],
            "cache_hit_requests": [4, 8, 4, 3],
            "cache_read_tokens": [40000, 34000, 80000, 3000],
            "cache_write_tokens": [12000, 5000, 0, 0],
            # opus 4 x 10000 x $0.20/M; sonnet 6 x 4000 x $0.10/M + 2 x 5000 x $0.10/M x 0.5 (batch); haiku 4 x 20000 x $0.01/M
            "cache_read_usd": [d("0.008"), d("0.0029"), d("0.0008"), None],
            # the same tokens at the input rate: opus $4/M; sonnet $2/M (batch rows $1/M); haiku $0.10/M
            "cache_read_at_input_usd": [d("0.16"), d("0.058"), d("0.008"), None],
            "read_savings_usd": [d("0.152"), d("0.0551"), d("0.0072"), None],
            # opus 4 x 3000 x $5/M; sonnet 2 x 2000 x $2.50/M + 1000 x $4/M
            "cache_write_usd": [d("0.06"), d("0.014"), d("0"), None],
            "cache_write_at_input_usd": [d("0.048"), d("0.010"), d("0"), None],
            "write_premium_usd": [d("0.012"), d("0.004"), d("0"), None],
            "net_savings_usd": [d("0.14"), d("0.0511"), d("0.0072"), None],
            "unpriced_requests": [0, 0, 0, 3],
        },
        schema=declared_schema(queries.load("cache_savings")),
    )
    assert result.schema == expected.schema
    assert_frame_equal(result, expected)


def test_cache_savings_follows_a_price_change_at_the_request_time(store):
    # Sonnet 5.5's cache read went from $0.20 to $0.10 on 2026-10-07; input stayed $2.
    for request_id, ts in (("before", "2026-10-01 12:00:00+00"), ("after", "2026-10-08 12:00:00+00")):
        store.execute(
            "insert into requests (request_id, ts, platform, model, service_tier, speed, input_tokens, "
            "output_tokens, cache_read_tokens, status, source) values "
            "(?, ?, 'anthropic', 'claude-sonnet-5-5', 'standard', 'standard', 100, 10, 1000000, 'ok', 'canonical')",
            [request_id, ts],
        )
    result = store.run_query("cache_savings")
    assert result["cache_read_usd"].to_list() == [usd("0.30")]  # 0.20 + 0.10
    assert result["cache_read_at_input_usd"].to_list() == [usd("4")]  # 2 x $2
    assert result["read_savings_usd"].to_list() == [usd("3.70")]


def test_cache_savings_uses_the_rate_with_residency_and_regional_multipliers(store):
    # US-only inference (first party) and a regional Bedrock endpoint both bill Sonnet 5.5 at 1.1x;
    # the counterfactual must use the multiplied input rate too, and match each request exactly once.
    for request_id, platform, geo in (("us", "anthropic", "us"), ("eu", "bedrock", "eu-west-1"), ("glob", "bedrock", "global")):
        store.execute(
            "insert into requests (request_id, ts, platform, model, service_tier, speed, inference_geo, input_tokens, "
            "output_tokens, cache_read_tokens, status, source) values "
            "(?, '2026-11-16 12:00:00+00', ?, 'claude-sonnet-5-5', 'standard', 'standard', ?, 0, 0, 1000000, 'ok', 'canonical')",
            [request_id, platform, geo],
        )
    result = store.run_query("cache_savings").row(0, named=True)
    assert result["requests"] == 3
    assert result["cache_read_usd"] == usd("0.32")  # 0.10 x 1.1 + 0.10 x 1.1 + 0.10
    assert result["cache_read_at_input_usd"] == usd("6.40")  # 2 x 1.1 + 2 x 1.1 + 2


def test_cost_by_tier_model_day_adds_up_to_the_view(populated):
    result = populated.run_query("cost_by_tier_model_day")
    rows = request_rows()
    assert result["requests"].sum() == len(rows)
    assert result["unpriced_requests"].sum() == 3
    assert sum(result["cost_usd"].drop_nulls().to_list()) == usd("0.36005")
    assert result.filter(pl.col("model") == "claude-nova-1")["cost_usd"].null_count() == result.filter(
        pl.col("model") == "claude-nova-1"
    ).height, "an unpriced model's cost is NULL, never $0"
    assert sorted(result["day"].unique().to_list()) == [r.date() for r in (START, START + timedelta(days=1), START + timedelta(days=2))]


def test_cost_by_user_respects_limit_and_order(populated):
    result = populated.run_query("cost_by_user", limit=2)
    assert result.height == 2
    full = populated.run_query("cost_by_user")
    assert full.height == 3 and full["requests"].sum() == 41
    assert full["cost_usd"].to_list() == sorted(full["cost_usd"].to_list(), reverse=True)
    assert result["user_id"].to_list() == full["user_id"].head(2).to_list()


def test_top_requests_by_cost_ranks_priced_requests_and_counts_the_rest(populated):
    result = populated.run_query("top_requests_by_cost", limit=5)
    assert result.height == 5
    assert result["model"].to_list() == ["claude-opus-5-5"] * 4 + ["claude-sonnet-5-5"]
    assert result["cost_usd"].to_list() == [usd("0.067")] * 4 + [usd("0.02025")]  # then the batch rows
    assert result["unpriced_in_window"].unique().to_list() == [3]
    every = populated.run_query("top_requests_by_cost", limit=100)
    assert every.height == 41
    assert every.tail(3)["priced"].to_list() == [False] * 3  # unpriced rows sort last, not as $0


def test_unpriced_requests_names_the_gap(populated):
    result = populated.run_query("unpriced_requests")
    assert result.select("model", "unpriced_reason", "unpriced_requests", "input_tokens", "output_tokens", "cache_tokens").rows() == [
        ("claude-nova-1", "no price for model claude-nova-1", 3, 6000, 1500, 3000)
    ]


def test_ingest_history_counts_rejects(populated):
    result = populated.run_query("ingest_history")
    row = result.row(0, named=True)
    assert row["ingest_id"] == 1 and row["rows_rejected"] == 3 and row["rejects_stored"] == 3
    assert row["top_reject_reason"] == "ts: not a timestamp"
    assert row["requests_now"] == 41 and row["unpriced_requests"] == 3
    assert row["seconds"] == pytest.approx(2.5)


# -- summary (built from the queries above) --------------------------------------------------------
def test_summary_sections_carry_totals_and_unpriced_counts(populated):
    sections = summary.cost_summary(populated)
    assert list(sections) == ["tier", "model", "feature", "day"]
    for name, frame in sections.items():
        total = frame.filter(pl.col(name) == summary.TOTAL)
        assert total.height == 1, name
        assert total["requests"].item() == 41, name
        assert total["unpriced_requests"].item() == 3, name
        assert total["cost_usd"].item() == usd("0.36005"), name
        assert frame.schema["cost_usd"] == pl.Decimal(18, 9)
    tiers = sections["tier"]
    assert tiers.filter(pl.col("tier") == "(unknown)")["cost_usd"].item() is None


def test_summary_window(populated):
    sections = summary.cost_summary(populated, since=datetime(2026, 11, 18, tzinfo=timezone.utc))
    late = [r for r in request_rows() if r["ts"] >= datetime(2026, 11, 18, tzinfo=timezone.utc)]
    assert sections["day"].filter(pl.col("day") == summary.TOTAL)["requests"].item() == len(late)


def test_summary_on_an_empty_store_still_has_totals(store):
    sections = summary.cost_summary(store)
    for name, frame in sections.items():
        assert frame.columns == [name, "requests", "errors", "input_tokens", "output_tokens", "cost_usd", "unpriced_requests"]
        assert frame.rows() == [(summary.TOTAL, 0, 0, 0, 0, Decimal("0"), 0)], name


def test_summary_text_fits_100_columns(populated):
    sections = summary.cost_summary(populated)
    text = frames.sections_to_text(sections, long=summary.summary_frame(sections), titles=summary.TITLES, width=100)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "total" in text and "unpriced" in text


@pytest.fixture(scope="module")
def example_store(tmp_path_factory):
    """The store `make demo` builds: every shipped example ingested with the examples' config."""
    from costlab.config import load_config
    from costlab.ingest import ingest_paths
    from costlab.open import open_store

    from helpers import EXAMPLES

    s = open_store(tmp_path_factory.mktemp("example") / "example.duckdb", load_config(EXAMPLES / "costlab.toml"))
    summary = ingest_paths(s, [str(EXAMPLES)])
    assert not summary.failed and summary.total("rows_added") > 40_000
    yield s
    s.close()


@pytest.mark.parametrize("query", STARTERS, ids=NAMES)
def test_runs_on_the_example_store_with_the_declared_schema(example_store, query):
    result = example_store.run_query(query.name)
    assert result.schema == declared_schema(query)
    assert result.height > 0 or query.name == "unpriced_requests"


def test_the_example_store_is_fully_priced_and_its_sections_agree(example_store):
    from costlab.summary import cost_summary

    total = example_store.scalar("select sum(cost_usd) from costed_requests")
    assert example_store.scalar("select count(*) from costed_requests where not priced") == 0
    sections = cost_summary(example_store)
    for name, frame in sections.items():
        tot = frame.filter(pl.col(frame.columns[0]) == "total")["cost_usd"].item()
        assert tot == total, name
