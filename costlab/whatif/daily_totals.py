"""The daily-totals pass, aggregate-first: per-day totals per tier without pricing each request.

For the proportional policy a split's expected cost is sum_t w_t * (total on tier t), and the
day-block bootstrap resamples whole days, so per-day totals per tier are all a proportional
scenario (or `--split current`) needs. And within one price-card row a cost is linear in token
counts, so the window is grouped first, with no price join (queries/whatif/daily_totals.sql: one GROUP
BY for each request's own card row and the per-feature statistics, one for the cube), and only the
few thousand cube rows are priced on each tier. The per-request steps that are not linear
(re-tokenizing, output ratios, replays: round() per request) run in the scan; the card's time
boundaries, long-context bands and cache warm-up are keys of the cube.

`evaluate_daily_totals` gives the `Result` `scenario.evaluate` gives on the per-request arrays: equal
where every rate is a whole number of nano-dollars per token; otherwise the per-request pass rounds
each request's categories to the nano-dollar and this rounds the summed femto-dollars, so totals
differ by less than 0.5 nano-dollar per request and rounded category (docs/whatif.md). Policies that
sort or pick requests (complexity, cascade, oracle) and --batch need the per-request pass (`reduce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

import numpy as np

from costlab import plausible
from costlab.display import plural
from costlab.errors import ConfigError
from costlab.store.sqlquote import expression, ident
from costlab.whatif import pass_sql
from costlab.whatif.arrays import OUT_SOURCES, ReduceOptions
from costlab.whatif.reduce import ID_COLUMNS, resolve_tiers
from costlab.whatif.scenario import Result, Scenario, coverage_shares, quality_parts

MONEY = ("cost", "warmup", "crd", "cwd", "oadj")

# `costlab whatif` with proportional splits (and current) over a window of more requests than this
# answers from the daily totals instead of per-request arrays (about 300 bytes a request: 3 GB for
# 10M); costlab.toml [whatif] per_request_max_requests sets it (docs/whatif.md, "Large windows").
PER_REQUEST_MAX_REQUESTS = 2_000_000


def window_requests(store, since: datetime, until: datetime) -> int:
    """Logged requests in [since, until), before any --filter: what per_request_max_requests is compared with."""
    return int(store.scalar("select count(*) from requests where ts >= ? and ts < ?", [since, until]) or 0)


def per_request_max(config: Any) -> int:
    """[whatif] per_request_max_requests, else PER_REQUEST_MAX_REQUESTS; a ConfigError for a value that
    is not a whole number of at least 0."""
    data = dict(getattr(config, "whatif", {}) or {}) if config is not None else {}
    value = data.get("per_request_max_requests", PER_REQUEST_MAX_REQUESTS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        where = f"{config.path} [whatif]" if getattr(config, "path", None) else "costlab.toml [whatif]"
        raise ConfigError(f"{where}: per_request_max_requests must be a whole number of requests (0 or more), got {value!r}")
    return value
# evaluate's names for the money arrays (Reduction attributes), for day_totals
_NAMES = {"cost": "cost", "warmup": "warmup", "cache_read_delta": "crd", "cache_write_delta": "cwd", "out_adjust": "oadj"}


@dataclass
class DailyTotals:
    """Per-day totals of one window, tiers cheapest first (the order `reduce` gives)."""

    tiers: tuple[str, ...]
    models: tuple[str, ...]
    days: tuple[Any, ...]
    n: int  # requests simulated (priced on every tier)
    totals: dict[str, np.ndarray]  # money name -> exact int64 [T] nano-dollars
    per_day: dict[str, np.ndarray]  # money name -> float64 [D, T] (exact integers)
    actual_total: int
    current_total: int
    current_day: np.ndarray  # float64 [D]
    n_off: int
    off_actual: int  # logged cost of the requests on no tier model
    shown: np.ndarray  # int64 [T] requests per tier under --split current
    q_own_sum: np.ndarray  # float64 [D]
    q_own_n: np.ndarray  # int64 [D]
    q_day: np.ndarray  # int [G] day index of each quality group
    q_mask: np.ndarray  # bool [G, T]
    q_sum: np.ndarray  # float64 [G, T] (0 where unknown)
    q_n: np.ndarray  # int64 [G]
    # output-token coverage per tier [T]: requests that ran on its model, and those replayed on it
    # (paired evidence), with their logged output tokens; out_tokens all logged output tokens
    n_own: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t_own: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_pair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t_pair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    out_tokens: int = 0
    unpriced: int = 0
    unpriced_on_tier: dict[str, int] = field(default_factory=dict)
    excluded_actual: int = 0
    options: ReduceOptions = field(default_factory=ReduceOptions)
    window: tuple[Any, Any] = (None, None)
    tier_notes: tuple[str, ...] = ()  # how costlab chose each tier's model (reduce.resolve_tiers)

    def day_totals(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(exact totals [T], per-day totals [D, T]), as Reduction.day_totals."""
        key = _NAMES.get(name, name)
        return self.totals[key], self.per_day[key]


# the columns of requests the cube reads; ids only when replays or judgements are joined
CUBE_COLUMNS = ("ts", "model", "feature", "platform", "speed", "service_tier", "inference_geo", "input_tokens",
                "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                "web_search_requests", "status", "feedback_score", "sample_weight")


def _classes(store, since, until) -> dict[str, str]:
    """The class expressions daily_totals.sql groups on, from the price card: the prompt-band thresholds
    (every band_min_tokens above 0: a finer split than any one model's bands) and the card's time
    boundaries strictly inside the window (at or before since, every request is past them alike)."""
    thresholds = [int(t) for (t,) in store.rows(
        "select distinct band_min_tokens from price_card where band_min_tokens > 0 order by 1")]
    lo = since or datetime(1970, 1, 1)
    hi = until or datetime(9999, 12, 31)
    bounds = [int(b) for (b,) in store.rows(
        "select distinct epoch_us(b) from (select seg_from as b from price_card union select seg_to from price_card) "
        "where b is not null and b > $lo and b < $hi order by 1", {"lo": lo, "hi": hi})]

    def band(prompt: str) -> str:
        return " + ".join([f"({prompt} >= {t})::INTEGER" for t in thresholds]) or "0"

    return {
        "seg": " + ".join(f"(ts_us >= {b})::INTEGER" for b in bounds) or "0",
        "band_raw": band("(t_in + t_cr + t_cw5 + t_cw1h)"),
        "band_sc": band("(b.g_in + b.g_cr + b.g_cw5 + b.g_cw1h)"),
        "band_rep": "[" + ", ".join(str(x) for x in [0, *thresholds]) + "]",
    }


def _cube_source(store, filter_sql: str | None, needs_ids: bool) -> str:
    """The relation the cube reads in place of `requests`.

    The grouping needs no price, so the base table is read, by its qualified name (pricing 10M
    requests through the view costs ~2 s of CPU, the whole pass ~1 s). costed_requests is read by
    name when --filter is given (the condition may name its columns: cost_usd, tier) or when a
    temporary table or view shadows it with every column the cube reads (a priced window). Either
    way only the request's own columns are read, so the answer is the same from every source."""
    need = set(CUBE_COLUMNS) | (set(ID_COLUMNS) if needs_ids else set())
    shadow = {c for (c,) in store.rows(
        "select column_name from duckdb_columns() where table_name = 'costed_requests' and database_name = 'temp'")}
    if filter_sql or (shadow and need <= shadow):
        return "costed_requests"
    return f"{ident(store.scalar('select current_database()'))}.main.requests"


def daily_totals_sql(store, filter_sql: str | None, n_tiers: int, since=None, until=None,
                     options: ReduceOptions | None = None) -> str:
    """queries/whatif/daily_totals.sql rendered for this store and window (costlab.whatif.pass_sql)."""
    if filter_sql:
        filter_sql = expression(filter_sql, "--filter (one SQL condition over costed_requests columns, cr.*)")
    found = pass_sql.evidence(store, payloads=False)
    # replay and judgement joins only when those tables hold rows: otherwise ten million ids would be
    # read and joined for nothing (the migrations create the tables empty)
    if "replays" in found and not store.scalar(
            "select exists (select 1 from replays x where status = 'ok' and output_tokens is not null "
            "and not exists (select 1 from replay_runs_ignored i where i.run = x.run))"):
        found.discard("replays")
    if "judgements" in found and not store.scalar(
            "select exists (select 1 from judgements j where not exists (select 1 from replay_runs_ignored i where i.run = j.run))"):
        found.discard("judgements")
    needs_ids = bool(found)
    return pass_sql.render(
        "whatif/daily_totals", tiers=list(range(1, n_tiers + 1)), source=_cube_source(store, filter_sql, needs_ids),
        filter=filter_sql, ids=needs_ids, replays="replays" in found, judgements="judgements" in found,
        use_replays=pass_sql.output_flags(options or ReduceOptions(), found)["use_replays"], **_classes(store, since, until))


def reduce_daily_totals(store, *, since: datetime | None = None, until: datetime | None = None,
                    filter_sql: str | None = None, tiers: dict[str, str] | None = None,
                    options: ReduceOptions | None = None, tz: str = "UTC") -> DailyTotals:
    """The window grouped, then priced per tier: per-day totals per tier (tiers sorted cheapest first);
    the days (the bootstrap's blocks) are calendar days in `tz`, as `reduce` makes them."""
    config = getattr(store, "config", None)
    options = options or ReduceOptions.from_config(config)
    if options.output_tokens == "observed":
        raise ConfigError("output tokens 'observed' (ratios observed per source, feature and customer) need the "
                          "per-request pass (costlab.whatif.reduce, `costlab whatif --output-tokens observed`)")
    since, until = plausible.fill(config, since, until)  # never an implausible timestamp by default
    tier_map = resolve_tiers(store, config, tiers, since, until)
    names, models = list(tier_map), list(tier_map.values())
    T = len(names)
    text = daily_totals_sql(store, filter_sql, T, since, until, options)
    for salt in range(4):
        df = store.frame(text, {**pass_sql.pass_params(names, models, options, since, until, text, tz), "salt": salt})
        # two price-card key combinations with one 64-bit hash (~1e-14 for a thousand): group again
        # with another salt, so a collision never merges requests priced differently
        if not df.height or not int(df["collisions"].max() or 0):
            break
    else:
        raise RuntimeError("whatif/daily_totals.sql: hash collisions with every salt; report this as a bug")
    kept = df.filter(df["status"] == "kept")
    excl = df.filter(df["status"] == "excluded")
    unpriced = int(df.filter(df["status"] == "unpriced")["n"].sum() or 0)
    bits = 1 << np.arange(T)
    nulls = (excl["nullbits"].fill_null(0).to_numpy().astype(np.int64)[:, None] & bits) > 0
    null_on_tier = (nulls * excl["n"].to_numpy()[:, None]).sum(axis=0) if excl.height else np.zeros(T, dtype=np.int64)

    def ints(col: str) -> np.ndarray:
        return kept[col].fill_null(0).to_numpy().astype(np.int64)

    totals = {m: np.array([int(ints(f"{m}_t{k + 1}").sum()) for k in range(T)], dtype=np.int64) for m in MONEY}
    order = np.argsort(totals["cost"], kind="stable") if kept.height else np.arange(T)
    remap = np.empty(T, dtype=np.int64)
    remap[order] = np.arange(T)
    uniq_days, day_code = np.unique(ints("day"), return_inverse=True)
    D = len(uniq_days)

    def per_day(col: str) -> np.ndarray:
        # exact int64 sums per day, then float64, as np.bincount gives them for the per-request arrays
        out = np.zeros(D, dtype=np.int64)
        np.add.at(out, day_code, ints(col))
        return out.astype(np.float64)

    pd = {}
    for m in MONEY:
        grid = np.zeros((D, T))
        for j, k in enumerate(order):
            grid[:, j] = per_day(f"{m}_t{k + 1}")
        pd[m] = grid
    shown = np.zeros(T, dtype=np.int64)
    s = kept["shown"].to_numpy()
    ok = ~np.isnan(s.astype(np.float64)) if kept.height else np.zeros(0, dtype=bool)
    np.add.at(shown, remap[s[ok].astype(np.int64) - 1], ints("n")[ok])
    qmask = ((ints("qbits")[:, None] & bits) > 0)[:, order]
    qsum = np.column_stack([kept[f"quality_t{k + 1}"].fill_null(0.0).to_numpy() for k in order]) if T else np.zeros((0, 0))
    q_own = kept["q_own_sum"].fill_null(0.0).to_numpy()
    q_own_sum = np.zeros(D)
    np.add.at(q_own_sum, day_code, q_own)
    q_own_n = np.zeros(D, dtype=np.int64)
    np.add.at(q_own_n, day_code, ints("q_own_n"))
    return DailyTotals(
        tiers=tuple(names[k] for k in order), models=tuple(models[k] for k in order),
        days=tuple(date(1970, 1, 1) + timedelta(days=int(d)) for d in uniq_days), n=int(ints("n").sum()),
        totals={m: totals[m][order] for m in MONEY}, per_day=pd, actual_total=int(ints("actual_nusd").sum()),
        current_total=int(ints("current_nusd").sum()),
        current_day=per_day("current_nusd"), n_off=int(ints("n_off").sum()),
        off_actual=int(ints("off_actual_nusd").sum()), shown=shown,
        q_own_sum=q_own_sum, q_own_n=q_own_n, q_day=day_code, q_mask=qmask, q_sum=qsum.reshape(-1, T),
        q_n=ints("n"), unpriced=unpriced,
        **{name: np.array([int(ints(f"{col}_t{k + 1}").sum()) for k in order], dtype=np.int64)
           for name, col in (("n_own", "nown"), ("t_own", "town"), ("n_pair", "npair"), ("t_pair", "tpair"))},
        out_tokens=int(ints("out_tokens").sum()),
        unpriced_on_tier={names[k]: int(null_on_tier[k]) for k in range(T) if null_on_tier[k]},
        excluded_actual=int(excl["actual_nusd"].fill_null(0).sum() or 0), options=options, window=(since, until),
        tier_notes=tuple(tier_map.notes),
    )


def tier_quality(daily: DailyTotals) -> np.ndarray | None:
    """Mean quality per tier, as frontier.tier_quality on the per-request arrays: over the requests
    whose quality is known on every tier, else each tier over the requests known on it; None when
    no quality is known. For frontier.proportional(daily, quality=...): one matrix product per grid."""
    if not daily.q_n.size or not daily.q_mask.any():
        return None
    both = daily.q_mask.all(axis=1) & (daily.q_n > 0)
    use = np.broadcast_to(both[:, None], daily.q_mask.shape) if both.any() else daily.q_mask
    sums = np.where(use, daily.q_sum, 0.0).sum(axis=0)
    counts = (use * daily.q_n[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def evaluate_daily_totals(daily: DailyTotals, scenario: Scenario) -> Result:
    """A proportional split or `current` on the daily totals: the Result `evaluate` gives on the
    per-request arrays (point cost exact, per-day costs identical, quality up to summation order)."""
    if scenario.policy != "proportional" or scenario.batch_features:
        raise ConfigError("the daily-totals pass answers proportional splits and --split current; complexity, cascade, "
                          "oracle and --batch need the per-request pass (costlab.whatif.reduce)")
    T, D = len(daily.tiers), len(daily.days)
    notes: list[str] = []
    R = scenario.cache_hit_rate
    if scenario.split.current:
        if R is not None:
            raise ConfigError("the daily-totals pass answers --split current without --cache-hit-rate; use the per-request pass")
        if daily.n_off:
            notes.append(f"{plural(daily.n_off, 'request')} ran on models that stand for no tier; they keep their logged cost")
        # a request's own tier is warm (reduce.sql: cold needs another tier), so no warm-up part
        cost = Fraction(daily.current_total)
        day_cost = daily.current_day.copy()
        tier_share = {t: float(daily.shown[i]) / max(daily.n, 1) for i, t in enumerate(daily.tiers)}
        # every request where it ran: its output as logged (requests on no tier model keep their logged cost)
        coverage = coverage_shares(np.array([daily.n, 0, 0, 0], dtype=np.float64),
                                   np.array([daily.out_tokens, 0, 0, 0], dtype=np.float64))
        cost_same, day_cost_same = cost, day_cost.copy()
        qsum, qn, qw = daily.q_own_sum[:, None], daily.q_own_n[:, None].astype(np.float64), np.ones(1)
        n_known = int(daily.q_own_n.sum())
        cost_nw = cost
    else:
        w = scenario.split.vector(daily.tiers)
        wf = np.array([float(x) for x in w])
        parts = [("cost", Fraction(1))]
        if scenario.warmup:
            parts.append(("warmup", Fraction(1)))
        if R is not None:
            parts += [("cache_read_delta", R), ("cache_write_delta", 1 - R)]
        cost = Fraction(0)
        day_cost = np.zeros(D)
        for name, k in parts:  # the same sums, in the same order, as evaluate
            tot, per_day = daily.day_totals(name)
            cost += sum((wi * int(tot[t]) for t, wi in enumerate(w)), Fraction(0)) * k
            day_cost += float(k) * (per_day @ wf)
        tier_share = {t: float(x) for t, x in zip(daily.tiers, w)}
        adj_tot, adj_day = daily.day_totals("out_adjust")
        cost_same = cost - sum((wi * int(adj_tot[t]) for t, wi in enumerate(w)), Fraction(0))
        day_cost_same = day_cost - adj_day @ wf
        # expected answers per output-token rule (OUT_SOURCES order: own, replay, observed, same)
        answers, tokens = np.zeros(len(OUT_SOURCES)), np.zeros(len(OUT_SOURCES))
        for t in range(T):
            if wf[t]:
                answers += wf[t] * np.array([daily.n_own[t], daily.n_pair[t], 0,
                                             daily.n - daily.n_own[t] - daily.n_pair[t]], dtype=np.float64)
                tokens += wf[t] * np.array([daily.t_own[t], daily.t_pair[t], 0,
                                            daily.out_tokens - daily.t_own[t] - daily.t_pair[t]], dtype=np.float64)
        coverage = coverage_shares(answers, tokens)
        used = [i for i, x in enumerate(w) if x > 0]
        all_known = daily.q_mask[:, used].all(axis=1) & (daily.q_n > 0)
        any_all = bool(all_known.any())
        qsum = np.zeros((D, T))
        qn = np.zeros((D, T))
        for t in used:
            mk = all_known if any_all else daily.q_mask[:, t]
            qsum[:, t] = np.bincount(daily.q_day[mk], weights=daily.q_sum[mk, t], minlength=D)
            qn[:, t] = np.bincount(daily.q_day[mk], weights=daily.q_n[mk], minlength=D)
        qw = wf
        n_known = int(daily.q_n[all_known if any_all else daily.q_mask[:, used].any(axis=1)].sum())
        cost_nw = cost - (sum((wi * int(daily.totals["warmup"][t]) for t, wi in enumerate(w)), Fraction(0))
                          if scenario.warmup else 0)
    quality, day_qsum, day_qn = quality_parts(qsum, qn, qw, n_known, daily.n, notes)
    if daily.unpriced:
        notes.append(f"{plural(daily.unpriced, 'request')} {'has' if daily.unpriced == 1 else 'have'} no price in force: not simulated, cost unknown (not $0)")
    for t, k in daily.unpriced_on_tier.items():
        notes.append(f"{plural(k, 'request')} cannot be priced on {t}: left out of every scenario")
    return Result(scenario.label, cost, cost_nw, quality, n_known, tier_share, coverage, notes,
                  day_cost, day_qsum, day_qn, q_weights=qw, cost_same=cost_same, day_cost_same=day_cost_same,
                  output_mode=daily.options.output_tokens, n=daily.n, actual=daily.actual_total, n_window=daily.n,
                  actual_window=daily.actual_total)

