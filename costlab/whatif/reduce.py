"""The one pass: a window of logs reduced to per-request arrays (cost on every tier, quality, features).

Everything else in costlab.whatif works on a `Reduction`; no scenario reads the store again.
The SQL is queries/whatif/reduce.sql, rendered for the store by costlab.whatif.pass_sql.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costlab import plausible, pricing
from costlab.config import Config
from costlab.errors import ConfigError, QueryError
from costlab.store.sqlquote import expression, ident
from costlab.whatif import pass_sql
from costlab.whatif.arrays import MICRO, ReduceOptions, Reduction, weigh


class Tiers(dict):
    """tier -> model, and `notes`: how each tier's model was chosen where costlab chose it (said
    beside every figure that uses the tiers: `Reduction.tier_notes`, `DailyTotals.tier_notes`)."""

    def __init__(self, mapping: dict[str, str], notes: list[str] | None = None):
        super().__init__(mapping)
        self.notes = list(notes or [])


def resolve_tiers(store, config: Config | None, tiers: dict[str, str] | None = None,
                  since: datetime | None = None, until: datetime | None = None) -> Tiers:
    """tier -> model, the one resolution what-if, its daily totals and the report share.

    The argument (`--tiers`), else costlab.toml [tiers], names a tier's model. Every other tier line
    with priced traffic in the window [since, until) stands for the model of that line with the most
    requests in the window (ties: the newest, then the id), so logged traffic on older models is the
    tier's own traffic and is not moved to a model it never ran on; a note says so. Only with no
    traffic in the window does a tier line the logs have elsewhere (with nothing named) stand for its
    newest active model, as before."""
    chosen = dict(tiers or (config.tiers if config is not None else {}) or {})
    window = {"since": since or datetime(1970, 1, 1), "until": until or datetime(9999, 12, 31)}
    rows = store.rows(
        """
        with traffic as (
            select r.model, count(*) as n from requests r
            where r.ts >= $since::TIMESTAMPTZ and r.ts < $until::TIMESTAMPTZ group by r.model
        )
        select m.tier, arg_max(m.model, (t.n, m.released, m.model)) as model,
               max(t.n) as top, sum(t.n) as line, count(*) as models
        from traffic t join models m on m.model = t.model
        where m.tier is not null and m.model in (select model from price_card)
        group by m.tier order by m.tier
        """,
        window,
    )
    notes = []
    for tier, model, top, line, n_models in rows:
        if tier in chosen:
            continue
        chosen[tier] = model
        others = (f"; the other {line - top:,} {tier} requests ran on {n_models - 1} other {tier} model(s): "
                  "under --split current they keep their logged cost, other splits price them on the tier "
                  "models like any request" if n_models > 1 else "")
        notes.append(f"tier {tier} stands for {model}, the {tier} model with the most traffic in the window "
                     f"({top:,} of {line:,} {tier} requests); [tiers] names no {tier} model{others}")
    if not (tiers or (config.tiers if config is not None else {})):
        # nothing named: tier lines the logs have outside the window too, on their newest active model
        rows = store.rows(
            """
            select m.tier, arg_max(m.model, m.released)
            from models m
            where m.tier in (select distinct mm.tier from (select distinct model from requests) r
                             join models mm on mm.model = r.model)
              and coalesce(m.lifecycle, 'active') = 'active'
            group by m.tier order by m.tier
            """
        )
        for t, m in rows:
            if t and t not in chosen:
                chosen[t] = m
                notes.append(f"tier {t} stands for {m}, the newest active {t} model: no priced {t} traffic in "
                             f"the window and [tiers] names none")
    if not chosen:
        raise ConfigError("no tiers: set [tiers] in costlab.toml (tier = \"model id\"), or ingest some logs first")
    known = {m for (m,) in store.rows("select distinct model from price_card")}
    missing = [f"{t} = {m!r}" for t, m in chosen.items() if m not in known]
    if missing:
        raise ConfigError(f"no price for the tier model(s) {', '.join(missing)}: fix [tiers] in costlab.toml "
                          "or add a [[prices]] row")
    return Tiers(chosen, notes)


BATCH_ROWS = 262_144  # rows per Arrow record batch read from DuckDB: ~60 MB of columns in flight

# the columns of costed_requests the pass reads; `needs_ids` ones only when replays, judgements or payloads are joined
SOURCE_COLUMNS = ("ts", "model", "tier", "feature", "platform", "speed", "service_tier", "input_tokens", "output_tokens",
                  "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "web_search_requests",
                  "status", "priced", "feedback_score", "cost_usd", "prompt_tokens", "inference_geo", "sample_weight")
ID_COLUMNS = ("source", "request_id")
PER_REQUEST_ONLY = ("stop_reason",)  # complexity features: the daily-totals pass does without them
CELL_COLUMNS = ("customer_id", "user_id")  # the observed-ratio cells (--output-tokens observed) only


def reduce_sql(store, filter_sql: str | None = None, n_tiers: int = 1, source: str = "costed_requests",
               payloads: bool = True, options: ReduceOptions | None = None, route_features: bool = False,
               route_texts: bool = False) -> str:
    """queries/whatif/reduce.sql rendered for this store (costlab.whatif.pass_sql): one tier block per
    tier, --filter, the replays, judgements and payloads it has, --output-tokens (`options`), and the
    relation read in place of costed_requests (`source`); with `route_features` and stored payloads, the
    learned policy's request features (queries/whatif/evidence/request_features.sql)."""
    found = pass_sql.evidence(store, payloads=payloads)
    if filter_sql:
        filter_sql = expression(filter_sql, "--filter (one SQL condition over costed_requests columns, cr.*)")
    return pass_sql.render(
        "whatif/reduce", tiers=list(range(1, n_tiers + 1)), source=source, filter=filter_sql,
        ids=bool(found), replays="replays" in found, judgements="judgements" in found, payloads="payloads" in found,
        route=(route_features or route_texts) and "payloads" in found, route_texts=route_texts,
        **pass_sql.output_flags(options or ReduceOptions(), found))


def source_relation(store, needs_ids: bool, per_request: bool, cells: bool = False) -> str:
    """What the pass reads in place of costed_requests. The name as written (a caller's temporary
    table that shadows the view, e.g. the report's window priced once) when it has every column the
    pass needs; missing columns the pass can do without are filled with NULL; otherwise the view
    itself, by its qualified name."""
    cols = {c for (c,) in store.rows(
        "select column_name from duckdb_columns() where table_name = 'costed_requests' and database_name = 'temp'")}
    if not cols:
        return "costed_requests"
    optional = set(PER_REQUEST_ONLY if not per_request else ()) | set(ID_COLUMNS if not needs_ids else ())
    missing = [c for c in (*SOURCE_COLUMNS, *ID_COLUMNS, *PER_REQUEST_ONLY, *(CELL_COLUMNS if cells else ())) if c not in cols]
    if not missing:
        return "costed_requests"
    if set(missing) <= optional:
        return "(select *, " + ", ".join(f"null::VARCHAR as {c}" for c in missing) + " from costed_requests)"
    return f"{ident(store.scalar('select current_database()'))}.main.costed_requests"


def reduce(store, *, since: datetime | None = None, until: datetime | None = None, filter_sql: str | None = None,
           tiers: dict[str, str] | None = None, options: ReduceOptions | None = None,
           on_progress: Callable[[float], None] | None = None, tz: str = "UTC", route_features: bool = False,
           route_texts: bool = False) -> Reduction:
    """Read the window once and return its per-request arrays (tiers sorted cheapest first); their
    days (`day`, `days`: the bootstrap's day blocks, backtest's periods) are calendar days in `tz`.
    `on_progress(fraction)`: how far the pass is, 0 to 1, as it runs (DuckDB's progress of its one
    statement, from another thread, and the rows received so far: a bar keeps the highest).
    `route_features`: also read the learned policy's features from stored request bodies (turns,
    images, tools, structured output, system-prompt hash, prompt text: Reduction.user_turns ... texts);
    only a learned policy or `route fit` asks (they cost the pass a JSON parse per stored body).
    `route_texts` (implies route_features): also the prompt texts (Reduction.texts), the largest
    columns by far: only for a fit or a policy with words or embeddings (learned.needs_texts).
    Without stored payloads they stay None, as when not asked.

    DuckDB streams one wide row per request (Arrow record batches); each batch's columns are kept as
    narrow numpy chunks and the batch dropped, so the peak is about the arrays themselves."""
    config = getattr(store, "config", None)
    options = options or ReduceOptions.from_config(config)
    since, until = plausible.fill(config, since, until)  # never an implausible timestamp by default
    tier_map = resolve_tiers(store, config, tiers, since, until)
    names, models = list(tier_map), list(tier_map.values())
    needs_ids = True  # replays, judgements and payloads join on them, and they order ties in ts
    with pricing.stored_prices(store, since, until):
        source = source_relation(store, needs_ids, per_request=True, cells=options.output_tokens == "observed")
        text = reduce_sql(store, filter_sql, len(names), source=source, options=options, route_features=route_features,
                          route_texts=route_texts)
        red = _read(store, text, names, models, options, since, until, on_progress, tz)
    red.tier_notes = tuple(tier_map.notes)
    return red


def _read(store, text: str, names: list[str], models: list[str], options: ReduceOptions,
          since: datetime | None, until: datetime | None, on_progress: Callable[[float], None] | None = None,
          tz: str = "UTC") -> Reduction:
    params = pass_sql.pass_params(names, models, options, since, until, text, tz)
    try:
        # the window's request count first (cheap: no tier is priced) so the columns are allocated once
        count_sql = text[: text.index("-- One scan for the per-feature")].rstrip().rstrip(",") + "\nselect count(*) from base"
        n = store.scalar(count_sql, {k: v for k, v in params.items() if f"${k}" in count_sql})
        # rendered with `route` / `route_texts`
        cols = _Columns(names, n, route="join request_features rf" in text, texts="prompt_text::VARCHAR as prompt_text" in text)
        received = 0
        # DuckDB's progress of the pass while it works before the first rows, then the rows received (of n)
        with store.progress(on_progress):
            for batch in store.arrow_batches(text, params, BATCH_ROWS):
                cols.add(batch)
                received += batch.num_rows
                del batch
                if on_progress is not None and n:
                    on_progress(min(received / n, 1.0))
    except QueryError as ex:
        raise QueryError(f"whatif/reduce.sql failed: {ex}") from ex
    pa.default_memory_pool().release_unused()  # the last batches' buffers, back to the system
    return cols.finish(models, options, (since, until)).precompute()


class _Columns:
    """The pass's columns in arrival order (DuckDB may deliver batches in any order), preallocated for
    the window's request count: each batch is copied into its slice and dropped, so Arrow's pool holds
    about one batch and nothing is concatenated."""

    PER_TIER = (("cost", np.int64, -1), ("warmup", np.int64, 0), ("batch", np.int64, 0), ("crd", np.int64, 0),
                ("cwd", np.int64, 0), ("out_src", np.int8, 0), ("quality", np.float64, np.nan),
                ("q_src", np.int8, 0), ("good", np.float64, np.nan))
    PER_REQUEST = (("ts_us", np.int64, 0), ("h", np.uint64, 0), ("day", np.int32, 0), ("actual_nusd", np.int64, 0),
                   ("prompt_tokens", np.int64, 0), ("web_search", np.int32, 0), ("tool_use", np.bool_, False),
                   ("batch", np.bool_, False), ("documents", np.int32, 0), ("conditional", np.bool_, False),
                   ("multistep", np.bool_, False), ("output_tokens", np.int64, 0), ("w_micro", np.int64, 1_000_000))
    # per tier, allocated at the first non-zero value (zero everywhere unless output tokens moved)
    SPARSE = ("oadj", "boadj")
    OTHER = (("keep", np.bool_), ("unpriced", np.bool_), ("own", np.int16), ("current", np.int16), ("feature", np.int32))

    ROUTE = (("user_turns", np.int32, 0), ("images", np.int32, 0), ("tools_offered", np.bool_, False),
             ("structured", np.bool_, False), ("cue_conditional", np.bool_, False), ("cue_multistep", np.bool_, False))

    def __init__(self, names: list[str], capacity: int, route: bool = False, texts: bool = False):
        self.names = names
        self.route = route
        self.texts = route and texts
        self.T = len(names)
        self.cap = max(int(capacity), 1)
        self.pos = 0
        self.cols: dict[Any, np.ndarray] = {}
        for c, dtype, _ in self.PER_REQUEST:
            self.cols[c] = np.empty(self.cap, dtype=dtype)
        for c, dtype, _ in self.PER_TIER:
            for k in range(self.T):
                self.cols[(c, k)] = np.empty(self.cap, dtype=dtype)
        for c, dtype in self.OTHER:
            self.cols[c] = np.empty(self.cap, dtype=dtype)
        self.systems: dict[str, int] = {}  # system-prompt hash -> code ('' no system prompt)
        if route:
            for c, dtype, _ in self.ROUTE:
                self.cols[c] = np.empty(self.cap, dtype=dtype)
            self.cols["system"] = np.empty(self.cap, dtype=np.int32)
        if self.texts:
            self.cols["prompt_text"] = np.empty(self.cap, dtype=object)
        self.fnames: dict[str, int] = {}  # feature -> code, in order of first appearance
        self.null_on_tier = np.zeros(self.T, dtype=np.int64)
        self.excluded_actual = 0
        self.tier_lookup = {t: i for i, t in enumerate(names)}

    @staticmethod
    def _np(col, dtype, fill) -> np.ndarray:
        if col.null_count:
            col = pc.fill_null(col, fill) if not (isinstance(fill, float) and np.isnan(fill)) else col
        if pa.types.is_boolean(col.type) and np.dtype(dtype) == np.float64:  # good: 1, 0, NaN
            out = np.full(len(col), np.nan)
            valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
            out[valid] = col.filter(pc.is_valid(col)).to_numpy(zero_copy_only=False)
            return out
        return np.asarray(col.to_numpy(zero_copy_only=False))

    @staticmethod
    def _codes(col, table: dict[str, int], fill: str) -> np.ndarray:
        """Dictionary codes of a string column (one lookup per distinct value, never per row)."""
        enc = pc.dictionary_encode(pc.fill_null(col, fill))
        local = np.array([table.setdefault(v, len(table)) for v in enc.dictionary.to_pylist()], dtype=np.int32)
        return local[enc.indices.to_numpy(zero_copy_only=False)] if len(local) else np.zeros(len(col), dtype=np.int32)

    def _grow(self, need: int) -> None:
        # only when the window gained rows between the count and the stream
        self.cap = max(2 * self.cap, need)
        for key, a in self.cols.items():
            b = np.empty(self.cap, dtype=a.dtype)
            b[: self.pos] = a[: self.pos]
            self.cols[key] = b

    def add(self, b) -> None:
        m = b.num_rows
        if self.pos + m > self.cap:
            self._grow(self.pos + m)
        s, e = self.pos, self.pos + m
        out = self.cols
        col = b.column
        priced = self._np(col("priced"), np.bool_, False)
        for c, dtype, fill in self.PER_REQUEST:
            out[c][s:e] = self._np(col(c), dtype, fill)
        null_cost = np.zeros(m, dtype=bool)
        own = out["own"][s:e]
        own[:] = -1
        for k in reversed(range(self.T)):  # the first tier in config order whose model it ran on
            own[self._np(col(f"own_t{k + 1}"), np.bool_, False)] = k
            nk = col(f"cost_t{k + 1}").is_null().to_numpy(zero_copy_only=False) & priced
            self.null_on_tier[k] += int(nk.sum())
            null_cost |= nk
            for c, dtype, fill in self.PER_TIER:
                out[(c, k)][s:e] = self._np(col(f"{c}_t{k + 1}"), dtype, fill)
        for c in self.SPARSE:
            for k in range(self.T):
                v = self._np(col(f"{c}_t{k + 1}"), np.int64, 0)
                if (c, k) not in out and v.any():
                    for j in range(self.T):  # zero pages until written
                        out[(c, j)] = np.zeros(self.cap, dtype=np.int64)
                if (c, k) in out:
                    out[(c, k)][s:e] = v
        out["keep"][s:e] = priced & ~null_cost
        out["unpriced"][s:e] = ~priced
        dropped = priced & null_cost
        self.excluded_actual += int(weigh(out["actual_nusd"][s:e][dropped], out["w_micro"][s:e][dropped]).sum())
        out["feature"][s:e] = self._codes(col("feature"), self.fnames, "(none)")
        if self.route:
            for c, dtype, fill in self.ROUTE:
                out[c][s:e] = self._np(col(c), dtype, fill)
            out["system"][s:e] = self._codes(col("system_hash"), self.systems, "")
        if self.texts:
            out["prompt_text"][s:e] = col("prompt_text").to_numpy(zero_copy_only=False)
        tiers_seen: dict[str, int] = {}
        codes = self._codes(col("cur_tier"), tiers_seen, "")
        tmap = np.array([self.tier_lookup.get(t, -1) for t in tiers_seen], dtype=np.int16)
        out["current"][s:e] = tmap[codes] if len(tmap) else -1
        self.pos = e

    def finish(self, models: list[str], options: ReduceOptions, window) -> "Reduction":
        T, names, n_all = self.T, self.names, self.pos
        cols = self.cols
        keep = cols.pop("keep")[:n_all]
        unpriced = int(cols.pop("unpriced")[:n_all].sum())
        # request order: (ts, hash(source, request_id)), as the arrays always were; kept requests only
        order = np.lexsort((cols.pop("h")[:n_all], cols.pop("ts_us")[:n_all]))
        idx = order[keep[order]]
        del order
        # tiers cheapest first by the kept requests' total cost (cascade and complexity need an order)
        wk = cols["w_micro"][:n_all][keep]  # weighted, as the daily-totals pass orders them
        totals = np.array([int(weigh(cols[("cost", k)][:n_all][keep], wk).sum()) for k in range(T)], dtype=np.int64)
        del wk
        order_t = np.argsort(totals, kind="stable") if idx.size else np.arange(T)
        remap = np.empty(T, dtype=np.int16)
        remap[order_t] = np.arange(T)
        del keep

        def take(key) -> np.ndarray:
            return cols.pop(key)[:n_all][idx]  # the arrival-order column is freed as soon as it is taken

        grids = {}
        for c, dtype, _ in self.PER_TIER:
            g = np.empty((idx.size, T), dtype=dtype)
            for j, k in enumerate(order_t):
                g[:, j] = take((c, k))
            grids[c] = g
        for c in self.SPARSE:
            if (c, 0) in cols:
                g = np.empty((idx.size, T), dtype=np.int64)
                for j, k in enumerate(order_t):
                    g[:, j] = take((c, k))
                grids[c] = g
            else:
                grids[c] = None
        own = take("own")
        cur = take("current")
        own = np.where(own >= 0, remap[np.maximum(own, 0)], -1).astype(np.int16)
        cur = np.where(cur >= 0, remap[np.maximum(cur, 0)], -1).astype(np.int16)
        day_n = take("day")
        uniq_days, day_code = np.unique(day_n, return_inverse=True)
        del day_n
        days = tuple(date(1970, 1, 1) + timedelta(days=int(d)) for d in uniq_days)
        # features in sorted order (features that only unpriced or dropped requests had stay, counted 0)
        fnames = sorted(self.fnames)
        pos = {f: i for i, f in enumerate(fnames)}
        rank = np.array([pos[name] for name in self.fnames], dtype=np.int32)  # dict order = code order
        feature = rank[take("feature")] if len(rank) else np.zeros(idx.size, dtype=np.int32)
        per_req = {new: take(c) for new, c in (
            ("actual", "actual_nusd"), ("prompt_tokens", "prompt_tokens"), ("web_search", "web_search"),
            ("tool_use", "tool_use"), ("batch_now", "batch"), ("documents", "documents"),
            ("conditional", "conditional"), ("multistep", "multistep"), ("output_tokens", "output_tokens"))}
        if self.route:
            # system prompts: codes into the sorted hashes, -1 none
            hashes = sorted(h for h in self.systems if h)
            hpos = {h: i for i, h in enumerate(hashes)}
            srank = np.array([hpos.get(h, -1) for h in self.systems], dtype=np.int32)
            scode = take("system")
            per_req.update({c: take(c) for c, _, _ in self.ROUTE})
            per_req.update(system=srank[scode] if len(srank) else np.full(idx.size, -1, dtype=np.int32),
                           systems=tuple(hashes), texts=take("prompt_text") if self.texts else None)
        w_micro = take("w_micro")
        weight = None
        if (w_micro != MICRO).any():
            # a sampled log: every money array becomes the cost of the requests each row stands for
            # (exact for whole weights; a fractional weight rounds half up per request, arrays.weigh)
            for c in ("cost", "warmup", "batch", "crd", "cwd", "oadj", "boadj"):
                if grids[c] is not None:
                    grids[c] = weigh(grids[c], w_micro)
            per_req["actual"] = weigh(per_req["actual"], w_micro)
            weight = w_micro / MICRO
        return Reduction(
            tiers=tuple(names[k] for k in order_t), models=tuple(models[k] for k in order_t),
            cost=grids["cost"], warmup=grids["warmup"], batch=grids["batch"], cache_read_delta=grids["crd"],
            cache_write_delta=grids["cwd"], out_src=grids["out_src"], quality=grids["quality"], q_src=grids["q_src"],
            good=grids["good"], out_adjust=grids["oadj"], batch_out_adjust=grids["boadj"], own=own, current=cur, day=day_code.astype(np.int32), days=days, feature=feature,
            features=tuple(fnames), **per_req, unpriced=unpriced,
            unpriced_on_tier={names[k]: int(self.null_on_tier[k]) for k in range(T) if self.null_on_tier[k]},
            excluded_actual=self.excluded_actual, options=options, window=window, weight=weight,
        )
