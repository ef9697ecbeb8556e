"""The pairs a run still has to send: each logged body adapted to the tier's model (what could not
carry over recorded, never silently dropped), with its worst-case cost (queries/replay/jobs.sql)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from costlab.store import Store

# Sampling parameters newer models reject when not default; they are dropped and recorded, never silently.
SAMPLING = ("temperature", "top_p", "top_k")


@dataclass
class Job:
    """One replay to make: a logged request on a tier, its body as sent, and its worst-case cost."""

    source: str
    request_id: str
    tier: str
    model: str
    body: dict[str, Any]
    not_carried: dict[str, str]
    worst_usd: Decimal
    started_at: datetime | None = None
    service_tier: str = "standard"
    platform: str = "anthropic"  # with geo_class, what the answer is priced at (price_card)
    geo_class: str = "global"


def adapt(body: dict[str, Any], model: str, max_output: int | None, new_generation: bool,
          platform: str = "anthropic", takes_inference_geo: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """The logged body with only the model changed, and what could not carry over (and why)."""
    out = dict(body)
    not_carried: dict[str, str] = {}
    out["model"] = model
    if platform != "anthropic":
        # Claude API options that Bedrock and Vertex do not have (the region comes from the endpoint there).
        for key in ("service_tier", "inference_geo", "speed"):
            if key in out:
                not_carried[key] = f"{key}={out.pop(key)!r}: not available on {platform}"
    elif "inference_geo" in out and not takes_inference_geo:
        # Models before 2026-02 answer 400 to the parameter; the replay runs (and is priced) global.
        not_carried["inference_geo"] = f"inference_geo={out.pop('inference_geo')!r}: {model} has no data residency option"
    if out.pop("stream", None):
        not_carried["stream"] = "sent without streaming (the answer is the same message)"
    if new_generation:
        for key in SAMPLING:
            if key in out:
                not_carried[key] = f"{key}={out.pop(key)!r}: {model} rejects non-default sampling parameters"
    if max_output and isinstance(out.get("max_tokens"), int) and out["max_tokens"] > max_output:
        not_carried["max_tokens"] = f"{out['max_tokens']} lowered to {model}'s maximum output {max_output}"
        out["max_tokens"] = max_output
    if out.get("speed") == "fast" and not new_generation:
        not_carried["speed"] = f"fast mode dropped: {model} has no fast mode"
        out.pop("speed")
    return out, not_carried


def load_jobs(store: "Store", run: str, service_tier: str = "standard") -> list[Job]:
    """The pairs still to send (reads _replay_tiers: set_run_tiers first)."""
    frame = store.run_query("replay/jobs", run=run, service_tier=service_tier)
    info = {r[0]: (r[1], bool(r[2])) for r in store.rows("select model, max_output, coalesce(new_tokenizer, false) from models")}
    where = dict(store.rows("select tier, platform from _replay_tiers"))
    jobs = []
    for source, request_id, tier, model, model_id, request_json, geo, takes_geo, worst in frame.iter_rows():
        max_output, new_gen = info.get(model, (None, False))
        platform = where.get(tier, "anthropic")
        body, not_carried = adapt(json.loads(request_json), model_id, max_output, new_gen, platform, takes_geo)
        jobs.append(Job(source, request_id, tier, model, body, not_carried, worst or Decimal(0), service_tier=service_tier,
                        platform=platform, geo_class=geo))
    return jobs
