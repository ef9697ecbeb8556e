"""`batch`: Message Batches results, JSON lines: one `{"custom_id": ..., "result": {...}}` per line, in
any order. Succeeded results are requests at the batch service tier; errored, canceled and expired
ones are errors with no tokens. Results carry no time: the file's modification time stands in."""

from __future__ import annotations

from costlab.config import Config
from costlab.ingest.formats.anthropic import ERROR, MESSAGE, usage_columns
from costlab.ingest.formats.base import V, Adapter, Format, only

BATCH = {"custom_id": V, "result": {"type": V, "message": MESSAGE, "error": ERROR}}


def _adapter(_name: str, config: Config, _columns: list[str]) -> Adapter:
    # Batch results carry no time of their own: the file's modification time stands in, and says so.
    select = f"""
    select _line, _raw, _row,
        coalesce(_parse_error, case when result.type = 'succeeded' and result.message.usage.input_tokens is null and result.message.usage.output_tokens is null
                                    then 'a succeeded result has no usage object: its cost cannot be known' end) as _parse_error,
        coalesce(result.message.id, result.error.request_id) as request_id,
        $mtime as ts,
        'anthropic' as platform,
        result.message.model as model_raw,
        {usage_columns('result.message', tier="'batch'")},
        NULL as latency_ms, NULL as ttft_ms,
        case when result.type = 'succeeded' then 'ok' else 'error' end as status,
        case result.type when 'succeeded' then NULL when 'errored' then 'batch_errored' else result.type end as error_type,
        case when result.type = 'succeeded' then '200' end as http_status,
        NULL as feature, NULL as user_id, NULL as customer_id, NULL as session_id, NULL as trace_id,
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score, NULL as reported_cost_usd,
        NULL as sample_weight,
        'anthropic' as source,
        json_object('custom_id', custom_id, 'ts_source', 'file_mtime', 'batch_result', result.type,
                    'error', result.error.error.message) as _attrs,
        NULL as _request_json
    from src
    where result.type is not null or _parse_error is not null"""
    return Adapter("batch", "json", select, BATCH, needs_mtime=True, parallel=True)


def _sniff_record(record: dict) -> str | None:
    return "batch" if "custom_id" in record and "result" in record else None


FORMAT = Format(
    flag="batch",
    describes="Message Batches results (JSONL)",
    docs="`batch`",
    names=("batch",),
    kinds={"batch": "json"},
    choose=only("batch"),
    adapter=_adapter,
    sniff_record=_sniff_record,
)
