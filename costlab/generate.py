"""Seeded, set-based generator of realistic production Claude API logs, of any size.

Every row is a pure function of (seed, its index, n and the spec): DuckDB SQL over `range()` with
`hash(index, salt, seed)` as the random source, so the same seed and n give byte-identical files,
there is no Python loop per row, and a million Anthropic-envelope rows take seconds. The handful of
per-entity draws (users, customers, hours) are made in Python with a keyed BLAKE2 hash, so they do
not depend on the DuckDB build either.

    generate("logs.jsonl.gz", 1_000_000, seed=7)                  # Anthropic envelope JSONL, gzipped
    generate("logs.parquet", 10**6, fmt="canonical-parquet")      # costlab's own schema
    generate_sql(10**7)                                           # the canonical SELECT, for INSERTs
    generate_frame(5_000, seed=1)                                 # a polars frame, for tests

What is encoded, and why (the numbers are the defaults in FEATURES, TIERS and Spec):

* Tiers by model. Each request is on claude-haiku-5-5, claude-sonnet-5-5 or claude-opus-5-5
  (`models`). The target mix of first attempts (`mix`, default 60/32/8 by requests) is reached by
  rescaling every feature's own tier preference (iterative proportional fitting over the 12x3
  table), so features keep their character (moderation is ~all Haiku, research-agent mostly Opus)
  while the total matches the mix asked for. Retries and escalations come on top (a few % of rows,
  mostly Sonnet), which is what a production mix looks like.
* Twelve features, each with its own request share, tier preference, log-normal prompt and output
  lengths (classification: short output; summarisation and digests: long input), max_tokens (an
  output that reaches it stops with `max_tokens`), caching habits, batch share, web search, tool use,
  refusals, difficulty (how much quality a cheaper tier loses) and feedback habits.
* Users and customers. ~2,000 users in ~40 customers. A user's activity is log-normal (sigma 1.25)
  times a customer factor (sigma 0.8), so a few power users and a handful of big customers dominate,
  as in real SaaS traffic (the top 1% of users send ~20% of requests, the top 10% ~60%). Users are drawn by an equi-join to a table of 2^17 slots apportioned by
  weight (set-based sampling). Customers on the residency list send `inference_geo = "us"` (1.1x).
* Time. Hourly volume follows weekday seasonality (Tue-Wed peak, weekend ~40%), a diurnal cycle in
  UTC (an EU morning bump and a larger US afternoon peak), 0.6% daily growth and +-5% hourly noise;
  rows are apportioned to hours exactly (by rounding the cumulative share) and spread evenly within
  the hour. Nightly-digest runs between 01:00 and 04:00 UTC. Files are written in time order.
* Sessions and traces. session_id = user x a 30-minute window (offset per user); trace_id per
  request, shared by a request and its retry.
* Prompt caching. A feature caches a share of its requests when the stable prefix (system prompt,
  schema, conversation so far: `prefix_frac` of the prompt) is at least 1,024 tokens. Most are reads;
  the rest write the prefix, at 1h TTL for features that set `ttl_1h_share` (code review, agents,
  nightly jobs) and 5m otherwise. Conversational features also write the new turn on a hit, so a
  row can carry both. `input_tokens` is always the uncached remainder (Anthropic semantics), plus
  web-search results (about 2,400 tokens per search).
* Batch. Non-interactive features send a share at `service_tier = "batch"` (no latency, no
  retries, only invalid_request errors). fmt="batch" writes a Message Batches results file instead:
  every row is a batch result from the batch-capable features, with a few errored, expired and
  canceled results, in hashed ("any") order.
* Fast mode. A few Opus requests of interactive features run at `speed = "fast"` (2.5x tokens/s).
* Errors, with zero tokens and no response. 429 rate_limit mostly on Opus (3.5% x hourly load vs
  0.2% on Haiku), 529 overloaded everywhere (0.2%) plus a two-hour incident window on one day
  (12-15% on Sonnet/Opus, latency x1.8), rare 500/504 (timeouts on very long outputs), 400
  invalid_request, and context_exceeded when a runaway prompt (a small share of chat, summarise and
  agent requests draw 400k-1.3M tokens) passes the 1M context window; the ones under 1M stay valid
  and, on Haiku, cross the >100k price band.
* Latency. ttft = tier base (280/520/900 ms) x (1 + uncached prompt/40k) x lognormal(0.35) x load;
  latency = ttft + output / tier speed (190/85/50 tok/s) x lognormal(0.2) + ~1.1 s per web search.
  Errors have their own short (429) or long (504) latencies and no ttft.
* Quality, retries and escalations. Each ok answer has a latent quality (tier base minus feature
  difficulty x tier gap, plus noise). Rows are made in pairs (index 2k, 2k+1): when the first one
  is a Haiku request that failed (429/529/500/504) or answered poorly (quality < 0.5), the second
  slot becomes its escalation to Sonnet (parent_request_id, attempt 2, same trace, prompt and user,
  a cold cache: the prefix is written again); a failed Sonnet/Opus request is retried on the same
  model after a back-off. So at most one retry per request and only first-of-pair requests are
  eligible: about 40-45% of failures and poor Haiku answers get a second attempt.
* feedback_score on a share of ok rows per feature: thumbs (1.0 with probability = quality, else 0.0)
  for user-facing features, an evaluator's score in [0, 1] for the others.

The random source is DuckDB's `hash()`, so byte-identical output holds for one DuckDB version; a
new DuckDB may change it (the shape and the rates stay).

Speed (2-core VM): ~4-5 us of CPU per envelope row, about 1.1 KB each, so a million envelope lines
take a few seconds (gzip, which DuckDB does on one thread, adds ~20 s); canonical Parquet is
cheaper. The envelope line is built by concatenation from pre-escaped pieces, because DuckDB's JSON
writer costs about twice as much; the tests parse every line.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("anthropic", "canonical-csv", "canonical-jsonl", "canonical-parquet", "batch")
DEFAULT_MODELS = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")
DEFAULT_MIX = (0.60, 0.32, 0.08)
CONTEXT_WINDOW = 1_000_000
MIN_CACHEABLE = 1024
CHUNKS = 16  # parallel sources; the rows do not depend on it
SLOTS = 1 << 17  # user-sampling granularity: a user with weight w owns about w * SLOTS slots
RETRYABLE = ("rate_limit", "overloaded", "api_error", "timeout")


@dataclass(frozen=True)
class Tier:
    """How a tier behaves: speed, quality and rate-limit pressure."""

    name: str
    ttft_ms: float
    tokens_per_s: float
    output_factor: float  # bigger models write a little more
    rate_limit: float  # 429 probability at average load
    incident_overload: float  # extra 529 probability inside the incident window
    quality: float  # latent answer quality on an easy task
    quality_gap: float  # quality lost per unit of feature difficulty


TIERS = (
    Tier("haiku", 280, 190, 0.9, 0.002, 0.03, 0.80, 0.40),
    Tier("sonnet", 520, 85, 1.0, 0.006, 0.12, 0.88, 0.12),
    Tier("opus", 900, 50, 1.15, 0.035, 0.15, 0.92, 0.05),
)


@dataclass(frozen=True)
class Feature:
    """One product route: its share of requests and how its requests look."""

    name: str
    weight: float
    mix: tuple[float, float, float]  # haiku, sonnet, opus preference before calibration to Spec.mix
    prompt_median: float
    prompt_sigma: float
    output_median: float
    output_sigma: float
    max_tokens: int
    system: str
    prompts: tuple[str, ...]  # user turns; {n} becomes a number
    replies: tuple[str, ...]
    cache_share: float = 0.0  # requests sent with a cache breakpoint
    prefix_frac: float = 0.5  # share of the prompt that is the stable, cacheable prefix
    hit_share: float = 0.85  # of caching requests, the share that reads (the rest write)
    ttl_1h_share: float = 0.0  # of cache writes, the share at 1h TTL
    incremental: bool = False  # conversations: a hit also writes the new turn
    batch_share: float = 0.0
    web_share: float = 0.0
    fetch_share: float = 0.0  # of web-search requests, the share that also fetch pages
    fast_share: float = 0.0  # of Opus requests, the share in fast mode
    tool_share: float = 0.0  # stop_reason tool_use
    refusal_share: float = 0.0
    feedback_share: float = 0.0
    thumbs: bool = False  # feedback is a thumbs up/down (else an evaluator score)
    difficulty: float = 0.3
    runaway_share: float = 0.0  # prompts of 400k-1.3M tokens (some exceed the context window)
    nightly: bool = False  # runs between 01:00 and 04:00 UTC


FEATURES: tuple[Feature, ...] = (
    Feature("support-triage", 0.15, (0.80, 0.17, 0.03), 1400, 0.5, 40, 0.6, 256,
            "You are a support triage assistant. Reply with the queue name and a one-line reason.",
            ("Ticket #{n}: I was charged twice this month.", "Ticket #{n}: the export button does nothing.",
             "Ticket #{n}: how do I add a teammate?", "Ticket #{n}: our SSO login loops forever.",
             "Ticket #{n}: please cancel my subscription.", "Ticket #{n}: API returns 500 since this morning."),
            ("billing: duplicate charge", "bug: export broken", "how-to: seats", "auth: SSO loop",
             "account: cancellation", "incident: API errors"),
            cache_share=0.70, prefix_frac=0.75, hit_share=0.92, ttl_1h_share=0.1,
            feedback_share=0.25, difficulty=0.35),
    Feature("intent-router", 0.12, (0.93, 0.06, 0.01), 450, 0.4, 6, 0.4, 16,
            "Classify the user's message into one intent label.",
            ("where is my order {n}", "talk to a human", "reset password for account {n}",
             "upgrade plan", "what does invoice {n} include", "cancel"),
            ("order_status", "handoff", "password_reset", "upgrade", "billing_question", "cancel"),
            feedback_share=0.05, difficulty=0.15),
    Feature("chat-assistant", 0.17, (0.40, 0.48, 0.12), 2600, 1.0, 380, 0.8, 2048,
            "You are a helpful assistant inside the product. Be concise and cite the docs.",
            ("Can you explain how usage-based billing works for plan {n}?", "Draft a reply to this customer.",
             "What changed in release {n}?", "Compare the two options I pasted above.",
             "Why is my dashboard slow?", "Summarise this thread for me."),
            ("Usage-based billing charges per unit consumed each month...", "Here is a draft reply...",
             "Release notes, in short...", "Option A is cheaper; option B is faster...",
             "Three likely causes...", "The thread agrees on..."),
            cache_share=0.75, prefix_frac=0.85, hit_share=0.90, ttl_1h_share=0.15, incremental=True,
            web_share=0.06, fetch_share=0.2, fast_share=0.08, tool_share=0.05, refusal_share=0.003,
            feedback_share=0.08, thumbs=True, difficulty=0.45, runaway_share=0.002),
    Feature("doc-summarize", 0.08, (0.35, 0.55, 0.10), 22000, 1.0, 650, 0.5, 2048,
            "Summarise the document for an executive reader in at most five bullet points.",
            ("Summarise contract {n}.", "Summarise the attached board deck.", "Summarise meeting transcript {n}.",
             "Summarise this RFC.", "Summarise quarterly report {n}.", "Summarise the incident review."),
            ("- Term: 24 months...", "- Revenue up 12%...", "- Decisions: ...", "- Proposal: ...",
             "- Highlights: ...", "- Root cause: ..."),
            cache_share=0.2, prefix_frac=0.3, hit_share=0.5, batch_share=0.35,
            feedback_share=0.10, difficulty=0.4, runaway_share=0.003),
    Feature("code-review", 0.07, (0.08, 0.62, 0.30), 14000, 0.8, 1100, 0.7, 8192,
            "You are a senior reviewer. Point out bugs, risks and missing tests in the diff.",
            ("Review PR #{n}.", "Review this migration diff.", "Is this change thread-safe? PR #{n}",
             "Review the new retry logic.", "Review PR #{n} for security issues.", "Review the test changes."),
            ("1. Off-by-one in the loop...", "The migration is not reversible...", "A race on the cache...",
             "Retries need jitter...", "Input is not escaped...", "Tests miss the error path..."),
            cache_share=0.6, prefix_frac=0.7, hit_share=0.85, ttl_1h_share=0.6, incremental=True,
            fast_share=0.06, tool_share=0.25, feedback_share=0.15, difficulty=0.7, runaway_share=0.001),
    Feature("sql-assist", 0.06, (0.30, 0.58, 0.12), 3200, 0.6, 220, 0.6, 1024,
            "Write one DuckDB SQL query over the schema below. Return only SQL.",
            ("Weekly active users by plan for the last {n} weeks", "Top 10 customers by spend",
             "Churned accounts this quarter", "Median latency per endpoint, last {n} days",
             "Revenue by region", "Orders with no shipment after {n} days"),
            ("select plan, date_trunc('week', ts) ...", "select customer, sum(amount) ...",
             "select account_id from ...", "select endpoint, median(latency_ms) ...",
             "select region, sum(revenue) ...", "select o.id from orders o ..."),
            cache_share=0.65, prefix_frac=0.8, hit_share=0.9, ttl_1h_share=0.3,
            feedback_share=0.2, thumbs=True, difficulty=0.55),
    Feature("email-draft", 0.07, (0.55, 0.40, 0.05), 1100, 0.6, 420, 0.5, 1024,
            "Draft a friendly, professional email from the notes.",
            ("Follow up on quote {n}.", "Apologise for the delay on order {n}.", "Invite to the webinar.",
             "Renewal reminder for account {n}.", "Thank the customer for feedback.", "Schedule a call."),
            ("Hi Sam, following up on...", "Hi Alex, sorry for the delay...", "Hi team, join us...",
             "Hi Jo, your renewal...", "Hi Kim, thank you...", "Hi Lee, could we find 30 minutes..."),
            cache_share=0.3, prefix_frac=0.6, hit_share=0.8,
            feedback_share=0.12, thumbs=True, difficulty=0.25),
    Feature("invoice-extract", 0.09, (0.82, 0.16, 0.02), 2600, 0.7, 180, 0.5, 1024,
            "Extract vendor, date, currency, total and line items as JSON.",
            ("Invoice {n} (PDF text follows).", "Receipt {n}.", "Credit note {n}.", "Purchase order {n}.",
             "Utility bill {n}.", "Invoice {n}, scanned."),
            ('{"vendor": "Acme", "total": 120.50}', '{"vendor": "Cafe", "total": 8.20}',
             '{"vendor": "Initech", "total": -40.00}', '{"vendor": "Globex", "total": 990.00}',
             '{"vendor": "City Power", "total": 61.13}', '{"vendor": "Umbrella", "total": 310.00}'),
            cache_share=0.5, prefix_frac=0.5, hit_share=0.9, ttl_1h_share=0.2, batch_share=0.45,
            feedback_share=0.05, difficulty=0.3),
    Feature("research-agent", 0.03, (0.05, 0.45, 0.50), 35000, 1.0, 1600, 0.7, 8192,
            "You are a research agent. Use web search, cite sources, and plan before answering.",
            ("Market size for product line {n}?", "Find recent papers on retrieval evaluation.",
             "Competitor pricing as of this week, item {n}", "Regulatory changes affecting us in the EU",
             "Due diligence notes on vendor {n}", "State of the art in speech-to-text."),
            ("Estimated at $2.1B (sources: ...)", "Five relevant papers: ...", "Pricing table: ...",
             "Three changes apply: ...", "Vendor summary: ...", "Current leaders: ..."),
            cache_share=0.85, prefix_frac=0.8, hit_share=0.85, ttl_1h_share=0.7, incremental=True,
            web_share=0.65, fetch_share=0.35, fast_share=0.10, tool_share=0.35,
            feedback_share=0.10, difficulty=0.8, runaway_share=0.004),
    Feature("translate", 0.05, (0.70, 0.28, 0.02), 900, 0.7, 850, 0.7, 4096,
            "Translate into the target language, keeping formatting and placeholders.",
            ("Translate help article {n} to German.", "Translate the release notes to Japanese.",
             "Translate string table {n} to French.", "Translate this email to Spanish.",
             "Translate product page {n} to Korean.", "Translate the FAQ to Portuguese."),
            ("Hilfeartikel: ...", "リリースノート: ...", "Tableau de chaînes: ...", "Hola, ...", "제품 페이지: ...",
             "Perguntas frequentes: ..."),
            cache_share=0.2, prefix_frac=0.5, hit_share=0.8, batch_share=0.15,
            feedback_share=0.05, difficulty=0.2),
    Feature("moderation", 0.08, (0.97, 0.03, 0.0), 350, 0.5, 4, 0.3, 8,
            "Answer SAFE or UNSAFE for the user content.",
            ("comment {n}", "profile bio {n}", "review {n}", "chat message {n}", "listing {n}", "username {n}"),
            ("SAFE", "SAFE", "SAFE", "UNSAFE", "SAFE", "SAFE"),
            difficulty=0.1),
    Feature("nightly-digest", 0.03, (0.10, 0.55, 0.35), 45000, 0.8, 2200, 0.5, 4096,
            "Write the daily account digest from the activity log.",
            ("Digest for account {n}.", "Weekly rollup, workspace {n}.", "Anomaly digest {n}.",
             "Usage digest {n}.", "Security digest {n}.", "Pipeline digest {n}."),
            ("Yesterday: 1,204 events...", "This week: ...", "Two anomalies: ...", "Usage up 4%...",
             "No critical alerts...", "3 failed runs..."),
            cache_share=0.4, prefix_frac=0.5, hit_share=0.7, ttl_1h_share=0.9, batch_share=0.85,
            feedback_share=0.10, difficulty=0.5, nightly=True),
)

CUSTOMERS = (
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne",
    "soylent", "oscorp", "massive", "aperture", "blackmesa", "vandelay", "dunder", "gringotts",
    "monarch", "nakatomi", "oceanic", "pied-piper", "prestige", "sirius", "virtucon", "weyland",
    "zorg", "gekko", "bluth", "krusty", "paper-st", "sterling", "wernham", "contoso", "fabrikam",
    "northwind", "tailspin", "litware", "adatum", "proseware",
)
US_RESIDENCY = ("stark", "monarch", "oceanic", "contoso")  # customers that pin inference_geo "us"


@dataclass(frozen=True)
class Spec:
    """What to generate. `mix` is the haiku/sonnet/opus share of first attempts."""

    n: int
    seed: int = 0
    start: date = date(2026, 11, 2)
    days: int = 14
    mix: tuple[float, float, float] = DEFAULT_MIX
    models: tuple[str, str, str] = DEFAULT_MODELS
    users: int = 2000
    customers: int = 40
    payloads: bool = True
    features: tuple[Feature, ...] = FEATURES
    source: str = "synthetic"
    batch_only: bool = False


def make_spec(n: int, seed: int = 0, start: str | date = "2026-11-02", days: int = 14,
              mix: Sequence[float] | dict[str, float] | None = None, **options: Any) -> Spec:
    """A validated Spec from friendly arguments (start as 'YYYY-MM-DD', mix as a tuple or a dict)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**62:
        raise ValueError(f"seed must be an integer in [0, 2**62), got {seed!r}")
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    start_date = start if isinstance(start, date) else date.fromisoformat(str(start))
    if mix is None:
        shares = DEFAULT_MIX
    elif isinstance(mix, dict):
        unknown = set(mix) - {t.name for t in TIERS}
        if unknown:
            raise ValueError(f"unknown tier(s) in mix: {sorted(unknown)}; use haiku, sonnet, opus")
        shares = tuple(float(mix.get(t.name, 0)) for t in TIERS)
    else:
        shares = tuple(float(x) for x in mix)
    if len(shares) != 3 or any(x < 0 for x in shares) or sum(shares) <= 0:
        raise ValueError(f"mix must be three non-negative shares (haiku, sonnet, opus), got {mix!r}")
    total = sum(shares)
    spec = Spec(n=n, seed=seed, start=start_date, days=days,
                mix=tuple(x / total for x in shares), **options)  # type: ignore[arg-type]
    if spec.users < 1 or spec.customers < 1:
        raise ValueError("users and customers must be at least 1")
    return spec


# -- Python-side draws for the small per-entity tables ------------------------------------------

def _rand(seed: int, *key: object) -> float:
    """A uniform in (0, 1) from a keyed hash: stable across platforms and Python versions."""
    digest = hashlib.blake2b(repr((seed,) + key).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


def _normal(seed: int, *key: object) -> float:
    u1, u2 = _rand(seed, *key, "a"), _rand(seed, *key, "b")
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _apportion(weights: Sequence[float], total: int) -> list[tuple[int, int]]:
    """(start, count) per weight, counts summing to `total` exactly (rounding the cumulative)."""
    s = sum(weights)
    out, cum, prev = [], 0.0, 0
    for i, w in enumerate(weights):
        cum += w
        end = total if i == len(weights) - 1 else round(cum / s * total)
        out.append((prev, end - prev))
        prev = end
    return out


WEEKDAY = (1.0, 1.06, 1.08, 1.04, 0.92, 0.42, 0.36)  # Monday first


def _diurnal(hour: int, weekend: bool) -> float:
    eu = 0.55 * math.exp(-((hour - 9.5) ** 2) / (2 * 2.2**2))
    us = 0.90 * math.exp(-((hour - 16.5) ** 2) / (2 * 3.0**2))
    return 0.18 + (0.6 if weekend else 1.0) * (eu + us)


def _hours(spec: Spec, pairs: int) -> list[tuple[int, int, int, float, bool]]:
    """(hour index, first pair, pairs in the hour, relative load, incident?) for every hour."""
    n_hours = spec.days * 24
    weights = []
    for h in range(n_hours):
        day, hour = divmod(h, 24)
        dow = (spec.start + timedelta(days=day)).weekday()
        w = WEEKDAY[dow] * _diurnal(hour, dow >= 5) * (1 + 0.006 * day)
        weights.append(w * (1 + 0.1 * (_rand(spec.seed, "hour", h) - 0.5)))
    mean = sum(weights) / n_hours
    incident_day = int(_rand(spec.seed, "incident") * spec.days)
    incident = {incident_day * 24 + 14, incident_day * 24 + 15}
    return [(h, start, count, weights[h] / mean, h in incident)
            for h, (start, count) in enumerate(_apportion(weights, pairs))]


def _customers(spec: Spec) -> list[str]:
    return [CUSTOMERS[c] if c < len(CUSTOMERS) else f"customer-{c:03d}" for c in range(spec.customers)]


def _users(spec: Spec) -> list[tuple[int, int, int, int]]:
    """(user, customer index, first slot, slots): users own sampling slots in proportion to activity."""
    cust_w = [math.exp(0.8 * _normal(spec.seed, "customer", c)) for c in range(spec.customers)]
    rows, weights = [], []
    for u in range(spec.users):
        c = min(spec.customers - 1, int(spec.customers * _rand(spec.seed, "user-customer", u) ** 1.8))
        rows.append((u, c))
        weights.append(math.exp(1.25 * _normal(spec.seed, "user", u)) * cust_w[c])
    return [r + a for r, a in zip(rows, _apportion(weights, SLOTS))]


def calibrate_mix(features: Sequence[Feature], target: Sequence[float], iterations: int = 500) -> list[list[float]]:
    """Per-feature tier shares closest to each feature's preference whose weighted total is `target`.

    Iterative proportional fitting: scale each tier's column, renormalise each feature's row, repeat.
    """
    total_w = sum(f.weight for f in features)
    scale = [1.0, 1.0, 1.0]
    rows = [list(f.mix) for f in features]
    for _ in range(iterations):
        rows = []
        for f in features:
            raw = [f.mix[t] * scale[t] for t in range(3)]
            s = sum(raw) or 1.0
            rows.append([x / s for x in raw])
        got = [sum(f.weight * r[t] for f, r in zip(features, rows)) / total_w for t in range(3)]
        scale = [scale[t] * (target[t] / got[t]) if got[t] > 0 else scale[t] for t in range(3)]
    return rows


# -- SQL ---------------------------------------------------------------------------------------------

_SALTS = (
    "ts", "feature", "slot", "tier", "batch", "nightly", "runaway", "prompt", "web", "webn", "fetch",
    "fetchn", "cache", "hit", "ttl", "frac", "fast", "trace", "out", "q", "err", "stop", "ttft", "gen",
    "weblat", "lat", "fb", "thumb", "fbn", "req", "req2", "msg", "msg2", "retry", "backoff", "text",
    "reply", "order",
)
SALT = {name: 1000 + 7 * i for i, name in enumerate(_SALTS)}

# Columns that describe a request before it is sent; a retry copies them from its parent.
# Strings (ids, names) are made once per output row, at the end, from these numbers.
_IDENTITY = (
    "ts", "fi", "tix", "uid", "ci", "tier", "batch", "fast", "load", "incident", "prompt", "input",
    "cache_read", "cw5", "cw1h", "web", "fetches", "max_tokens", "out_mu", "out_sigma", "tool_share",
    "refusal_share", "fb_share", "thumbs", "difficulty",
)


def _lit(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value!r}::DOUBLE"  # a bare 0.5 is a DECIMAL in DuckDB, and DECIMAL math is slow
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def _pick(index: str, values: Sequence[object]) -> str:
    whens = " ".join(f"when {i} then {_lit(v)}" for i, v in enumerate(values[:-1]))
    return f"(case {index} {whens} else {_lit(values[-1])} end)"


class _Sql:
    """Builds the SELECT; `u(idx, name)` and `z(idx, name)` are the row-level random draws."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.seed = f"{spec.seed}::BIGINT"

    def u(self, idx: str, name: str) -> str:
        return (f"(((hash({idx}, {SALT[name]}::BIGINT, {self.seed}) >> 11)::DOUBLE + 0.5)"
                f" * 1.1102230246251565e-16)")

    def z(self, idx: str, name: str) -> str:
        u2 = f"(((hash({idx}, {SALT[name] + 1}::BIGINT, {self.seed}) >> 11)::DOUBLE + 0.5) * 1.1102230246251565e-16)"
        return f"(sqrt(-2.0 * ln({self.u(idx, name)})) * cos(6.283185307179586 * {u2}))"

    def hid(self, idx: str, name: str, width: int) -> str:
        return f"to_base((hash({idx}, {SALT[name]}::BIGINT, {self.seed}) >> 2)::BIGINT, 36, {width})"

    def req_id(self, idx: str) -> str:
        return f"'req_011C' || {self.hid(idx, 'req', 12)} || lower({self.hid(idx, 'req2', 8)})"

    def msg_id(self, idx: str) -> str:
        return f"'msg_01' || {self.hid(idx, 'msg', 12)} || lower({self.hid(idx, 'msg2', 10)})"

    # -- small tables ----------------------------------------------------------------------------
    def features(self) -> tuple[str, list[tuple[int, float]]]:
        spec = self.spec
        feats = spec.features
        shares = calibrate_mix(feats, spec.mix)
        rows = []
        for fi, (f, m) in enumerate(zip(feats, shares)):
            rows.append("(" + ", ".join(_lit(v) for v in (
                fi, f.name, m[0], m[0] + m[1], 1.0 if spec.batch_only else f.batch_share, f.nightly,
                f.runaway_share, math.log(f.prompt_median), f.prompt_sigma, f.web_share, f.fetch_share,
                f.cache_share, f.hit_share, f.ttl_1h_share, f.prefix_frac, f.incremental,
                0.0 if spec.batch_only else f.fast_share, math.log(f.output_median), f.output_sigma,
                f.max_tokens, f.tool_share, f.refusal_share, f.feedback_share, f.thumbs, f.difficulty)) + ")")
        cols = ("fi, name, cum_haiku, cum_sonnet, batch_share, nightly, runaway_share, prompt_mu, prompt_sigma, "
                "web_share, fetch_share, cache_share, hit_share, ttl_1h_share, prefix_frac, incremental, "
                "fast_share, out_mu, out_sigma, max_tokens, tool_share, refusal_share, fb_share, thumbs, "
                "difficulty")
        weights = [f.weight * (f.batch_share if spec.batch_only else 1.0) for f in feats]
        if sum(weights) <= 0:
            raise ValueError("no feature has a batch share; fmt='batch' needs at least one")
        total = sum(weights)
        cum, edges = 0.0, []
        for fi, w in enumerate(weights):
            cum += w / total
            if w > 0:
                edges.append((fi, cum))
        return f"features({cols}) as (values {', '.join(rows)})", edges

    def tables(self, pairs: int) -> tuple[str, list[tuple[int, float]]]:
        features, edges = self.features()
        users = ", ".join(f"({u}, {c}, {s}, {k})" for u, c, s, k in _users(self.spec) if k > 0)
        return (f"{features},\n"
                f"users(uid, ci, first_slot, slots) as (values {users}),\n"
                f"slots as (select uid, ci, first_slot + unnest(range(slots)) as slot from users)"), edges

    def pairs(self, pairs: int) -> str:
        """The pairs (k) with their hour, as a UNION ALL of CHUNKS sources.

        DuckDB runs a VALUES list or range() on one thread; separate UNION ALL branches run in parallel.
        """
        hours = _hours(self.spec, pairs)
        branches = []
        for c in range(CHUNKS):
            lo, hi = pairs * c // CHUNKS, pairs * (c + 1) // CHUNKS
            segments = []
            for h, first, count, load, incident in hours:
                a, b = max(lo, first), min(hi, first + count)
                if a < b:
                    segments.append(f"({h}, {a}, {b - a}, {a - first}, {count}, {_lit(load)}, {_lit(incident)})")
            if segments:
                branches.append(
                    "select h, load, incident, pairs, pos0 + j as pos, first + j as k from (select *, unnest(range(cnt)) as j"
                    f" from (values {', '.join(segments)}) t(h, first, cnt, pos0, pairs, load, incident))")
        if not branches:
            return ("select 0 as h, 1.0::DOUBLE as load, false as incident, 1 as pairs, 0::BIGINT as pos, "
                    "0::BIGINT as k where false")
        return "\nunion all\n".join(branches)

    # -- per-request layers ------------------------------------------------------------------------
    def identity(self, px: str, idx: str, half: float, edges: list[tuple[int, float]]) -> list[list[str]]:
        """Layers of columns that describe one request (prefix px) before it is sent."""
        u, z = self.u, self.z
        start = f"TIMESTAMP '{self.spec.start.isoformat()} 00:00:00'"  # UTC; plain TIMESTAMP is cheaper
        feature_case = ("case " + " ".join(f"when {u(idx, 'feature')} < {_lit(c)} then {fi}" for fi, c in edges[:-1])
                        + f" else {edges[-1][0]} end")
        f, s = f"f_{px}", f"s_{px}"
        l1 = [
            # ms resolution; pair members sit in the first and second half of their slot in the hour
            f"{start} + to_microseconds(((h * 3600000.0 + (pos + {half} + 0.5 * {u(idx, 'ts')}) / pairs * 3600000.0)"
            f"::BIGINT) * 1000) as {px}ts0",
            f"{feature_case} as {px}fi",
            f"(hash({idx}, {SALT['slot']}::BIGINT, {self.seed}) % {SLOTS})::BIGINT as {px}slot",
        ]
        l2 = [  # joined to the feature (f) and the user's slot (s)
            f"{idx} as {px}tix", f"{s}.ci as {px}ci",
            f"case when {u(idx, 'tier')} < {f}.cum_haiku then 0 when {u(idx, 'tier')} < {f}.cum_sonnet then 1 else 2 end"
            f" as {px}tier",
            f"{u(idx, 'batch')} < {f}.batch_share as {px}batch",
            f"case when {f}.nightly then date_trunc('day', {px}ts0) + to_microseconds("
            f"((3600000 + 10800000 * {u(idx, 'nightly')})::BIGINT) * 1000) else {px}ts0 end as {px}ts",
            f"case when {f}.nightly then 0.6::DOUBLE else load end as {px}load",
            f"incident and not {f}.nightly as {px}incident",
            f"least(1500000, greatest(8, case when {u(idx, 'runaway')} < {f}.runaway_share "
            f"then 400000 + 900000 * {u(idx, 'prompt')} else exp({f}.prompt_mu + {f}.prompt_sigma * {z(idx, 'prompt')}) end))"
            f"::BIGINT as {px}prompt",
            f"case when {u(idx, 'web')} < {f}.web_share then least(10, 1 + floor(exp(0.3 + 0.7 * {z(idx, 'webn')})))"
            f"::BIGINT else 0 end as {px}web",
            f"{u(idx, 'fetch')} < {f}.fetch_share as {px}fetch_on",
            f"{u(idx, 'cache')} < {f}.cache_share as {px}caching",
            f"{u(idx, 'hit')} < {f}.hit_share as {px}hit",
            f"{u(idx, 'ttl')} < {f}.ttl_1h_share as {px}ttl1h",
            f"{f}.prefix_frac + 0.1 * ({u(idx, 'frac')} - 0.5) as {px}prefix_frac",
            f"{f}.incremental as {px}incremental",
            f"{u(idx, 'fast')} < {f}.fast_share as {px}fast_on",
            f"{f}.max_tokens as {px}max_tokens", f"{f}.out_mu as {px}out_mu", f"{f}.out_sigma as {px}out_sigma",
            f"{f}.tool_share as {px}tool_share", f"{f}.refusal_share as {px}refusal_share",
            f"{f}.fb_share as {px}fb_share", f"{f}.thumbs as {px}thumbs", f"{f}.difficulty as {px}difficulty",
            f"{s}.uid as {px}uid",
        ]
        l3 = [
            f"{px}tier = 2 and {px}fast_on and not {px}batch as {px}fast",
            f"case when {px}web > 0 and {px}fetch_on then 1 + floor(3 * {u(idx, 'fetchn')})::BIGINT else 0 end as {px}fetches",
            f"case when {px}caching and {px}prompt * {px}prefix_frac >= {MIN_CACHEABLE} "
            f"then ({px}prompt * {px}prefix_frac)::BIGINT else 0 end as {px}prefix",
        ]
        l4 = [
            f"case when {px}prefix > 0 and {px}hit then {px}prefix else 0 end as {px}cache_read",
            f"case when {px}prefix > 0 and not {px}hit then {px}prefix "
            f"when {px}prefix > 0 and {px}incremental then (({px}prompt - {px}prefix) * 0.6)::BIGINT else 0 end as {px}cw",
        ]
        l5 = [
            f"case when {px}ttl1h then {px}cw else 0 end as {px}cw1h",
            f"case when {px}ttl1h then 0 else {px}cw end as {px}cw5",
            f"greatest(1, {px}prompt - {px}cache_read - {px}cw) + 2400 * {px}web as {px}input",
        ]
        return [l1, l2, l3, l4, l5]

    def outcome(self, px: str, idx: str) -> list[list[str]]:
        """Layers of columns that say what happened to one request (prefix px)."""
        u, z, t = self.u, self.z, f"{px}tier"
        batch_errors = f"when {px}u_err < 0.0008 then 'invalid_request'"
        if self.spec.batch_only:
            batch_errors += f" when {px}u_err < 0.0038 then 'expired' when {px}u_err < 0.0048 then 'canceled'"
        tail = f"(case when {px}out_raw > 4000 then 0.01 else 0.0003 end)"
        l1 = [
            f"greatest(1, round(exp({px}out_mu + {px}out_sigma * {z(idx, 'out')}) * "
            f"{_pick(t, [x.output_factor for x in TIERS])}))::BIGINT as {px}out_raw",
            f"least(1.0, greatest(0.0, {_pick(t, [x.quality for x in TIERS])} - {px}difficulty * "
            f"{_pick(t, [x.quality_gap for x in TIERS])} + 0.12 * {z(idx, 'q')})) as {px}q",
            f"{u(idx, 'err')} as {px}u_err",
            f"{u(idx, 'stop')} as {px}u_stop",
            f"{_pick(t, [x.rate_limit for x in TIERS])} * {px}load as {px}p_rl",
            f"0.002::DOUBLE + case when {px}incident then {_pick(t, [x.incident_overload for x in TIERS])} else 0.0::DOUBLE end as {px}p_ol",
        ]
        l2 = [
            f"case when {px}prompt > {CONTEXT_WINDOW} then 'context_exceeded' "
            f"when {px}batch then case {batch_errors} end "
            f"when {px}u_err < {px}p_rl then 'rate_limit' "
            f"when {px}u_err < {px}p_rl + {px}p_ol then 'overloaded' "
            f"when {px}u_err < {px}p_rl + {px}p_ol + 0.0006 then 'api_error' "
            f"when {px}u_err < {px}p_rl + {px}p_ol + 0.0006 + {tail} then 'timeout' "
            f"when {px}u_err < {px}p_rl + {px}p_ol + 0.0011 + {tail} then 'invalid_request' end as {px}err",
        ]
        stop = (f"case when {px}err is not null then null when {px}out_raw >= {px}max_tokens then 'max_tokens' "
                f"when {px}u_stop < {px}tool_share then 'tool_use' "
                f"when {px}u_stop < {px}tool_share + {px}refusal_share then 'refusal' else 'end_turn' end")
        l3 = [
            f"{stop} as {px}stop_reason",
            f"case when {px}err is not null then 0 when {px}out_raw < {px}max_tokens and {px}u_stop >= {px}tool_share "
            f"and {px}u_stop < {px}tool_share + {px}refusal_share then least({px}out_raw, 40) "
            f"else least({px}out_raw, {px}max_tokens) end as {px}output_tokens",
            f"case when {px}err is not null or {px}batch then null else round("
            f"{_pick(t, [x.ttft_ms for x in TIERS])} * (case when {px}fast then 0.7 else 1.0 end)"
            f" * (1 + ({px}input + {px}cw5 + {px}cw1h) / 40000.0 + {px}cache_read / 400000.0)"
            f" * exp(0.35 * {z(idx, 'ttft')}) * (1 + 0.1 * ({px}load - 1))"
            f" * (case when {px}incident then 1.8 else 1.0 end), 1) end as {px}ttft_ms",
        ]
        l4 = [
            f"case when {px}batch then null "
            f"when {px}err = 'rate_limit' then round(20 + 130 * {u(idx, 'lat')}, 1) "
            f"when {px}err = 'overloaded' then round(150 + exp(6.2 + 0.8 * {z(idx, 'lat')}), 1) "
            f"when {px}err = 'api_error' then round(300 + 4000 * {u(idx, 'lat')}, 1) "
            f"when {px}err = 'timeout' then round(60000 + 540000 * {u(idx, 'lat')}, 1) "
            f"when {px}err is not null then round(30 + 200 * {u(idx, 'lat')} + {px}prompt / 20000.0, 1) "
            f"else round({px}ttft_ms + {px}output_tokens * 1000.0 / ({_pick(t, [x.tokens_per_s for x in TIERS])}"
            f" * (case when {px}fast then 2.5 else 1.0 end)) * exp(0.2 * {z(idx, 'gen')})"
            f" + {px}web * 1100 * exp(0.4 * {z(idx, 'weblat')}), 1) end as {px}latency_ms",
            f"case when {px}err is null and {u(idx, 'fb')} < {px}fb_share then case when {px}thumbs then "
            f"(case when {u(idx, 'thumb')} < {px}q then 1.0 else 0.0 end) "
            f"else round(least(1.0, greatest(0.0, {px}q + 0.05 * {z(idx, 'fbn')})), 2) end end as {px}feedback_score",
        ]
        return [l1, l2, l3, l4]

    def wide(self) -> str:
        """CTEs ending in `w0`: every generated column (canonical and extra), one row per request."""
        spec = self.spec
        n, pairs = spec.n, (spec.n + 1) // 2
        tables, edges = self.tables(pairs)
        ctes = [tables, f"p0 as ({self.pairs(pairs)})"]

        def layer(name: str, prev: str, cols: list[str], joins: str = "") -> None:
            ctes.append(f"{name} as (select {prev}.*, {', '.join(cols)} from {prev}{joins})")

        a = self.identity("a_", "(2 * k)", 0.0, edges)
        b = self.identity("b_", "(2 * k + 1)", 0.5, edges)
        layer("p1", "p0", a[0] + b[0])
        layer("p2", "p1", a[1] + b[1], " join features f_a_ on f_a_.fi = p1.a_fi join slots s_a_ on s_a_.slot = p1.a_slot"
                                       " join features f_b_ on f_b_.fi = p1.b_fi join slots s_b_ on s_b_.slot = p1.b_slot")
        for i in (2, 3, 4):
            layer(f"p{i + 1}", f"p{i}", a[i] + b[i])
        prev = "p5"
        for i, cols in enumerate(self.outcome("a_", "(2 * k)")):
            layer(f"pa{i}", prev, cols)
            prev = f"pa{i}"
        u = self.u("(2 * k)", "retry")
        retry = "null" if spec.batch_only else (
            f"case when 2 * k + 1 >= {n} or a_batch then null "
            f"when a_tier = 0 and a_err in {RETRYABLE} and {u} < 0.9 then 'escalate' "
            f"when a_tier = 0 and a_err is null and a_q < 0.5 and {u} < 0.8 then 'escalate' "
            f"when a_tier > 0 and a_err in {RETRYABLE} and {u} < 0.9 then 'retry' end")
        backoff = (f"case when a_err = 'rate_limit' then 2000 + 18000 * {self.u('(2 * k)', 'backoff')} "
                   f"when a_err = 'overloaded' then 1000 + 7000 * {self.u('(2 * k)', 'backoff')} "
                   f"when a_err is null then 400 + 4000 * {self.u('(2 * k)', 'backoff')} "
                   f"else 500 + 2500 * {self.u('(2 * k)', 'backoff')} end")
        layer("pr", prev, [f"{retry} as a_kind"])
        layer("pt", "pr", [f"a_ts + to_microseconds(((coalesce(a_latency_ms, 0) + {backoff}) * 1000)::BIGINT) "
                           "as a_retry_ts"])
        overrides = {
            "ts": "a_retry_ts",
            "tier": "case when a_kind = 'escalate' then 1 else a_tier end",
            "fast": "a_fast and a_kind = 'retry'",
            # a new model has a cold cache: the prefix the parent read is written again
            "cache_read": "case when a_kind = 'escalate' then 0 else a_cache_read end",
            "cw5": "case when a_kind = 'escalate' then a_cw5 + a_cache_read else a_cw5 end",
        }
        chosen = [f"case when side = 0 then a_{c} when a_kind is not null then {overrides.get(c, 'a_' + c)} "
                  f"else b_{c} end as {c}" for c in _IDENTITY]
        ctes.append("r0 as (select *, unnest([0, 1]) as side from pt)")
        ctes.append(
            "r1 as (select 2 * k + side as i, " + ", ".join(chosen) + ", "
            "case when side = 1 and a_kind is not null then (a_err is null) end as parent_ok, "
            "case when side = 1 and a_kind is not null then 2 else 1 end as attempt "
            f"from r0 where 2 * k + side < {n})")
        prev = "r1"
        for i, cols in enumerate(self.outcome("", "i")):
            layer(f"r{i + 2}", prev, cols)
            prev = f"r{i + 2}"
        ctes.append(f"w0 as (select * from {prev})")
        return "with " + ",\n".join(ctes)

    def derived(self) -> list[str]:
        """The output columns made from w0's numbers (strings last: they are the costly part)."""
        spec = self.spec
        customers = _customers(spec)
        us = _lit([name in US_RESIDENCY for name in customers])
        # a session: the user's activity in a 30-minute window (offset per user so windows do not align)
        session = (f"'s_' || to_base((hash(uid, floor((epoch(ts) + uid * 37) / 1800)::BIGINT, {self.seed}) >> 2)"
                   "::BIGINT, 36, 12)")
        return [
            f"{_pick('tier', list(spec.models))} as model",
            "case when batch then 'batch' else 'standard' end as service_tier",
            "case when fast then 'fast' else 'standard' end as speed",
            f"case when {us}[ci + 1] then 'us' else 'global' end as inference_geo",
            "case when err is null then input else 0 end as input_tokens",
            "case when err is null then cache_read else 0 end as cache_read_tokens",
            "case when err is null then cw5 else 0 end as cache_write_5m_tokens",
            "case when err is null then cw1h else 0 end as cache_write_1h_tokens",
            "case when err is null then web else 0 end as web_search_requests",
            "case when err is null then fetches else 0 end as web_fetch_requests",
            "case when err is null then 'ok' else 'error' end as status",
            "err as error_type",
            "case err when 'rate_limit' then 429 when 'overloaded' then 529 when 'api_error' then 500 "
            "when 'timeout' then 504 when 'invalid_request' then 400 when 'context_exceeded' then 400 "
            "when 'expired' then null when 'canceled' then null else 200 end as http_status",
            f"{_lit([f.name for f in spec.features])}[fi + 1] as feature",
            "'u_' || uid as user_id",
            f"{_lit(customers)}[ci + 1] as customer_id",
            f"{session} as session_id",
            f"'t_' || {self.hid('tix', 'trace', 13)} as trace_id",
            f"case when parent_ok then {self.msg_id('tix')} when not parent_ok then {self.req_id('tix')} end"
            " as parent_request_id",
            f"{self.req_id('i')} as req_id",
            f"{self.msg_id('i')} as msg_id",
        ]

    def rows(self, order: str | None) -> str:
        """The whole SELECT up to the derived columns; the caller projects from it as `d`."""
        inner = f"select * from w0 order by {order}" if order else "select * from w0"
        return (f"{self.wide()}\nselect * from (select w.* exclude (input, cache_read, cw5, cw1h, web, fetches), "
                f"{', '.join(self.derived())} from ({inner}) w) d")


def _canonical_select(spec: Spec, order: bool) -> str:
    attrs = "('{\"synthetic\":true,\"max_tokens\":' || max_tokens || '}')::JSON"
    rows = _Sql(spec).rows("ts, i" if order else None)
    return rows.replace("\nselect * from (select w.*", f"""
        select case when status = 'ok' then msg_id else req_id end::VARCHAR as request_id,
               timezone('UTC', ts) as ts, 'anthropic' as platform,
               model::VARCHAR as model, service_tier::VARCHAR as service_tier, speed::VARCHAR as speed,
               inference_geo::VARCHAR as inference_geo,
               input_tokens::BIGINT as input_tokens, output_tokens::BIGINT as output_tokens,
               cache_read_tokens::BIGINT as cache_read_tokens,
               cache_write_5m_tokens::BIGINT as cache_write_5m_tokens,
               cache_write_1h_tokens::BIGINT as cache_write_1h_tokens,
               web_search_requests::INTEGER as web_search_requests, web_fetch_requests::INTEGER as web_fetch_requests,
               latency_ms::DOUBLE as latency_ms, ttft_ms::DOUBLE as ttft_ms, status::VARCHAR as status,
               error_type::VARCHAR as error_type, http_status::SMALLINT as http_status,
               stop_reason::VARCHAR as stop_reason, feature::VARCHAR as feature, user_id::VARCHAR as user_id,
               customer_id::VARCHAR as customer_id, session_id::VARCHAR as session_id,
               trace_id::VARCHAR as trace_id, parent_request_id::VARCHAR as parent_request_id,
               attempt::SMALLINT as attempt, feedback_score::DOUBLE as feedback_score,
               null::DECIMAL(18,9) as reported_cost_usd, {_lit(spec.source)} as source,
               null::BIGINT as ingest_id, {attrs} as attributes
        from (select w.*""", 1)


_API_ERROR = {  # error_type -> (the API's error.type, its message as a SQL expression)
    "rate_limit": ("rate_limit_error", "'Number of request tokens has exceeded your per-minute rate limit "
                   "(https://docs.claude.com/en/api/rate-limits); please try again later.'"),
    "overloaded": ("overloaded_error", "'Overloaded'"),
    "api_error": ("api_error", "'Internal server error'"),
    "timeout": ("timeout_error", "'Request timed out'"),
    "invalid_request": ("invalid_request_error", "'messages.0.content: text content blocks must contain "
                        "non-whitespace text'"),
    "context_exceeded": ("invalid_request_error",
                         f"'prompt is too long: ' || prompt || ' tokens > {CONTEXT_WINDOW} maximum'"),
}
REFUSAL = "I can't help with that request."


def _texts(spec: Spec, escaped: bool) -> tuple[str, str, str]:
    """SQL for the system prompt, the user turn and the reply of a row of `d`.

    With `escaped`, each is already a JSON string literal (quotes included): the texts are constants
    chosen by index, so they are escaped once here instead of once per row.
    """
    enc = (lambda t: json.dumps(t, ensure_ascii=False)) if escaped else (lambda t: t)
    seed = f"{spec.seed}::BIGINT"

    def choose(idx: str, salt: str, lists: list[tuple[str, ...]]) -> str:
        # a CASE per feature over its own short list: indexing one long constant list costs ~10x more
        pick = f"(hash({idx}, {SALT[salt]}::BIGINT, {seed}) % {{n}})::BIGINT + 1"
        return ("case fi " + " ".join(f"when {fi} then {_lit([enc(t) for t in texts])}[{pick.format(n=len(texts))}]"
                                      for fi, texts in enumerate(lists)) + " end")

    systems = _lit([enc(f.system) for f in spec.features])
    prompt = f"replace({choose('tix', 'text', [f.prompts for f in spec.features])}, '{{n}}', (tix % 100000)::VARCHAR)"
    reply = (f"case when stop_reason = 'refusal' then {_lit(enc(REFUSAL))} "
             f"else {choose('i', 'reply', [f.replies for f in spec.features])} end")
    return f"{systems}[fi + 1]", prompt, reply


def _message(spec: Spec) -> str:
    """The Message object of an ok row of `d`, as a DuckDB struct (for json_object)."""
    _, _, reply = _texts(spec, escaped=False)
    content = (f"[{{'type': 'text', 'text': {reply}}}]" if spec.payloads
               else "[]::STRUCT(\"type\" VARCHAR, \"text\" VARCHAR)[]")
    return f"""{{'id': msg_id, 'type': 'message', 'role': 'assistant', 'model': model,
            'content': {content}, 'stop_reason': stop_reason, 'stop_sequence': null::VARCHAR,
            'usage': {{'input_tokens': input_tokens, 'output_tokens': output_tokens,
                      'cache_creation_input_tokens': cache_write_5m_tokens + cache_write_1h_tokens,
                      'cache_read_input_tokens': cache_read_tokens,
                      'cache_creation': {{'ephemeral_5m_input_tokens': cache_write_5m_tokens,
                                         'ephemeral_1h_input_tokens': cache_write_1h_tokens}},
                      'server_tool_use': {{'web_search_requests': web_search_requests,
                                          'web_fetch_requests': web_fetch_requests}},
                      'service_tier': service_tier, 'speed': speed, 'inference_geo': inference_geo}}}}"""


def _error_struct() -> str:
    kinds = " ".join(f"when '{k}' then '{t}'" for k, (t, _) in _API_ERROR.items())
    messages = " ".join(f"when '{k}' then {m}" for k, (_, m) in _API_ERROR.items())
    return (f"{{'type': 'error', 'error': {{'type': case error_type {kinds} end, "
            f"'message': case error_type {messages} end}}, 'request_id': req_id}}")


def _json_str(expr: str) -> str:
    """A JSON string from a SQL expression whose values need no escaping (ids, enums, numbers)."""
    return f"'\"' || {expr} || '\"'"


def _json_num(expr: str) -> str:
    return f"coalesce(({expr})::VARCHAR, 'null')"


def _envelope_select(spec: Spec) -> str:
    """One JSON line per row, written out by concatenation.

    DuckDB's JSON writer spends ~4 us per envelope row; building the line here and writing it as a
    one-column CSV without quoting is about twice as fast. Every piece is an id, an enum, a number
    or a text escaped once in _texts, and the tests parse every line.
    """
    system, prompt, reply = _texts(spec, escaped=True)
    kinds = " ".join(f"when '{k}' then '{t}'" for k, (t, _) in _API_ERROR.items())
    messages = " ".join(f"when '{k}' then {m}" for k, (_, m) in _API_ERROR.items())
    request = ("concat('{\"model\":\"', model, '\",\"max_tokens\":', max_tokens, "
               + (f"',\"messages\":[{{\"role\":\"user\",\"content\":', {prompt}, '}}],\"system\":', {system}, '}}')"
                  if spec.payloads else "'}')"))
    content = f"'[{{\"type\":\"text\",\"text\":', {reply}, '}}]'" if spec.payloads else "'[]'"
    response = f"""concat('{{"id":"', msg_id, '","type":"message","role":"assistant","model":"', model,
        '","content":', {content}, ',"stop_reason":"', stop_reason, '","stop_sequence":null,"usage":{{"input_tokens":',
        input_tokens, ',"output_tokens":', output_tokens,
        ',"cache_creation_input_tokens":', cache_write_5m_tokens + cache_write_1h_tokens,
        ',"cache_read_input_tokens":', cache_read_tokens,
        ',"cache_creation":{{"ephemeral_5m_input_tokens":', cache_write_5m_tokens,
        ',"ephemeral_1h_input_tokens":', cache_write_1h_tokens,
        '}},"server_tool_use":{{"web_search_requests":', web_search_requests,
        ',"web_fetch_requests":', web_fetch_requests,
        '}},"service_tier":"', service_tier, '","speed":"', speed, '","inference_geo":"', inference_geo, '"}}}}')"""
    error = f"""concat('{{"type":"error","error":{{"type":"', case error_type {kinds} end,
        '","message":"', case error_type {messages} end, '"}},"request_id":"', req_id, '"}}')"""
    line = f"""concat('{{"timestamp":"', strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'), '","request_id":"', req_id,
        '","platform":"anthropic","request":', {request},
        ',"response":', case when status = 'ok' then {response} else 'null' end,
        ',"error":', case when status = 'error' then {error} else 'null' end,
        ',"status_code":', http_status, ',"latency_ms":', {_json_num('latency_ms')}, ',"ttft_ms":', {_json_num('ttft_ms')},
        ',"metadata":{{"feature":"', feature, '","user_id":"', user_id, '","customer_id":"', customer_id,
        '","session_id":"', session_id, '","trace_id":"', trace_id,
        '","parent_request_id":', coalesce({_json_str('parent_request_id')}, 'null'), ',"attempt":', attempt,
        ',"feedback_score":', {_json_num('feedback_score')}, '}}}}')"""
    return _Sql(spec).rows("ts, i").replace("\nselect * from (select w.*", f"\nselect {line} as line\nfrom (select w.*", 1)


def _batch_select(spec: Spec) -> str:
    order = f"hash(i, {SALT['order']}::BIGINT, {spec.seed}::BIGINT)"  # results come back in any order
    select = f"""
        select feature || '-' || lpad(i::VARCHAR, 9, '0') as custom_id,
               case when status = 'ok' then json_object('type', 'succeeded', 'message', {_message(spec)})
                    when error_type in ('expired', 'canceled') then json_object('type', error_type)
                    else json_object('type', 'errored', 'error', {_error_struct()}) end as result
        from (select w.*"""
    return _Sql(spec).rows(order).replace("\nselect * from (select w.*", select, 1)


def _sql_for(spec: Spec, fmt: str) -> str:
    if fmt == "anthropic":
        return _envelope_select(spec)
    if fmt == "batch":
        return _batch_select(spec)
    return _canonical_select(spec, order=True)


# -- public API -----------------------------------------------------------------------------------

def generate_sql(n: int, seed: int = 0, start: str | date = "2026-11-02", days: int = 14,
                 mix: Sequence[float] | dict[str, float] | None = None, order: bool = False,
                 **options: Any) -> str:
    """A self-contained DuckDB SELECT of `n` generated requests in the canonical schema.

    The columns are costlab.schema.REQUEST_COLUMNS, in order, so `insert into requests <this>` works
    on a store. Needs no macros or tables: run it on any DuckDB connection (TimeZone does not matter).

    Args:
        n: rows. seed: the random seed (same seed and n, same rows).
        start, days: the window ('YYYY-MM-DD', UTC midnight). mix: haiku/sonnet/opus share of first
        attempts, as a tuple or a dict. order: sort by ts (costs a sort; files are always sorted).
        options: other Spec fields (users, customers, models, features, source).
    """
    spec = make_spec(n, seed, start, days, mix, **options)
    return _canonical_select(spec, order=order)


def generate_frame(n: int, seed: int = 0, **kwargs: Any) -> "pl.DataFrame":
    """The same rows as generate_sql, sorted by ts, as a polars frame (for tests and notebooks)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.sql(generate_sql(n, seed, order=True, **kwargs)).pl()
    finally:
        con.close()


def generate(path: str | Path, n: int, seed: int = 0, fmt: str = "anthropic", start: str | date = "2026-11-02",
             days: int = 14, payloads: bool = True, mix: Sequence[float] | dict[str, float] | None = None,
             threads: int | None = None, **options: Any) -> int:
    """Write `n` generated requests to `path` and return the number of rows written.

    Args:
        path: the file; a `.gz` suffix gzips the JSON and CSV formats.
        fmt: "anthropic" (envelope JSONL, as docs/formats.md), "canonical-csv", "canonical-jsonl",
            "canonical-parquet", or "batch" (Message Batches results JSONL: every row a batch result).
        payloads: include request messages, system prompt and response text (envelope and batch).
        threads: DuckDB threads (default: all cores). The output does not depend on it.
        seed, start, days, mix, options: as for generate_sql.

    Raises:
        ValueError: an unknown format or a bad argument.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    import duckdb

    spec = make_spec(n, seed, start, days, mix, payloads=payloads, batch_only=(fmt == "batch"), **options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gz = path.name.endswith(".gz")
    if fmt == "canonical-parquet":
        options_sql = "FORMAT parquet, COMPRESSION zstd"
    elif fmt == "canonical-csv":
        options_sql = "FORMAT csv, HEADER true"
    elif fmt == "anthropic":  # ready-made JSON lines: a one-column CSV with no quoting writes them as they are
        options_sql = "FORMAT csv, HEADER false, QUOTE '', ESCAPE ''"
    else:
        options_sql = "FORMAT json"
    if gz and fmt != "canonical-parquet":
        options_sql += ", COMPRESSION gzip"
    target = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        if threads:
            con.execute(f"set threads = {int(threads)}")
        con.execute(f"COPY ({_sql_for(spec, fmt)}) TO '{target}' ({options_sql})")
        result = con.fetchall()
    finally:
        con.close()
    return int(result[0][0]) if result and result[0] and result[0][0] is not None else n
