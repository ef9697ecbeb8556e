"""What the test server's models answer: deterministic functions of the request and the model (see
server.py for the rules), the Message it is wrapped in, and the request checks the API makes."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

JUDGE_MARK = "You are a costlab judge"


def is_judge(body: dict[str, Any]) -> bool:
    """A costlab judge call (its system prompt starts with JUDGE_MARK)."""
    return text_of(body.get("system")).startswith(JUDGE_MARK)


def quality(model: str) -> int:
    """How many "detail" words the model's answers carry: opus 3, sonnet 2, any other 1."""
    m = model.lower()
    return 3 if "opus" in m else 2 if "sonnet" in m else 1


def digest(body: dict[str, Any]) -> str:
    """The identity of a prompt: messages and system, whatever the model."""
    key = json.dumps([body.get("system"), body.get("messages")], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def text_of(content: Any) -> str:
    """The text of a content field: a string, or the text of its blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    """The system prompt and every message's text, joined."""
    return " ".join([text_of(body.get("system"))] + [text_of(m.get("content")) for m in body.get("messages") or []])


def count_tokens(body: dict[str, Any]) -> int:
    """About four characters a token, at least one: deterministic, not Claude's tokenizer."""
    text = json.dumps([body.get("system"), body.get("messages"), body.get("tools")], ensure_ascii=False)
    return max(1, math.ceil(len(text) / 4))


def answer_text(body: dict[str, Any], position_bias: bool = False) -> str:
    """The answer's text (server.py's docstring gives the rules)."""
    model = str(body.get("model", ""))
    system = text_of(body.get("system"))
    if system.startswith(JUDGE_MARK):
        return _judge_reply(body, position_bias)
    prompt = prompt_text(body).lower()
    d = digest(body)
    q = quality(model)
    if "json" in prompt:
        full = json.dumps({"answer": d, "detail": q})
        return full[:-3] if q == 1 else full
    if "classify" in prompt:
        return "negative" if q == 1 else "positive"
    return " ".join([d] + ["detail"] * q)


def _judge_reply(body: dict[str, Any], position_bias: bool) -> str:
    text = text_of((body.get("messages") or [{}])[-1].get("content"))
    if "<answer_b>" in text:
        a = text.split("<answer_a>", 1)[-1].split("</answer_a>", 1)[0].count("detail")
        b = text.split("<answer_b>", 1)[-1].split("</answer_b>", 1)[0].count("detail")
        if position_bias:
            return "A"
        return "A" if a > b else "B" if b > a else "TIE"
    answer = text.split("<answer>", 1)[-1].split("</answer>", 1)[0]
    return f"SCORE: {min(10, 3 + 2 * answer.count('detail'))}"


def message(body: dict[str, Any], msg_id: str, service_tier: str = "standard", position_bias: bool = False,
            platform: str = "anthropic") -> dict[str, Any]:
    """The Message the server answers `body` with (deterministic). Bedrock and Vertex usage has no
    service tier, speed or inference_geo (those are Claude API features)."""
    text = answer_text(body, position_bias)
    stop = "end_turn"
    if (quality(str(body.get("model", ""))) == 1 and "forbidden" in prompt_text(body).lower()
            and not text_of(body.get("system")).startswith(JUDGE_MARK)):
        text, stop = "I can't help with that.", "refusal"
    words = text.split(" ")
    max_tokens = int(body.get("max_tokens") or 1)
    if len(words) > max_tokens:
        words, stop = words[:max_tokens], "max_tokens"
        text = " ".join(words)
    out = {
        "id": msg_id, "type": "message", "role": "assistant", "model": body.get("model"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop, "stop_sequence": None, "stop_details": None, "container": None, "diagnostics": None,
        "usage": {
            "input_tokens": count_tokens(body), "output_tokens": len(words),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": service_tier, "speed": "standard", "inference_geo": "global",
            "output_tokens_details": {"thinking_tokens": 0},
        },
    }
    if platform != "anthropic":
        for key in ("service_tier", "speed", "inference_geo"):
            out["usage"].pop(key)
    return out


def invalid(body: dict[str, Any]) -> str | None:
    """What is wrong with a Messages body, as the API would say it (None: a valid call)."""
    if not body.get("model"):
        return "model: field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: expected a non-empty list"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: expected a positive integer"
    if "unsupported" in str(body.get("model")):
        return f"model: {body['model']} does not exist"
    return None
