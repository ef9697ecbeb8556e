"""The set-based SQL that draws every generated row: one SELECT over range(), no Python row loop."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Sequence

from costlab.store.sqlquote import literal
from costlab.generate.world import (  # noqa: F401
    FAST_MODELS,
    CHUNKS,
    CONTEXT_WINDOW,
    MIN_CACHEABLE,
    RETRYABLE,
    SLOTS,
    Spec,
    TIERS,
    US_RESIDENCY,
    _customers,
    _hours,
    _users,
    calibrate_mix,
    DIFFICULTY_RISE,
    PROMPT_GROWTH,
    TASK_MIX_FACTOR,
    TASK_MIX_FEATURES,
    RATE_LIMIT_FACTOR,
    SPIKE_FEATURE,
    SPIKE_HAIKU_SHARE,
    largest_customer,
)

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
    return literal(str(value))


def _cumulative(weights: list[float]) -> list[tuple[int, float]]:
    """(feature index, cumulative share) for each feature with a positive weight."""
    total = sum(weights)
    cum, edges = 0.0, []
    for fi, w in enumerate(weights):
        cum += w / total
        if w > 0:
            edges.append((fi, cum))
    return edges


def _pick(index: str, values: Sequence[object]) -> str:
    whens = " ".join(f"when {i} then {_lit(v)}" for i, v in enumerate(values[:-1]))
    return f"(case {index} {whens} else {_lit(values[-1])} end)"


class _Sql:
    """Builds the SELECT; `u(idx, name)` and `z(idx, name)` are the row-level random draws."""

    def __init__(self, spec: Spec, part: tuple[int, int] | None = None):
        self.spec = spec
        self.seed = f"{spec.seed}::BIGINT"
        self.part = part  # (i, parts): only the i-th of `parts` equal runs of pairs (rows 2k, 2k+1)

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

    # -- patterns (world.PATTERNS): compile-time terms, empty when the pattern is off ------------------
    def last_week(self, px: str) -> str:
        """True for a request in the window's last 7 days (the detectors' "now")."""
        first = self.spec.start.toordinal() + max(0, self.spec.days - 7)
        day = date.fromordinal(first).isoformat()
        return f"{px}ts0 >= TIMESTAMP '{day} 00:00:00'"

    def growth(self, px: str, s: str) -> str:
        if "cost-per-user-growth" not in self.spec.patterns:
            return ""
        return (f" * (case when {s}.ci = {largest_customer(self.spec)} and {self.last_week(px)} "
                f"then {_lit(PROMPT_GROWTH)} else 1.0::DOUBLE end)")

    def spike(self, px: str, f: str) -> str:
        if "escalation-spike" not in self.spec.patterns:
            return ""
        return (f" + (case when {f}.name = {_lit(SPIKE_FEATURE)} and {self.last_week(px)} "
                f"then {_lit(DIFFICULTY_RISE)} else 0.0::DOUBLE end)")

    def haiku_edge(self, px: str, f: str) -> str:
        """The feature's Haiku share of first attempts; the spike feature's rises in the last week."""
        if "escalation-spike" not in self.spec.patterns:
            return f"{f}.cum_haiku"
        return (f"(case when {f}.name = {_lit(SPIKE_FEATURE)} and {self.last_week(px)} "
                f"then greatest({f}.cum_haiku, {_lit(SPIKE_HAIKU_SHARE)}) else {f}.cum_haiku end)")

    def rate_limits(self) -> list[float]:
        factor = RATE_LIMIT_FACTOR if "rate-limited-top-tier" in self.spec.patterns else 1.0
        return [x.rate_limit * (factor if i == len(TIERS) - 1 else 1.0) for i, x in enumerate(TIERS)]

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
                f.max_tokens, f.tool_share, f.refusal_share, f.feedback_share, f.thumbs, f.difficulty,
                f.nightly_minutes * 60000)) + ")")
        cols = ("fi, name, cum_haiku, cum_sonnet, batch_share, nightly, runaway_share, prompt_mu, prompt_sigma, "
                "web_share, fetch_share, cache_share, hit_share, ttl_1h_share, prefix_frac, incremental, "
                "fast_share, out_mu, out_sigma, max_tokens, tool_share, refusal_share, fb_share, thumbs, "
                "difficulty, nightly_ms")
        weights = [f.weight * (f.batch_share if spec.batch_only else 1.0) for f in feats]
        if sum(weights) <= 0:
            raise ValueError("no feature has a batch share; fmt='batch' needs at least one")
        return f"features({cols}) as (values {', '.join(rows)})", _cumulative(weights)

    def shifted_edges(self) -> list[tuple[int, float]] | None:
        """(task-mix-shift) the last week's feature draw: the long-document tasks TASK_MIX_FACTOR x as often."""
        if "task-mix-shift" not in self.spec.patterns:
            return None
        weights = [f.weight * (f.batch_share if self.spec.batch_only else 1.0)
                   * (TASK_MIX_FACTOR if f.name in TASK_MIX_FEATURES else 1.0) for f in self.spec.features]
        return _cumulative(weights)

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
        i, parts = self.part or (0, 1)
        first_pair, end_pair = pairs * i // parts, pairs * (i + 1) // parts
        span = end_pair - first_pair
        branches = []
        for c in range(CHUNKS):
            lo, hi = first_pair + span * c // CHUNKS, first_pair + span * (c + 1) // CHUNKS
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
        def draw(cuts: list[tuple[int, float]]) -> str:
            return ("case " + " ".join(f"when {u(idx, 'feature')} < {_lit(c)} then {fi}" for fi, c in cuts[:-1])
                    + f" else {cuts[-1][0]} end")

        feature_case = draw(edges)
        shifted = self.shifted_edges()
        if shifted is not None:  # the last 7 days by hour (ts0 is made in this same layer)
            first_hour = max(0, self.spec.days - 7) * 24
            feature_case = f"case when h >= {first_hour} then {draw(shifted)} else {feature_case} end"
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
            f"case when {u(idx, 'tier')} < {self.haiku_edge(px, f)} then 0 when {u(idx, 'tier')} < "
            f"greatest({self.haiku_edge(px, f)}, {f}.cum_sonnet) then 1 else 2 end as {px}tier",
            f"{u(idx, 'batch')} < {f}.batch_share as {px}batch",
            f"case when {f}.nightly then date_trunc('day', {px}ts0) + to_microseconds("
            f"((3600000 + {f}.nightly_ms * {u(idx, 'nightly')})::BIGINT) * 1000) else {px}ts0 end as {px}ts",
            f"case when {f}.nightly then 0.6::DOUBLE else load end as {px}load",
            f"incident and not {f}.nightly as {px}incident",
            f"least(1500000, greatest(8, case when {u(idx, 'runaway')} < {f}.runaway_share "
            f"then 400000 + 900000 * {u(idx, 'prompt')} else exp({f}.prompt_mu + {f}.prompt_sigma * {z(idx, 'prompt')})"
            f"{self.growth(px, s)} end))::BIGINT as {px}prompt",
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
            f"{f}.fb_share as {px}fb_share", f"{f}.thumbs as {px}thumbs", f"{f}.difficulty{self.spike(px, f)} as {px}difficulty",
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
            f"{_pick(t, self.rate_limits())} * {px}load as {px}p_rl",
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
        model, fast = self.model_and_fast()
        return [
            f"{model} as model",
            "case when batch then 'batch' else 'standard' end as service_tier",
            f"case when {fast} then 'fast' else 'standard' end as speed",
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

    def model_and_fast(self) -> tuple[str, str]:
        """The model column as SQL (each tier's model, by day when the spec has a lineage: a tier's
        traffic before its model's release goes to the model current then), and the fast-mode
        condition (only on a model with a fast-mode price)."""
        spec = self.spec
        if not spec.lineage:
            return _pick("tier", list(spec.models)), "fast"
        per_tier = []
        for line in spec.lineage:
            expr = _lit(line[0][1])
            for day, name in line[1:]:
                expr = f"case when ts >= TIMESTAMP '{day.isoformat()} 00:00:00' then {_lit(name)} else {expr} end"
            per_tier.append(expr)
        whens = " ".join(f"when {i} then ({e})" for i, e in enumerate(per_tier[:-1]))
        model = f"(case tier {whens} else ({per_tier[-1]}) end)"
        slow = sorted({name for line in spec.lineage for _, name in line} - FAST_MODELS)
        fast = f"(fast and {model} not in ({', '.join(_lit(m) for m in slow)}))" if slow else "fast"
        return model, fast

    def rows(self, order: str | None) -> str:
        """The whole SELECT up to the derived columns; the caller projects from it as `d`."""
        inner = f"select * from w0 order by {order}" if order else "select * from w0"
        return (f"{self.wide()}\nselect * from (select w.* exclude (input, cache_read, cw5, cw1h, web, fetches), "
                f"{', '.join(self.derived())} from ({inner}) w) d")


def _canonical_select(spec: Spec, order: bool, part: tuple[int, int] | None = None) -> str:
    attrs = "('{\"synthetic\":true,\"max_tokens\":' || max_tokens || '}')::JSON"
    rows = _Sql(spec, part).rows("ts, i" if order else None)
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
               null::BIGINT as ingest_id, {attrs} as attributes, 1::DECIMAL(38,6) as sample_weight
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
    kinds = " ".join(f"when {_lit(k)} then {_lit(t)}" for k, (t, _) in _API_ERROR.items())
    messages = " ".join(f"when {_lit(k)} then {m}" for k, (_, m) in _API_ERROR.items())
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
    kinds = " ".join(f"when {_lit(k)} then {_lit(t)}" for k, (t, _) in _API_ERROR.items())
    messages = " ".join(f"when {_lit(k)} then {m}" for k, (_, m) in _API_ERROR.items())
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
