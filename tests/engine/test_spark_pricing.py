"""Pricing on Spark (issue 15): the portable pricing query (queries/lake/price_requests.sql) on Spark
local[2] gives DuckDB's price_rows.sql prices to the nano-dollar on rows with every pricing feature; a
day another process appended to a lake, priced on Spark (`costlab export LAKE --price --engine spark`),
is the file DuckDB's pricing writes; a price change re-prices on Spark only the days whose costs changed.
The run's one SparkSession (conftest.py)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import polars as pl
import pytest

from costlab import pricing
from costlab.config import Config
from costlab.engine import spark as sparks
from costlab.engine.lakeprice import price_lake
from costlab.engine.portable import to_spark
from costlab.lake import MANIFEST, day_file, export_lake, verify
from costlab.open import open_store
from costlab.schema import COLUMN_NAMES
from costlab.store import queries
from costlab.store.sqlquote import ident, literal

from pricingrows import config, feature_rows

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
UTC = timezone.utc
CANONICAL = ", ".join(ident(c) for c in COLUMN_NAMES)


def test_the_portable_pricing_query_on_spark_gives_price_rows_prices_to_the_nano_dollar(spark, tmp_path):
    canonical = ", ".join("attributes::VARCHAR as attributes" if c == "attributes" else ident(c) for c in COLUMN_NAMES)
    with open_store(tmp_path / "s.duckdb", config()) as store:
        feature_rows(store)
        store.execute(f"create temp view requests_to_price as select {canonical} from requests")
        want = store.frame("from costlab_price_rows('requests_to_price')").sort("request_id")
        for name in ("requests_to_price", "price_card", "models", "prices"):
            store.execute(f"copy (from {name}) to {literal(str(tmp_path / (name + '.parquet')))} (format parquet)")
            sparks.parquet_view(spark, name, [tmp_path / f"{name}.parquet"])
    got = sparks.frame(spark, to_spark(queries.load("lake/price_requests").text)).select(want.columns).sort("request_id")
    assert got.height == want.height
    for column in want.columns:
        if column == "ts":
            assert got[column].dt.epoch("us").equals(want[column].dt.epoch("us"))
        else:  # every price column exactly: DECIMAL(18,9) to the nano-dollar, reasons as text
            assert got[column].cast(want.schema[column], strict=True).equals(want[column]), column
    unpriced = want.filter(~pl.col("priced"))
    assert unpriced.height > 0 and got.filter(~pl.col("priced"))["cost_usd"].null_count() == unpriced.height


def test_a_day_appended_by_another_process_priced_on_spark_is_duckdb_s_file_and_a_price_change_rewrites_only_its_days(spark, tmp_path):
    db, lake = tmp_path / "s.duckdb", tmp_path / "lake"
    with open_store(db, Config()) as store:
        feature_rows(store, 2000, before_prices=False)  # 2026-11-10 .. 11-15
        pricing.reprice(store)
        export_lake(store, lake)
        # another process appends 2026-11-16: the canonical columns only, its own file names
        start = datetime(2026, 11, 16, tzinfo=UTC)
        feature_rows(store, 300, prefix="late", start=start, end=start.replace(hour=23), before_prices=False)
        folder = lake / "requests" / "day=2026-11-16"
        folder.mkdir()
        for k in range(2):
            store.execute(f"copy (select {CANONICAL} from requests where request_id like 'late_%' and hash(request_id) % 2 = {k}) "
                          f"to {literal(str(folder / f'part-{k:05d}.parquet'))} (format parquet)")
        shutil.copytree(lake, tmp_path / "lake_duckdb")
        on_spark = price_lake(store, lake, kind="spark", spark=spark)
        on_duckdb = price_lake(store, tmp_path / "lake_duckdb", kind="duckdb")
    assert on_spark.written == on_duckdb.written == ["2026-11-16"] and on_spark.rows_written == 300
    spark_file = pl.read_parquet(lake / day_file("2026-11-16")).sort("request_id")
    duck_file = pl.read_parquet(tmp_path / "lake_duckdb" / day_file("2026-11-16")).sort("request_id")
    assert spark_file.schema == duck_file.schema and spark_file.equals(duck_file)  # every column, to the nano-dollar
    days = json.loads((lake / MANIFEST).read_text())["days"]
    assert days["2026-11-16"]["checksum"] == json.loads((tmp_path / "lake_duckdb" / MANIFEST).read_text())["days"]["2026-11-16"]["checksum"]
    assert verify(lake).ok
    assert spark.sparkContext._jsc is not None  # the shared session is still running

    # A new Haiku price from 2026-11-15: Spark re-prices the lake; only 11-15 and 11-16 cost anything different.
    change = Config(prices=[{"model": "claude-haiku-5-5", "valid_from": "2026-11-15", "input": 0.2, "output": 1.5}])
    before = {d: (lake / day_file(d)).stat().st_mtime_ns for d in days}
    with open_store(db, change) as store:
        again = price_lake(store, lake, kind="spark", spark=spark)
        duck = price_lake(store, tmp_path / "lake_duckdb", kind="duckdb")
    assert again.written == duck.written == ["2026-11-15", "2026-11-16"]
    assert again.checked == [f"2026-11-{d}" for d in range(10, 15)]
    assert all((lake / day_file(d)).stat().st_mtime_ns == before[d] for d in again.checked)
    for d in again.written:
        assert pl.read_parquet(lake / day_file(d)).sort("request_id").equals(
            pl.read_parquet(tmp_path / "lake_duckdb" / day_file(d)).sort("request_id")), d
    assert verify(lake).ok
