"""Logged traffic around a model switch, for `costlab compare`'s tests and its false-positive benchmark.

Two weeks, each generated on its own with the same spec (costlab.generate, different seeds): two
draws of the same stationary traffic (each week has its own overload incident, as the generator's
weeks do), written as canonical Parquet for the normal ingest path. The second week can carry a
change: its token counts scaled (cost), a share of its answers turned into errors, a metadata flag.

    paths = switch_weeks(tmp_path, 50_000, seed=1, cost_factor=0.9)   # cost -10% from 2026-11-09
    ingest_paths(store, [str(p) for p in paths])
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from costlab.generate import generate_frame

FIRST_WEEK = "2026-11-02"
SECOND_WEEK = "2026-11-09"  # a Monday: `--switch-day 2026-11-09` splits the two weeks
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


def changed(frame: pl.DataFrame, cost_factor: float = 1.0, extra_error_share: float = 0.0,
            rows: pl.Expr | None = None) -> pl.DataFrame:
    """`frame` with its token counts times `cost_factor` and one row in 1/extra_error_share turned
    from an answer into an api_error (no tokens, no answer), among the rows `rows` selects (all)."""
    pick = pl.lit(True) if rows is None else rows
    out = frame.with_row_index("_i")
    if cost_factor != 1.0:
        out = out.with_columns([pl.when(pick).then((pl.col(c) * cost_factor).round().cast(pl.Int64))
                                .otherwise(pl.col(c)).alias(c) for c in TOKENS])
    if extra_error_share:
        step = max(1, round(1 / extra_error_share))
        hit = pick & (pl.col("status") == "ok") & (pl.col("_i") % step == 0)
        out = out.with_columns(
            [pl.when(hit).then(pl.lit("error")).otherwise(pl.col("status")).alias("status"),
             pl.when(hit).then(pl.lit("api_error")).otherwise(pl.col("error_type")).alias("error_type"),
             pl.when(hit).then(pl.lit(500, pl.Int16)).otherwise(pl.col("http_status")).alias("http_status"),
             pl.when(hit).then(pl.lit(None, pl.String)).otherwise(pl.col("stop_reason")).alias("stop_reason"),
             pl.when(hit).then(pl.lit(None, pl.Float64)).otherwise(pl.col("ttft_ms")).alias("ttft_ms"),
             pl.when(hit).then(pl.lit(None, pl.Float64)).otherwise(pl.col("feedback_score")).alias("feedback_score")]
            + [pl.when(hit).then(pl.lit(0, pl.Int64)).otherwise(pl.col(c)).alias(c) for c in TOKENS])
    return out.drop("_i")


def switch_weeks(folder: Path, per_week: int, seed: int = 0, cost_factor: float = 1.0,
                 extra_error_share: float = 0.0) -> list[Path]:
    """Two generated weeks (2026-11-02 and 2026-11-09) of `per_week` requests each, the second changed."""
    folder.mkdir(parents=True, exist_ok=True)
    first = generate_frame(per_week, seed=2 * seed, start=FIRST_WEEK, days=7)
    second = changed(generate_frame(per_week, seed=2 * seed + 1, start=SECOND_WEEK, days=7), cost_factor,
                     extra_error_share)
    paths = [folder / f"week1_{seed}.parquet", folder / f"week2_{seed}.parquet"]
    first.write_parquet(paths[0])
    second.write_parquet(paths[1])
    return paths


def flagged_week(folder: Path, n: int, seed: int = 0, key: str = "new_model", share: float = 0.5,
                 cost_factor: float = 1.0, extra_error_share: float = 0.0) -> Path:
    """One generated week whose requests carry metadata `key`: true on about `share` of them (by a
    hash of the request id), changed as asked there; false on the others."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = generate_frame(n, seed=seed, start=SECOND_WEEK, days=7)
    on = (pl.col("request_id").hash(seed=7) % 1000) < int(share * 1000)
    frame = changed(frame, cost_factor, extra_error_share, rows=on)
    value = pl.when(on).then(pl.lit("true")).otherwise(pl.lit("false"))
    key_json = pl.lit(json.dumps(key))
    frame = frame.with_columns(
        pl.concat_str([pl.col("attributes").str.strip_suffix("}"), pl.lit(","), key_json, pl.lit(":"), value,
                       pl.lit("}")]).alias("attributes"))
    path = folder / f"flagged_{seed}.parquet"
    frame.write_parquet(path)
    return path
