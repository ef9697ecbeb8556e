"""Request factories for tests and examples: request rows written straight into a store's `requests`
table (one, or many spread over a window), and a small logged traffic file with request bodies, for
ingest and replay.

    insert_request(store, "r1", "claude-haiku-5-5", feature="chat")
    insert_requests(store, 500, start, end, model="'claude-opus-5-5'", status="case when i % 10 = 0 then 'error' else 'ok' end")
    write_log(tmp_path / "log.jsonl", n=30)      # then ingest it (costlab.ingest.ingest_paths)
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.schema import COLUMN_NAMES

if TYPE_CHECKING:
    from costlab.store import Store

# The columns insert_request sets (the others keep their defaults).
REQUEST_COLUMNS = ("request_id", "ts", "source", "platform", "model", "service_tier", "inference_geo", "speed",
                   "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                   "status", "feature")


def insert_request(store: "Store", request_id: str, model: str, ts: str = "2026-11-10 12:00:00", **cols: Any) -> None:
    """One ok request row (1,000 input and 200 output tokens, feature f) into `requests`; keywords set other
    values of REQUEST_COLUMNS."""
    row = {"request_id": request_id, "ts": ts, "source": "test", "platform": "anthropic", "model": model,
           "service_tier": "standard", "inference_geo": None, "speed": "standard", "input_tokens": 1000,
           "output_tokens": 200, "cache_read_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0,
           "status": "ok", "feature": "f", **cols}
    names = REQUEST_COLUMNS + tuple(c for c in ("sample_weight",) if c in cols)  # else the column's default, 1
    store.execute(f"insert into requests ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
                  [row[c] for c in names])


def insert_requests(store: "Store", n: int, start: datetime, end: datetime, **columns: str) -> None:
    """Insert `n` requests spread evenly over [start, end); each keyword is a SQL expression in `i`
    (the row number, 0..n-1) for that canonical column. Unset columns get an ordinary ok request."""
    defaults = {
        "request_id": "'inj_' || i",
        "ts": "$start + to_microseconds(((i + 0.5) * $span / $n)::BIGINT)",
        "platform": "'anthropic'", "model": "'claude-sonnet-5-5'", "service_tier": "'standard'",
        "speed": "'standard'", "inference_geo": "'global'",
        "input_tokens": "1000", "output_tokens": "100", "cache_read_tokens": "0",
        "cache_write_5m_tokens": "0", "cache_write_1h_tokens": "0",
        "web_search_requests": "0", "web_fetch_requests": "0", "latency_ms": "1500.0", "ttft_ms": "400.0",
        "status": "'ok'", "error_type": "null", "http_status": "200", "stop_reason": "'end_turn'",
        "feature": "'injected'", "user_id": "'inj_user_' || (i % 50)", "customer_id": "'inj-customer'",
        "session_id": "'inj_s_' || (i // 5)", "trace_id": "'inj_t_' || i", "parent_request_id": "null",
        "attempt": "1", "feedback_score": "null", "reported_cost_usd": "null", "source": "'scenario'",
        "ingest_id": "null", "attributes": "null", "sample_weight": "1",
    }
    unknown = set(columns) - set(defaults)
    assert not unknown, unknown
    defaults.update(columns)
    select = ", ".join(f"{defaults[c]} as {c}" for c in COLUMN_NAMES)
    span_us = int((end - start).total_seconds() * 1e6)
    store.execute(f"insert into requests by name select {select} from range({n}) t(i)",
                  {"start": start, "span": span_us, "n": n})


# A small logged traffic for replay: per feature, the model it was logged on and its prompt.
FEATURES = {
    "chat": ("claude-sonnet-5-5", "Explain item {i} of the release notes in two sentences."),
    "extract": ("claude-haiku-5-5", "Reply with JSON: extract the order number from message {i}."),
    "triage": ("claude-haiku-5-5", "Classify the sentiment of ticket {i}: positive or negative."),
}


def write_log(path: Path, n: int = 30) -> Path:
    """n logged requests (Anthropic envelope format), features chat/extract/triage in turn."""
    lines = []
    for i in range(n):
        feature = list(FEATURES)[i % 3]
        model, prompt = FEATURES[feature]
        text = prompt.format(i=i)
        answer = {"chat": f"Item {i} of the release notes, explained in two sentences. detail detail", "extract": json.dumps({"order": i}),
                  "triage": "positive"}[feature]
        request = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}],
                   "temperature": 0.2}
        lines.append(json.dumps({
            "timestamp": f"2026-11-1{i % 5}T10:{i % 60:02d}:00Z", "request_id": f"req_{i:04d}", "platform": "anthropic",
            "request": request,
            "response": {"id": f"msg_{i:04d}", "type": "message", "role": "assistant", "model": model,
                         "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": 30, "output_tokens": 12}},
            "error": None, "status_code": 200, "latency_ms": 500.0,
            "metadata": {"feature": feature, "user_id": f"u{i}"},
        }))
    path.write_text("\n".join(lines) + "\n")
    return path
