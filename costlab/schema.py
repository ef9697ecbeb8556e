"""The canonical request: column names, DuckDB types and meaning. The single source of truth.

Token semantics follow Anthropic's `usage` object: `input_tokens` EXCLUDES cache reads and cache
writes. Adapters whose source counts cache tokens inside the input subtract them.
The `requests` table (migrations), the schema section of the docs (tests compare them) and every
adapter's output are checked against this list.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    name: str
    type: str
    meaning: str


REQUEST_COLUMNS: tuple[Column, ...] = (
    Column("request_id", "VARCHAR", "provider id (msg_..., Bedrock requestId) or a stable hash of the source row; unique per source"),
    Column("ts", "TIMESTAMPTZ", "request start, UTC"),
    Column("platform", "VARCHAR", "anthropic, bedrock, vertex, foundry, claude_aws, or other"),
    Column("model", "VARCHAR", "model id as billed, normalised (raw id kept in attributes.model_raw)"),
    Column("service_tier", "VARCHAR", "standard, batch, priority"),
    Column("speed", "VARCHAR", "standard, fast"),
    Column("inference_geo", "VARCHAR", "global, us, a region, or NULL"),
    Column("input_tokens", "BIGINT", "uncached input tokens (excludes cache reads and writes)"),
    Column("output_tokens", "BIGINT", "billed output tokens (thinking included)"),
    Column("cache_read_tokens", "BIGINT", "prompt-cache reads"),
    Column("cache_write_5m_tokens", "BIGINT", "5-minute cache writes (an undivided write count lands here; attributes.cache_ttl_assumed says so)"),
    Column("cache_write_1h_tokens", "BIGINT", "1-hour cache writes"),
    Column("web_search_requests", "INTEGER", "server-side web searches"),
    Column("web_fetch_requests", "INTEGER", "server-side web fetches"),
    Column("latency_ms", "DOUBLE", "total latency"),
    Column("ttft_ms", "DOUBLE", "time to first token"),
    Column("status", "VARCHAR", "ok or error"),
    Column("error_type", "VARCHAR", "rate_limit, overloaded, context_exceeded, invalid_request, timeout, api_error, ..."),
    Column("http_status", "SMALLINT", "HTTP status of the response"),
    Column("stop_reason", "VARCHAR", "end_turn, max_tokens, tool_use, refusal, model_context_window_exceeded, ..."),
    Column("feature", "VARCHAR", "the product route or task the request served"),
    Column("user_id", "VARCHAR", "end user"),
    Column("customer_id", "VARCHAR", "customer / tenant"),
    Column("session_id", "VARCHAR", "conversation or session"),
    Column("trace_id", "VARCHAR", "distributed trace"),
    Column("parent_request_id", "VARCHAR", "the request this one retries or escalates"),
    Column("attempt", "SMALLINT", "1 for the first try, 2 for the first retry or escalation, ..."),
    Column("feedback_score", "DOUBLE", "user or evaluator score when the logs carry one"),
    Column("reported_cost_usd", "DECIMAL(18,9)", "cost as the source reported it; for reconciliation, never used as the price"),
    Column("source", "VARCHAR", "the log format the row came from (anthropic, batch, canonical, mapping name, ...)"),
    Column("ingest_id", "BIGINT", "the ingests row that added it"),
    Column("attributes", "JSON", "everything else the source had"),
    Column("sample_weight", "DECIMAL(38,6)", "how many requests the row stands for: 1 / the sampling rate (1000 in a 1-in-1000 sample), 1 for a complete log; every cost, request and token sum is weighted by it"),
)

# Columns of `requests` that costlab derives, not the sources: each request's price under the price
# card in force when it was written (queries/internal/price_rows.sql), so reading costs is a scan, not
# a join. costed_requests exposes all but price_version. Ingest fills them; a read-write open of the
# store re-prices the rows whose price_version is not the current card's (costlab.pricing.reprice).
STORED_PRICE_COLUMNS: tuple[Column, ...] = (
    Column("tier", "VARCHAR", "stored price: the model's tier line (see costed_requests)"),
    Column("priced", "BOOLEAN", "stored price: false when no price was in force"),
    Column("unpriced_reason", "VARCHAR", "stored price: why, when priced is false"),
    Column("cost_input_usd", "DECIMAL(18,9)", "stored price: uncached input"),
    Column("cost_output_usd", "DECIMAL(18,9)", "stored price: output"),
    Column("cost_cache_write_usd", "DECIMAL(18,9)", "stored price: cache writes"),
    Column("cost_cache_read_usd", "DECIMAL(18,9)", "stored price: cache reads"),
    Column("cost_tools_usd", "DECIMAL(18,9)", "stored price: server-tool fees"),
    Column("cost_usd", "DECIMAL(18,9)", "stored price: the sum of the five parts"),
    Column("price_multiplier", "DECIMAL(18,9)", "stored price: the multiplier applied to the rates"),
    Column("cost_list_usd", "DECIMAL(18,9)", "stored price: cost_usd at list price, before negotiated discounts (equal to cost_usd where none applies)"),
    Column("price_version", "UBIGINT", "the price card the row was priced under (NULL: not priced yet); a row whose version is not costlab_price_version() is priced as it is read"),
    Column("request_key", "UBIGINT", "stored with the price: a 64-bit key of request_id (costlab_request_key), to join on"),
    Column("parent_key", "UBIGINT", "stored with the price: the same key of parent_request_id (NULL when there is none); a re-send joins parent_key = request_key"),
)

# The order of the columns in the `requests` table itself: a migration appends a column after the
# ones before it (DuckDB cannot reorder columns), so a canonical column added after the stored prices
# (m009: sample_weight) follows them in the table. costed_requests lists REQUEST_COLUMNS in order.
# The stored price columns added after that (m012: cost_list_usd; m013: request_key, parent_key) follow
# sample_weight.
APPENDED_REQUEST_COLUMNS: tuple[str, ...] = ("sample_weight",)
APPENDED_PRICE_COLUMNS: tuple[str, ...] = ("cost_list_usd", "request_key", "parent_key")
REQUESTS_TABLE_COLUMNS: tuple[Column, ...] = (
    *(c for c in REQUEST_COLUMNS if c.name not in APPENDED_REQUEST_COLUMNS),
    *(c for c in STORED_PRICE_COLUMNS if c.name not in APPENDED_PRICE_COLUMNS),
    *(c for c in REQUEST_COLUMNS if c.name in APPENDED_REQUEST_COLUMNS),
    *(c for c in STORED_PRICE_COLUMNS if c.name in APPENDED_PRICE_COLUMNS),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in REQUEST_COLUMNS)
COLUMN_TYPES: dict[str, str] = {c.name: c.type for c in REQUEST_COLUMNS}

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
COUNT_COLUMNS = TOKEN_COLUMNS + ("web_search_requests", "web_fetch_requests")

# The largest count one row may carry; a larger one is a reject, never a wrapped or zeroed number.
# Far beyond any request (a context window is ~1M tokens), yet each count's price stays well inside
# DECIMAL(18,9) ($1e9): 1e11 tokens at $1,000/MTok is $1e8, 1e9 web searches at $10/1k is $1e7, so
# the five cost parts and their sum cannot overflow, and the server-tool counts fit their INTEGER column.
MAX_TOKENS = 100_000_000_000
MAX_TOOL_REQUESTS = 1_000_000_000
COUNT_LIMITS: dict[str, int] = {c: (MAX_TOKENS if c in TOKEN_COLUMNS else MAX_TOOL_REQUESTS) for c in COUNT_COLUMNS}

# The smallest weight a row may carry (DECIMAL(38,6): a weight below it would round to 0) and the largest
# (a 1-in-a-billion sample; beyond it a weighted cost could overflow its sums).
MIN_SAMPLE_WEIGHT = "0.000001"
MAX_SAMPLE_WEIGHT = 1_000_000_000

# Values the enum-like columns may take; anything else is a reject with this list in the reason.
ALLOWED = {
    "service_tier": ("standard", "batch", "priority"),
    "speed": ("standard", "fast"),
    "status": ("ok", "error"),
}
