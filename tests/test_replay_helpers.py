"""Helpers for the replay tests (no tests here): a small logged traffic with request bodies, ingested."""

from __future__ import annotations

import json
from pathlib import Path

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


def ingest_log(store, tmp_path: Path, n: int = 30) -> None:
    from costlab.ingest import ingest_paths

    summary = ingest_paths(store, [str(write_log(tmp_path / "log.jsonl", n))])
    assert summary.total("rows_added") == n
