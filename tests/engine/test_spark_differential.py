"""Differential: every query file that runs on Spark gives the same frame on Spark local[2] over the
lake as on DuckDB over the store (today's path) and DuckDB over the same lake: exact, to the
nano-dollar. Every DECIMAL, integer, string, date and timestamp column is compared exactly; a DOUBLE
column (a share, a rate, a variance) to 1e-9 relative, since a floating-point sum depends on the order
the rows are added in and the two engines add in different orders (money is never DOUBLE)."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from costlab.config import Config
from costlab.engine import duckdb_lake
from costlab.engine.portable import lint
from costlab.open import open_store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

# The detectors and the report's queries are compared through what runs them (run_signals, build_report:
# tests/engine/test_spark_signals.py, test_spark_report.py), each once, on data that makes them find something.
# lake/price_requests reads the view requests_to_price its caller defines: tests/lake/test_lake_pricing.py
# and tests/engine/test_spark_pricing.py hold it equal to price_rows.sql on both engines.
PORTABLE = sorted(name for name in lint() if name != "lake/price_requests" and not name.startswith(("signals/", "report/")))
WINDOW = {"since": datetime(2026, 11, 4, tzinfo=timezone.utc), "until": datetime(2026, 11, 12, tzinfo=timezone.utc)}


def _params(name: str) -> list[dict]:
    """The defaults, and a window (with a non-UTC day boundary where the query takes tz)."""
    from costlab.store.queries import load

    takes = {p.name for p in load(name).params}
    second = {k: v for k, v in WINDOW.items() if k in takes}
    if "tz" in takes:
        second["tz"] = "America/New_York"
    if "prev_since" in takes:
        second["prev_since"] = datetime(2026, 10, 28, tzinfo=timezone.utc)
    return [{}, second]


@pytest.fixture(scope="module")
def engines(lake_store, spark):
    from costlab.engine.spark import SparkEngine

    db, lake = lake_store
    with open_store(db, Config(), read_only=True) as store, duckdb_lake(lake) as on_lake:
        yield store, on_lake, SparkEngine(lake, spark=spark)


def test_the_portable_set_covers_the_summary_and_starter_queries():
    assert {"cost_by_tier_model_day", "cost_by_feature", "cost_by_user", "top_requests_by_cost"} <= set(PORTABLE)


@pytest.mark.parametrize("name", PORTABLE)
def test_a_portable_query_gives_the_same_rows_on_spark_as_on_duckdb(engines, name):
    store, on_lake, on_spark = engines
    for params in _params(name):
        expected = store.run_query(name, **params)
        assert_same(on_lake.run_query(name, **params), expected)
        got = on_spark.run_query(name, **params)
        assert_same(got, expected)


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.schema == expected.schema
    assert got.height == expected.height
    for column in expected.columns:
        if expected.schema[column] == pl.Float64:
            assert_series_equal(got[column], expected[column], check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
        else:
            assert_series_equal(got[column], expected[column], check_exact=True)


def test_the_cost_summary_is_the_same_on_spark(engines):
    from costlab.summary import cost_summary

    store, _, on_spark = engines
    want = cost_summary(store, **WINDOW)
    got = cost_summary(on_spark, **WINDOW)
    for section in want:
        assert_frame_equal(got[section], want[section], check_exact=True)
    assert want["tier"]["cost_usd"].dtype == pl.Decimal(18, 9)


def test_an_unpriced_request_stays_unpriced_on_spark(engines):
    store, _, on_spark = engines
    sql = "select count(*) filter (where not priced) as n, count(cost_usd) filter (where not priced) as costs from costed_requests"
    assert on_spark.rows(sql) == store.rows(sql)
    assert on_spark.rows(sql)[0][0] > 0 and on_spark.rows(sql)[0][1] == 0


def test_a_parameter_with_quotes_and_backslashes_is_bound_as_a_value_on_spark(engines):
    _, _, on_spark = engines
    nasty = "x' or 1=1 -- \\' ; drop view costed_requests; \\\\"
    assert on_spark.rows("select $v as v", {"v": nasty}) == [(nasty,)]
    assert on_spark.scalar("select count(*) from costed_requests where user_id = $u", {"u": nasty}) == 0


def test_money_stays_exact_where_a_plain_transpile_loses_it(engines):
    """DECIMAL products at full scale and the integer-nano construction: 1e-9 steps survive summing."""
    store, _, on_spark = engines
    sql = ("select sum(cost_usd * sample_weight) as s, sum(costlab_cost_usd(output_tokens, 15000000000)) as c, "
           "max(epoch_ms(ts)) // 1000 as last_s from costed_requests")
    assert on_spark.rows(sql) == store.rows(sql)
