"""Langfuse observation exports (blob export or UI export): CSV, JSON lines or Parquet, snake_case
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

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest.common import V, cache_writes, tag_keys, uncached_input
from costlab.ingest.sources import Adapter
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


def adapter(config: Config, columns: list[str] | None = None, kind: str | None = None) -> Adapter:
    kind = kind or ("csv" if columns else "json")
    have = {c.lower(): c for c in (columns or list(SPEC))}
    section = config.ingest.get("langfuse") or {}
    includes = section.get("input_includes_cache", False)
    if not isinstance(includes, bool):
        raise ConfigError("[ingest.langfuse] input_includes_cache must be true or false")

    def c(snake: str) -> str:
        names = [n for n in (snake, _PAIRS.get(snake, snake)) if n.lower() in have]
        quoted = [ident(have[n.lower()]) for n in dict.fromkeys(names)]
        if not quoted:
            return "NULL"
        if snake in _JSONISH:  # a JSON string (CSV), an object (JSONL) or a MAP/STRUCT (Parquet), all as JSON
            quoted = [f"try_cast({q} as JSON)" for q in quoted]
        else:
            quoted = [f"cast({q} as VARCHAR)" for q in quoted]
        return quoted[0] if len(quoted) == 1 else f"coalesce({', '.join(quoted)})"

    if c("id") == "NULL" or c("start_time") == "NULL":
        raise ConfigError("a Langfuse observation export needs `id` and `start_time` (or `startTime`) columns")
    tags = []
    for col, key in tag_keys(config, "langfuse", _TAG_DEFAULTS).items():
        if key is None:
            tags.append(f"NULL as {col}")
        elif key.startswith("metadata."):
            path = "$." + ".".join(json.dumps(k) for k in key[9:].split("."))
            tags.append(f"json_extract_string({c('metadata')}, {literal(path)}) as {col}")
        else:
            tags.append(f"{c(key)} as {col}")
    u = "_u"
    five, assumed, note = cache_writes("_cw", "_w5", "_w1")
    select = f"""
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
    )
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
        {uncached_input('_in', '_cr', '_cw', '_w5', '_w1') if includes else '_in'} as input_tokens,
        _out as output_tokens,
        _cr as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        _w1 as cache_write_1h_tokens,
        NULL as web_search_requests, NULL as web_fetch_requests,
        {assumed} as _ttl_assumed, {note} as _note,
        (epoch_ms(_t1) - epoch_ms(_t0))::VARCHAR as latency_ms,
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
        NULL as stop_reason,
        {', '.join(tags)},
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score,
        coalesce({c('total_cost')}, {c('calculated_total_cost')}, {c('cost_details')}->>'$.total') as reported_cost_usd,
        'langfuse' as source,
        json_object('name', {c('name')}, 'trace_id', {c('trace_id')}, 'environment', {c('environment')},
                    'parent_observation_id', {c('parent_observation_id')}, 'prompt_name', {c('prompt_name')},
                    'usage_details', {u}, 'cost_details', {c('cost_details')}, 'model_parameters', {c('model_parameters')},
                    'metadata', {c('metadata')}, 'status_message', {c('status_message')}) as _attrs,
        case when {c('input')} is not null then json_object('input', {c('input')}) end as _request_json,
        case when json_type({c('output')}) = 'VARCHAR' then {c('output')}->>'$'
             else coalesce({c('output')}->>'$.content', {c('output')}::VARCHAR) end as _response_text
    from t"""
    return Adapter(f"langfuse-{kind}", kind, select, SPEC if kind == "json" else {})


def parquet_adapter(config: Config, columns: list[str] | None = None) -> Adapter:
    return adapter(config, columns, "parquet")
