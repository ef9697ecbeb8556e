"""The generated world: tiers, features, customers and users, time, and the spec that fixes them.
See costlab.generate for what is encoded and why."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

from costlab.config import Config
from costlab.pricing.catalogue import build_tables

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
    nightly: bool = False  # runs every night from 01:00 UTC, for nightly_minutes
    nightly_minutes: int = 180  # 180: spread over three night hours; a cron job's burst is shorter


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

# -- patterns: what a detector should find, at the strength a real team's logs show it -----------
# The clean world above has none (the detectors stay silent on it at any size). `patterns` adds them;
# each is a change a team makes, not a planted row. The time-bound ones start with the window's last
# 7 days (what the detectors call "now").

TAGGER = Feature(  # over-modeling: a classification feature left on the top tier
    "ticket-tagger", 0.18, (0.0, 0.10, 0.90), 3500, 0.45, 6, 0.5, 16,
    "Tag the ticket with one label from the taxonomy below. Reply with the label only.",
    ("Ticket #{n} thread follows.", "Ticket #{n}: customer reply.", "Ticket #{n}: escalated by agent.",
     "Ticket #{n}: reopened.", "Ticket #{n}: new.", "Ticket #{n}: merged."),
    ("billing", "bug", "how-to", "auth", "account", "incident"),
    difficulty=0.1)
CATALOG = Feature(  # batch-eligible: a cron job at 01:00 on the standard tier, done in 45 minutes
    "catalog-enrich", 0.05, (0.05, 0.90, 0.05), 12000, 0.3, 1500, 0.3, 4096,
    "Rewrite the product record: title, bullet points, attributes as JSON.",
    ("SKU {n}: supplier feed record follows.", "SKU {n}: updated supplier record.", "SKU {n}: new listing.",
     "SKU {n}: price change.", "SKU {n}: images added.", "SKU {n}: category moved."),
    ('{"title": "..."}', '{"title": "...", "bullets": []}', '{"attributes": {}}', '{"title": "..."}',
     '{"bullets": ["..."]}', '{"category": "..."}'),
    difficulty=0.3, nightly=True, nightly_minutes=45)
SPIKE_FEATURE = "doc-summarize"  # escalation-spike: its Haiku answers get worse in the last week
PATTERNS = {
    "over-modeling": "ticket-tagger: short-output classification (one label, ~4k-token prompts) sent "
                     "mostly to the top tier",
    "rate-limited-top-tier": "the top tier hits its rate limit 2.5x as often (429s at ~9% x load) while the "
                             "next tier has room",
    "cost-per-user-growth": "the largest customer's prompts grow 1.8x in the last 7 days (more context per "
                            "request, the same users)",
    "escalation-spike": f"{SPIKE_FEATURE} moves to Haiku in the last 7 days (90% of its first attempts), where "
                        "its harder documents fail more (difficulty +0.4) and are re-sent to Sonnet",
    "nightly-batch": "catalog-enrich: a cron job at 01:00 UTC every night, 45 minutes, on the standard tier",
}
# Patterns of traffic rather than of a wrong model: not in PATTERNS (so not in `--pattern all`, whose
# shipped example and detector tests stay as they are), named one by one.
TRAFFIC_PATTERNS = {
    "task-mix-shift": "in the last 7 days the long-document tasks (doc-summarize, code-review, research-agent) "
                      "are drawn 4x as often (about 47% of requests instead of 18%): the traffic a routing "
                      "policy was fitted on has moved (the route_drift signal)",
}
ALL_PATTERNS = {**PATTERNS, **TRAFFIC_PATTERNS}
TASK_MIX_FEATURES = ("doc-summarize", "code-review", "research-agent")
TASK_MIX_FACTOR = 4.0
RATE_LIMIT_FACTOR = 2.5
PROMPT_GROWTH = 1.8
DIFFICULTY_RISE = 0.4
SPIKE_HAIKU_SHARE = 0.9


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
    patterns: tuple[str, ...] = ()  # names in PATTERNS or TRAFFIC_PATTERNS
    # Per tier, the model in force from each day on, when a tier's model changes in (or was released
    # after the start of) the window: ((day, model), ...) ascending, the first day the spec's start.
    # Empty: every tier is on its `models` entry throughout (make_spec fills it from the catalogue).
    lineage: tuple[tuple[tuple[date, str], ...], ...] = ()


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
    patterns = options.pop("patterns", ()) or ()
    patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    unknown_patterns = [p for p in patterns if p not in ALL_PATTERNS]
    if unknown_patterns:
        raise ValueError(f"unknown pattern(s) {unknown_patterns}; choose from {', '.join(ALL_PATTERNS)}")
    features = tuple(options.pop("features", FEATURES))
    features += tuple(f for p, f in (("over-modeling", TAGGER), ("nightly-batch", CATALOG))
                      if p in patterns and f.name not in {x.name for x in features})
    models = tuple(options.pop("models", DEFAULT_MODELS))
    lineage = tuple(model_lineage(m, start_date, days) for m in models)
    if all(len(line) == 1 for line in lineage):
        lineage = ()  # one model per tier: the plain case (and the same bytes as before lineages)
    spec = Spec(n=n, seed=seed, start=start_date, days=days, features=features, patterns=patterns,
                mix=tuple(x / total for x in shares), models=models, lineage=lineage,  # type: ignore[arg-type]
                **options)
    if "escalation-spike" in patterns and SPIKE_FEATURE not in {f.name for f in features}:
        raise ValueError(f"the escalation-spike pattern needs the feature {SPIKE_FEATURE!r}")
    if spec.users < 1 or spec.customers < 1:
        raise ValueError("users and customers must be at least 1")
    return spec


# -- which model stands for a tier on a day ----------------------------------------------------

def _catalogue() -> tuple[dict[str, str], dict[str, date], set[str]]:
    """From the built-in catalogue: each model's tier, the day of its first price, and the models with
    a fast-mode price."""
    tables = build_tables(Config())
    tiers = {row[0]: row[1] for row in tables.models}
    first: dict[str, date] = {}
    for row in tables.prices:
        day = row[3].date()
        first[row[0]] = min(first.get(row[0], day), day)
    return tiers, first, {row[0] for row in tables.prices if row[1] == "fast"}


_TIERS_OF, FIRST_PRICED, FAST_MODELS = _catalogue()


def model_lineage(model: str, start: date, days: int) -> tuple[tuple[date, str], ...]:
    """The models that stand for `model`'s tier over [start, start + days): `model` from its first
    price (its release) on, and before that the tier's model that was current then (the latest one
    of the same tier priced earlier), so no generated request is on a model before it existed.

    A model the catalogue does not know (a test's stand-in) stands for its tier throughout.

    Raises:
        ValueError: the window starts before any model of the tier had a price.
    """
    if model not in FIRST_PRICED or _TIERS_OF.get(model) is None:
        return ((start, model),)
    tier = _TIERS_OF[model]
    chain = [(FIRST_PRICED[model], model)]
    while chain[0][0] > start:
        earlier = [(day, m) for m, day in FIRST_PRICED.items() if _TIERS_OF.get(m) == tier and day < chain[0][0]]
        if not earlier:
            raise ValueError(f"no {tier} model had a price before {chain[0][0]} ({chain[0][1]} is the first): "
                             f"start on or after {chain[0][0]}")
        chain.insert(0, max(earlier))
    end = start + timedelta(days=days)
    kept = [(day, m) for i, (day, m) in enumerate(chain)
            if day < end and (i + 1 == len(chain) or chain[i + 1][0] > start)]
    return tuple((max(day, start), m) for day, m in kept)


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


def largest_customer(spec: Spec) -> int:
    """The index of the customer with the most traffic (the one cost-per-user-growth changes)."""
    slots: dict[int, int] = {}
    for _, c, _, k in _users(spec):
        slots[c] = slots.get(c, 0) + k
    return max(slots, key=lambda c: (slots[c], -c))


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
