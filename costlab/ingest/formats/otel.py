"""`otel`: OpenTelemetry GenAI spans, as the OpenTelemetry Collector's file exporter writes them: OTLP JSON,
one `{"resourceSpans": [...]}` export request per line (optionally gzip). Each span that carries
`gen_ai.*` attributes is one request; other spans (HTTP, database, ...) are skipped.

Token semantics: the GenAI conventions (and the Anthropic SDK's tracer) put cache reads and writes
INSIDE `gen_ai.usage.input_tokens`; costlab subtracts them to get Anthropic's uncached input.
`[ingest.otel] input_includes_cache = false` turns that off for instrumentations that report the raw
Anthropic count. Cache writes: `gen_ai.usage.cache_creation.input_tokens` or the newer
`gen_ai.usage.cache_write.input_tokens`; reads: `gen_ai.usage.cache_read.input_tokens`; legacy
aliases `gen_ai.usage.cache_read_input_tokens`, `gen_ai.usage.cache_creation_input_tokens`,
`gen_ai.usage.input_tokens.cached`, `gen_ai.usage.prompt_tokens`, `gen_ai.usage.completion_tokens`.
The 5m/1h split comes from `anthropic.usage.cache_creation.ephemeral_{5m,1h}_input_tokens` when present.

    [ingest.otel.tags]       # canonical column -> span (or resource) attribute
    feature = "app.route"
"""

from __future__ import annotations

import re

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest.counts import cache_tokens, cache_writes, counts_ok, uncached_input
from costlab.ingest.formats.base import V, Adapter, Format, only
from costlab.ingest.tags import tag_keys
from costlab.store.sqlquote import literal

ATTR = {"key": V, "value": {"stringValue": V, "intValue": V, "doubleValue": V, "boolValue": V, "arrayValue": "JSON"}}
SPAN = {
    "traceId": V, "spanId": V, "parentSpanId": V, "name": V, "kind": V,
    "startTimeUnixNano": V, "endTimeUnixNano": V, "attributes": [ATTR], "status": {"code": V, "message": V},
}
SPEC = {"resourceSpans": [{"resource": {"attributes": [ATTR]}, "scopeSpans": [{"scope": {"name": V, "version": V}, "spans": [SPAN]}]}]}

_TAG_DEFAULTS = {"user_id": "user.id", "customer_id": "customer.id", "session_id": "session.id", "trace_id": None}


def _as_map(attrs: str) -> str:
    """OTLP's [{key, value: {stringValue|intValue|...}}] as a MAP(VARCHAR, VARCHAR); the first of
    any repeated key wins (a map cannot hold two)."""
    kv = (f"list_transform({attrs}, lambda a: {{'k': a.key, 'v': coalesce(a.value.stringValue, a.value.intValue, "
          f"a.value.doubleValue, a.value.boolValue, a.value.arrayValue::VARCHAR)}})")
    # The de-duplication is quadratic, so it runs only on the rare lists that need it (CASE evaluates
    # a branch only for the rows that take it).
    return (f"case when len(list_distinct(list_transform({attrs}, lambda a: a.key))) = len({attrs}) "
            f"then map_from_entries({kv}) "
            f"else map_from_entries(list_filter({kv}, lambda e, i: e.k is not null and "
            f"list_position(list_transform({kv}, lambda b: b.k), e.k) = i)) end")


def a(key: str) -> str:
    """A span attribute's value (SQL), from the span's attribute map `_a`."""
    return f"_a[{literal(key)}]"


def _input_includes_cache(config: Config) -> bool:
    includes = (config.ingest.get("otel") or {}).get("input_includes_cache", True)
    if not isinstance(includes, bool):
        raise ConfigError("[ingest.otel] input_includes_cache must be true or false")
    return includes


def _tag_items(config: Config) -> str:
    """The tag columns from span attributes, then resource attributes ([ingest.otel.tags])."""
    tags = []
    for col, key in tag_keys(config, "otel", _TAG_DEFAULTS).items():
        if col == "trace_id":
            tags.append("sp.traceId as trace_id")
        elif col == "session_id" and key == "session.id":
            tags.append(f"coalesce({a('session.id')}, {a('gen_ai.conversation.id')}, _r[{literal(key)}]) as session_id")
        elif key is None:
            tags.append(f"NULL as {col}")
        else:
            tags.append(f"coalesce({a(key)}, _r[{literal(key)}]) as {col}")
    return ", ".join(tags)


# CTEs l -> r -> s -> p -> spans -> g: each export line's spans unnested with their resource and
# scope, attribute lists as maps, non-GenAI spans dropped, a response id repeated within a line kept
# once; g adds the usage and error fields the SELECT reads.
_SPANS = f"""
    with l as (select _line, _raw, _parse_error, _row, resourceSpans from src),
    r as (select _line, _raw, _parse_error, unnest(resourceSpans) as rs from l),
    s as (select _line, _raw, _parse_error, {_as_map('rs.resource.attributes')} as _r, unnest(rs.scopeSpans) as ss from r),
    p as (select _line, _raw, _parse_error, _r, ss.scope.name as scope_name, unnest(ss.spans) as sp from s),
    spans as (
        select _line, _raw, _parse_error, sp as _row, sp, scope_name, {_as_map('sp.attributes')} as _a, _r
        from p
        union all by name
        -- A line with no spans at all is a reject (another format, or an empty export); a line whose
        -- spans are all non-GenAI is skipped below without one.
        select _line, _raw, coalesce(_parse_error,
                   'not an OTLP trace export (no resourceSpans[].scopeSpans[].spans[]): another format mixed in?')
               as _parse_error, NULL as _row, NULL as sp, NULL as scope_name, NULL as _a, NULL as _r
        from l where _line not in (select _line from p)
    ),
    g as (
        select *,
               coalesce({a('gen_ai.usage.input_tokens')}, {a('gen_ai.usage.prompt_tokens')}) as _in,
               coalesce({a('gen_ai.usage.cache_read.input_tokens')}, {a('gen_ai.usage.cache_read_input_tokens')},
                        {a('gen_ai.usage.input_tokens.cached')}) as _cr,
               coalesce({a('gen_ai.usage.cache_creation.input_tokens')}, {a('gen_ai.usage.cache_write.input_tokens')},
                        {a('gen_ai.usage.cache_creation_input_tokens')}) as _cw,
               coalesce({a('gen_ai.usage.output_tokens')}, {a('gen_ai.usage.completion_tokens')}) as _out,
               lower(coalesce({a('gen_ai.provider.name')}, {a('gen_ai.system')}, 'anthropic')) as _provider,
               {a("anthropic.usage.cache_creation.ephemeral_5m_input_tokens")} as _w5,
               {a("anthropic.usage.cache_creation.ephemeral_1h_input_tokens")} as _w1,
               {a("error.type")} as _et,
               ({a("error.type")} is not null or coalesce(sp.status.code in ('2', 'STATUS_CODE_ERROR'), false)) as _err,
               lower(coalesce({a("error.type")}, '') || ' ' || coalesce(sp.status.message, '')) as _kind
        from spans
        where sp is null or len(map_keys(_a).list_filter(lambda k: k like 'gen_ai.%')) > 0
        qualify sp is null
             or row_number() over (partition by _line, coalesce({a('gen_ai.response.id')}, sp.spanId) order by sp.startTimeUnixNano) = 1
    )"""


def _parse_error(includes: bool) -> str:
    """Why a span is no request costlab can price: no usage, or an input smaller than the cache tokens in it."""
    cache = cache_tokens("_cr", "_cw", "_w5", "_w1")
    return f"""coalesce(_parse_error,
            case when not _err and (_in is null or _out is null)
                     then 'no token usage (gen_ai.usage.input_tokens and gen_ai.usage.output_tokens): its cost cannot be known'
                 when {'true' if includes else 'false'} and {counts_ok('_in', '_cr', '_cw', '_w5', '_w1')} and try_cast(_in as BIGINT) < {cache}
                     then 'gen_ai.usage.input_tokens (' || _in || ') is smaller than the cache tokens it must include ('
                          || {cache} || ')'
            end) as _parse_error"""


def _token_columns(includes: bool) -> str:
    five, assumed, note = cache_writes("_cw", "_w5", "_w1")
    return f"""{uncached_input('_in', '_cr', '_cw', '_w5', '_w1') if includes else '_in'} as input_tokens,
        _out as output_tokens,
        _cr as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        _w1 as cache_write_1h_tokens,
        NULL as web_search_requests, NULL as web_fetch_requests,
        {assumed} as _ttl_assumed, {note} as _note"""


# status, error_type (from error.type and the status message), http_status, stop_reason.
_OUTCOME = f"""case when _err then 'error' else 'ok' end as status,
        case when not _err then NULL
             when regexp_matches(_kind, '429|rate.?limit') then 'rate_limit'
             when regexp_matches(_kind, '529|overloaded') then 'overloaded'
             when regexp_matches(_kind, 'prompt is too long|context.?(window|length|limit)|too many tokens') then 'context_exceeded'
             when regexp_matches(_kind, '408|504|timeout|timed out') then 'timeout'
             when regexp_matches(_kind, 'invalid.?request|badrequest|\\b400\\b') then 'invalid_request'
             when regexp_matches(_kind, 'authentication|\\b401\\b') then 'authentication'
             when regexp_matches(_kind, 'permission|\\b403\\b') then 'permission'
             when regexp_matches(_kind, 'internal.?server|api.?error|\\b5\\d\\d\\b') then 'api_error'
             when _et is null or _et = '_OTHER' then 'api_error'
             else regexp_replace(lower(_et), '_?error$', '') end as error_type,
        coalesce({a('http.response.status_code')},
                 case when not _err then '200'
                      when regexp_matches(_kind, '429|rate.?limit') then '429'
                      when regexp_matches(_kind, '529|overloaded') then '529' end) as http_status,
        coalesce({a('anthropic.message.stop_reason')},
                 json_extract_string({a('gen_ai.response.finish_reasons')}, '$.values[0].stringValue'),
                 case when not starts_with({a('gen_ai.response.finish_reasons')}, '{{') then {a('gen_ai.response.finish_reasons')} end)
            as stop_reason"""

_ATTRS = f"""json_object('span_name', sp.name, 'span_id', sp.spanId, 'parent_span_id', sp.parentSpanId, 'scope', scope_name,
                    'service', _r['service.name'], 'provider', _provider,
                    'input_tokens_reported', _in,
                    'reasoning_output_tokens', {a('gen_ai.usage.reasoning.output_tokens')},
                    'error_type_reported', _et, 'status_message', sp.status.message,
                    'anthropic', map_from_entries(list_filter(map_entries(_a), lambda e: e.key like 'anthropic.%'))::JSON)
            as _attrs"""


def adapter(config: Config) -> Adapter:
    includes = _input_includes_cache(config)
    select = f"""{_SPANS}
    select _line, _raw, _row,
        {_parse_error(includes)},
        coalesce({a('gen_ai.response.id')}, 'span_' || sp.spanId) as request_id,
        coalesce(make_timestamp(try_cast(sp.startTimeUnixNano as BIGINT) // 1000)::VARCHAR, sp.startTimeUnixNano) as ts,
        case when _provider in ('anthropic', 'claude') then 'anthropic'
             when _provider in ('aws.bedrock', 'bedrock', 'aws_bedrock') then 'bedrock'
             when _provider like 'gcp.%' or _provider in ('vertex_ai', 'vertex') then 'vertex'
             when _provider like 'azure%' then 'foundry'
             else 'other' end as platform,
        coalesce({a('gen_ai.response.model')}, {a('gen_ai.request.model')}) as model_raw,
        case when lower({a('anthropic.response.service_tier')}) in ('standard', 'batch', 'priority')
             then {a('anthropic.response.service_tier')} end as service_tier,
        NULL as speed, NULL as inference_geo,
        {_token_columns(includes)},
        ((try_cast(sp.endTimeUnixNano as BIGINT) - try_cast(sp.startTimeUnixNano as BIGINT)) / 1e6)::VARCHAR as latency_ms,
        (try_cast({a('gen_ai.response.time_to_first_chunk')} as DOUBLE) * 1000)::VARCHAR as ttft_ms,
        {_OUTCOME},
        {_tag_items(config)},
        NULL as parent_request_id, NULL as attempt,
        {a('gen_ai.evaluation.score.value')} as feedback_score,
        NULL as reported_cost_usd, NULL as sample_weight,
        'otel' as source,
        {_ATTRS},
        NULL as _request_json, NULL as _response_text
    from g"""
    return Adapter("otel", "json", select, SPEC)


def _sniff_record(record: dict) -> str | None:
    return "otel" if "resourceSpans" in record else None


def _sniff_line(line: str) -> str | None:
    """An export line longer than the sniffed head (OTLP batches): its opening says enough."""
    return "otel" if re.match(r'\s*\{\s*"resourceSpans"\s*:', line) else None


FORMAT = Format(
    flag="otel",
    describes="OpenTelemetry GenAI spans (OTLP JSON)",
    docs="`otel`",
    names=("otel",),
    kinds={"otel": "json"},
    choose=only("otel"),
    adapter=lambda _name, config, _columns: adapter(config),
    sniff_record=_sniff_record,
    sniff_line=_sniff_line,
)
