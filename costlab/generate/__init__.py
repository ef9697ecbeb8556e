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
  while the total matches the mix asked for. No request is on a model before its release (its first
  price in the catalogue): a window that starts earlier sends the tier's traffic to the model of that
  tier current then (Haiku 4.5 before 2026-10-07; world.model_lineage). Retries and escalations
  come on top (a few % of rows, mostly Sonnet), which is what a production mix looks like.
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

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import polars as pl

from costlab.store import Store
from costlab.store.sqlquote import literal
from costlab.generate.sql import (  # noqa: F401
    _canonical_select,
    _sql_for,
)
from costlab.generate.world import (  # noqa: F401
    FEATURES,
    FORMATS,
    ALL_PATTERNS,
    PATTERNS,
    Spec,
    TIERS,
    TRAFFIC_PATTERNS,
    US_RESIDENCY,
    calibrate_mix,
    make_spec,
)

# -- public API -----------------------------------------------------------------------------------

# What a file name's extension (after any .gz) says it holds: the formats that fit it, the first the
# one a bare name means. A name with no known extension takes any format (anthropic by default).
FORMATS_BY_EXTENSION = {
    "parquet": ("canonical-parquet",),
    "csv": ("canonical-csv",),
    "jsonl": ("anthropic", "batch", "canonical-jsonl"),
    "ndjson": ("anthropic", "batch", "canonical-jsonl"),
    "json": ("anthropic", "batch", "canonical-jsonl"),
}
_EXTENSION = {"canonical-parquet": "parquet", "canonical-csv": "csv", "canonical-jsonl": "jsonl",
              "anthropic": "jsonl", "batch": "jsonl"}


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The format to write `path` in: `fmt`, checked against the file's extension, or (None) the
    format its extension names (anthropic for .jsonl or an unknown extension).

    Raises:
        ValueError: an unknown format, or one the extension contradicts (Parquet bytes in a .csv,
            a gzipped Parquet file).
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    extension = Path(name[:-3] if gz else name).suffix.lstrip(".")
    fitting = FORMATS_BY_EXTENSION.get(extension)
    if fitting is None:
        return fmt or "anthropic"
    chosen = fmt or fitting[0]
    if chosen not in fitting:
        raise ValueError(f"{Path(path).name}: a .{extension} file cannot hold {chosen} "
                         f"({', '.join(fitting)} can); name the file for the format "
                         f"(e.g. .{_EXTENSION[chosen]}) or leave out --format to write {fitting[0]}")
    if gz and chosen == "canonical-parquet":
        raise ValueError(f"{Path(path).name}: Parquet is compressed inside (zstd), not gzipped: name it .parquet")
    return chosen


def generate_sql(n: int, seed: int = 0, start: str | date = "2026-11-02", days: int = 14,
                 mix: Sequence[float] | dict[str, float] | None = None, order: bool = False,
                 part: tuple[int, int] | None = None, **options: Any) -> str:
    """A self-contained DuckDB SELECT of `n` generated requests in the canonical schema.

    The columns are costlab.schema.REQUEST_COLUMNS, in order, so `insert into requests by name <this>` works
    on a store. Needs no macros or tables: run it on any DuckDB connection (TimeZone does not matter).

    Args:
        n: rows. seed: the random seed (same seed and n, same rows).
        start, days: the window ('YYYY-MM-DD', UTC midnight). mix: haiku/sonnet/opus share of first
        attempts, as a tuple or a dict. order: sort by ts (costs a sort; files are always sorted).
        part: (i, parts): only the i-th of `parts` equal runs of the rows (whole pairs: a request and
            its retry stay together); the parts together are exactly the rows of part=None.
        options: other Spec fields (users, customers, models, features, source).
    """
    spec = make_spec(n, seed, start, days, mix, **options)
    if part is not None and not (0 <= part[0] < part[1]):
        raise ValueError(f"part must be (i, parts) with 0 <= i < parts, got {part!r}")
    return _canonical_select(spec, order=order, part=part)


# Rows per INSERT when generating into a store: the memory of one statement grows with its rows
# (DuckDB keeps a table insert's rows in order), so a large store is made in parts of this size.
PART_ROWS = 2_000_000


def generate_into(store: Store, n: int, seed: int = 0, start: str | date = "2026-11-02", days: int = 14,
                  part_rows: int = PART_ROWS, transform: Callable[[str], str] | None = None,
                  on_part: Callable[[int, int], None] | None = None, **options: Any) -> int:
    """Append `n` generated requests to an open, migrated store's `requests`, priced as ingest
    prices them (current price card and price_version), in parts of about `part_rows` rows, one
    statement each: memory stays that of one part whatever `n` is. The rows are exactly those of
    generate_sql(n, seed, start, days, ...). Returns the rows appended.

    transform: SQL text -> SQL text over the generated SELECT (e.g. to blank a column), or None.
    on_part: called with (parts done, parts) after each part.
    """
    parts = max(1, -(-n // max(1, part_rows)))
    order_kept = store.scalar("select current_setting('preserve_insertion_order')")
    store.execute("set preserve_insertion_order = false")  # a table's rows need no order: far less memory
    try:
        for i in range(parts):
            rows = generate_sql(n, seed, start, days, part=(i, parts), **options)
            if transform is not None:
                rows = transform(rows)
            store.execute(f"create or replace temp view _costlab_generated as {rows}")
            # priced and keyed as ingest appends (costlab_store_rows, queries/internal/price_rows.sql)
            store.execute("insert into requests by name from costlab_store_rows('_costlab_generated')")
            if on_part is not None:
                on_part(i + 1, parts)
    finally:
        store.execute("drop view if exists temp._costlab_generated")
        store.execute(f"set preserve_insertion_order = {'true' if order_kept else 'false'}")
    return n


def generate_frame(n: int, seed: int = 0, **kwargs: Any) -> "pl.DataFrame":
    """The same rows as generate_sql, sorted by ts, as a polars frame (for tests and notebooks)."""

    with Store(":memory:") as store:  # UTC, no progress bar on stdout, the memory limit
        return store.frame(generate_sql(n, seed, order=True, **kwargs))


def generate(path: str | Path, n: int, seed: int = 0, fmt: str | None = None, start: str | date = "2026-11-02",
             days: int = 14, payloads: bool = True, mix: Sequence[float] | dict[str, float] | None = None,
             threads: int | None = None, on_progress: Callable[[float], None] | None = None, **options: Any) -> int:
    """Write `n` generated requests to `path` and return the number of rows written.

    Args:
        path: the file; a `.gz` suffix gzips the JSON and CSV formats.
        fmt: "anthropic" (envelope JSONL, as docs/formats.md), "canonical-csv", "canonical-jsonl",
            "canonical-parquet", or "batch" (Message Batches results JSONL: every row a batch result);
            None: what the extension says (format_for: .parquet, .csv, else anthropic). A format the
            extension contradicts is refused.
        payloads: include request messages, system prompt and response text (envelope and batch).
        threads: DuckDB threads (default: all cores). The output does not depend on it.
        on_progress: called with the fraction written so far (0 to 1, DuckDB's progress of the one
            COPY statement, from another thread) while the file is written.
        seed, start, days, mix, options: as for generate_sql.

    Raises:
        ValueError: an unknown format, one the file name contradicts, or a bad argument.
    """
    fmt = format_for(path, fmt)
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
    target = literal(path.absolute())  # absolute: DuckDB would read a leading ~ as the home folder

    with Store(":memory:") as store:  # UTC, no progress bar on stdout, COSTLAB_MEMORY_LIMIT or what fits under ulimit -v
        if threads:
            store.execute(f"set threads = {int(threads)}")
        with store.progress(on_progress):
            result = store.rows(f"COPY ({_sql_for(spec, fmt)}) TO {target} ({options_sql})")
    return int(result[0][0]) if result and result[0] and result[0][0] is not None else n
