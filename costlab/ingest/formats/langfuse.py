"""`langfuse`: Langfuse observation exports (blob export or UI export): CSV, JSON lines or Parquet, snake_case
(`usage_details`, `start_time`) or camelCase (`usageDetails`, `startTime`) column names, whichever
the file has. Each GENERATION observation is one request; spans and events are skipped.

Usage keys (`usage_details`, a JSON object, or a MAP in Parquet): `input` (uncached input: Langfuse
prices `input_cache_read` separately, so it is not inside `input`), `output`, `input_cache_read`,
`input_cache_creation_5m`, `input_cache_creation_1h`, and `input_cache_creation` when undivided (5m,
said so). `[ingest.langfuse] input_includes_cache = true` subtracts the cache counts for integrations
that put them inside `input`. `total_cost` (or `calculated_total_cost`, `cost_details.total`) goes to
`reported_cost_usd`; it is never the price. `level = ERROR` is an error, typed from `status_message`.

    [ingest.langfuse.tags]          # column or "metadata.key"; defaults shown
    feature = "name"
    user_id = "user_id"
    customer_id = "metadata.customer_id"
    session_id = "session_id"
    trace_id = "trace_id"
"""

from __future__ import annotations

import json
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest.counts import cache_writes, uncached_input
from costlab.ingest.files import content_kind
from costlab.ingest.formats.base import V, Adapter, Format
from costlab.ingest.tags import tag_keys
from costlab.store.sqlquote import ident, literal

_PAIRS = {  # snake_case -> camelCase
    "id": "id", "trace_id": "traceId", "type": "type", "name": "name", "start_time": "startTime",
    "end_time": "endTime", "completion_start_time": "completionStartTime", "model": "model",
    "provided_model_name": "providedModelName", "usage_details": "usageDetails", "usage": "usage",
    "cost_details": "costDetails", "total_cost": "totalCost", "calculated_total_cost": "calculatedTotalCost",
    "level": "level", "status_message": "statusMessage", "metadata": "metadata", "input": "input", "output": "output",
    "user_id": "userId", "session_id": "sessionId", "environment": "environment", "model_parameters": "modelParameters",
    "prompt_name": "promptName", "parent_observation_id": "parentObservationId",
}
_JSONISH = {"usage_details", "usage", "cost_details", "metadata", "input", "output", "model_parameters"}
SPEC = {}
for _snake, _camel in _PAIRS.items():
    SPEC[_snake] = "JSON" if _snake in _JSONISH else V
    SPEC[_camel] = "JSON" if _snake in _JSONISH else V
_TAG_DEFAULTS = {"feature": "name", "user_id": "user_id", "customer_id": "metadata.customer_id",
                 "session_id": "session_id", "trace_id": "trace_id"}


class _Columns:
    """The export's own columns: `c(snake)` the column under its snake_case or camelCase name (both
    when the file has both, the first that is not NULL), as JSON for JSON-ish fields, else as text."""

    def __init__(self, columns: list[str]):
        self.have = {c.lower(): c for c in columns}

    def c(self, snake: str) -> str:
        names = [n for n in (snake, _PAIRS.get(snake, snake)) if n.lower() in self.have]
        quoted = [ident(self.have[n.lower()]) for n in dict.fromkeys(names)]
        if not quoted:
            return "NULL"
        if snake in _JSONISH:  # a JSON string (CSV), an object (JSONL) or a MAP/STRUCT (Parquet), all as JSON
            quoted = [f"try_cast({q} as JSON)" for q in quoted]
        else:
            quoted = [f"cast({q} as VARCHAR)" for q in quoted]
        return quoted[0] if len(quoted) == 1 else f"coalesce({', '.join(quoted)})"


def _input_includes_cache(config: Config) -> bool:
    includes = (config.ingest.get("langfuse") or {}).get("input_includes_cache", False)
    if not isinstance(includes, bool):
        raise ConfigError("[ingest.langfuse] input_includes_cache must be true or false")
    return includes


def _tag_items(config: Config, x: _Columns) -> str:
    """The tag columns by [ingest.langfuse.tags]: a column, or a metadata key."""
    tags = []
    for col, key in tag_keys(config, "langfuse", _TAG_DEFAULTS).items():
        if key is None:
            tags.append(f"NULL as {col}")
        elif key.startswith("metadata."):
            path = "$." + ".".join(json.dumps(k) for k in key[9:].split("."))
            tags.append(f"json_extract_string({x.c('metadata')}, {literal(path)}) as {col}")
        else:
            tags.append(f"{x.c(key)} as {col}")
    return ", ".join(tags)


def _ctes(x: _Columns) -> str:
    """CTEs b -> t over `src`: GENERATION observations only (and rejects), usage, level, times; then the token counts."""
    c, u = x.c, "_u"
    return f"""
    with b as (
        select *, coalesce({c('usage_details')}, {c('usage')}) as _u,
               upper(coalesce({c('level')}, '')) = 'ERROR' as _failed,
               try_cast({c('start_time')} as TIMESTAMPTZ) as _t0, try_cast({c('end_time')} as TIMESTAMPTZ) as _t1,
               try_cast({c('completion_start_time')} as TIMESTAMPTZ) as _tf,
               lower(coalesce({c('status_message')}, '')) as _msg
        from src
        where _parse_error is not null or {c('type')} is null or upper({c('type')}) = 'GENERATION'
    ),
    t as (
        select *, {u}->>'$.input' as _in, {u}->>'$.output' as _out,
               coalesce({u}->>'$.input_cache_read', {u}->>'$.cache_read_input_tokens') as _cr,
               {u}->>'$.input_cache_creation_5m' as _w5, {u}->>'$.input_cache_creation_1h' as _w1,
               coalesce({u}->>'$.input_cache_creation', {u}->>'$.cache_creation_input_tokens') as _cw
        from b
    )"""


def _token_columns(includes: bool) -> str:
    five, assumed, note = cache_writes("_cw", "_w5", "_w1")
    return f"""{uncached_input('_in', '_cr', '_cw', '_w5', '_w1') if includes else '_in'} as input_tokens,
        _out as output_tokens,
        _cr as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        _w1 as cache_write_1h_tokens,
        NULL as web_search_requests, NULL as web_fetch_requests,
        {assumed} as _ttl_assumed, {note} as _note"""


# latency, ttft, status, error_type and http_status (typed from status_message), stop_reason.
_OUTCOME = """(epoch_ms(_t1) - epoch_ms(_t0))::VARCHAR as latency_ms,
        case when _tf >= _t0 then (epoch_ms(_tf) - epoch_ms(_t0))::VARCHAR end as ttft_ms,
        case when _failed then 'error' else 'ok' end as status,
        case when not _failed then NULL
             when regexp_matches(_msg, '429|rate.?limit') then 'rate_limit'
             when regexp_matches(_msg, '529|overloaded') then 'overloaded'
             when regexp_matches(_msg, 'prompt is too long|context.?(window|length|limit)|too many tokens') then 'context_exceeded'
             when regexp_matches(_msg, 'timeout|timed out') then 'timeout'
             when regexp_matches(_msg, 'invalid.?request|\\b400\\b') then 'invalid_request'
             else 'api_error' end as error_type,
        case when not _failed then '200'
             when regexp_matches(_msg, '429|rate.?limit') then '429'
             when regexp_matches(_msg, '529|overloaded') then '529' end as http_status,
        NULL as stop_reason"""


def _attrs_and_payloads(x: _Columns) -> str:
    c = x.c
    return f"""json_object('name', {c('name')}, 'trace_id', {c('trace_id')}, 'environment', {c('environment')},
                    'parent_observation_id', {c('parent_observation_id')}, 'prompt_name', {c('prompt_name')},
                    'usage_details', _u, 'cost_details', {c('cost_details')}, 'model_parameters', {c('model_parameters')},
                    'metadata', {c('metadata')}, 'status_message', {c('status_message')}) as _attrs,
        case when {c('input')} is not null then json_object('input', {c('input')}) end as _request_json,
        case when json_type({c('output')}) = 'VARCHAR' then {c('output')}->>'$'
             else coalesce({c('output')}->>'$.content', {c('output')}::VARCHAR) end as _response_text"""


def adapter(config: Config, columns: list[str] | None = None, kind: str | None = None) -> Adapter:
    kind = kind or ("csv" if columns else "json")
    x = _Columns(columns or list(SPEC))
    includes = _input_includes_cache(config)
    c = x.c
    if c("id") == "NULL" or c("start_time") == "NULL":
        raise ConfigError("a Langfuse observation export needs `id` and `start_time` (or `startTime`) columns")
    select = f"""{_ctes(x)}
    select _line, _raw, _row,
        coalesce(_parse_error,
            case when {c('id')} is null and {c('start_time')} is null and {c('type')} is null
                     then 'not a Langfuse observation (no id, type or start_time): another format mixed in?'
                 when not _failed and (_in is null or _out is null)
                     then 'no usage (usage_details input and output): its cost cannot be known'
            end) as _parse_error,
        {c('id')} as request_id,
        {c('start_time')} as ts,
        'anthropic' as platform,
        coalesce({c('provided_model_name')}, {c('model')}) as model_raw,
        NULL as service_tier, NULL as speed, NULL as inference_geo,
        {_token_columns(includes)},
        {_OUTCOME},
        {_tag_items(config, x)},
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score,
        coalesce({c('total_cost')}, {c('calculated_total_cost')}, {c('cost_details')}->>'$.total') as reported_cost_usd, NULL as sample_weight,
        'langfuse' as source,
        {_attrs_and_payloads(x)}
    from t"""
    return Adapter(f"langfuse-{kind}", kind, select, SPEC if kind == "json" else {})


def _adapter(name: str, config: Config, columns: list[str]) -> Adapter:
    return adapter(config, columns, "parquet" if name == "langfuse-parquet" else None)


def _sniff_record(record: dict) -> str | None:
    keys = set(record)
    return "langfuse-jsonl" if {"start_time", "startTime"} & keys and {"usage_details", "usageDetails"} & keys else None


def _sniff_columns(name: str):
    def sniff(columns: set[str]) -> str | None:  # lower-cased names
        return name if {"start_time", "starttime"} & columns and {"usage_details", "usagedetails"} & columns else None
    return sniff


def _choose(_flag: str, path: Path, _config: Config) -> str:
    """--format langfuse: CSV, JSON lines or Parquet by the file's first bytes."""
    return f"langfuse-{content_kind(path)}"


_KINDS = {"langfuse-csv": "csv", "langfuse-jsonl": "json", "langfuse-parquet": "parquet"}

FORMAT = Format(
    flag="langfuse",
    describes="Langfuse observations (CSV, JSONL, Parquet)",
    docs="`langfuse`",
    names=tuple(_KINDS),
    kinds=_KINDS,
    choose=_choose,
    plain_csv=True,
    adapter=_adapter,
    sniff_record=_sniff_record,
    sniff_header=_sniff_columns("langfuse-csv"),
    sniff_parquet=_sniff_columns("langfuse-parquet"),
)
