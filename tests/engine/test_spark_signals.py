"""`costlab signals` over a lake: the detectors (queries/signals/*.sql, transpiled by
costlab.engine.portable) give the same findings on Spark local[2] over the lake as on DuckDB over the
store, exactly: severity, segment, the evidence text, observed and baseline, requests and the weekly
dollar impact to the nano-dollar. One run of every detector on each engine (the shared session),
compared family by family; the detectors that do not run on Spark are named in the notes."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from costlab import signals
from costlab.cli import app
from costlab.engine import duckdb_lake
from costlab.engine.lake import LAKE_GAPS
from costlab.open import open_store

UNTIL = datetime(2026, 11, 16, tzinfo=timezone.utc)
FAMILIES = {
    "wrong model": ("over_modeling", "under_modeling", "escalation_spike", "rate_limit_headroom", "batch_eligible"),
    "spend": ("cost_per_user", "spend_anomaly", "cache_underuse"),
    "reliability": ("latency_slo", "context_window"),
    "hygiene": ("unpriced", "ingest_rejects", "retiring_models", "unpinned_aliases"),  # data_quality finds unpriced, ingest_rejects
}
NOT_ON_SPARK = ("overload_bursts", "route_drift")  # DuckDB-only SQL (docs/scale.md says why)


@pytest.fixture(scope="module")
def both(signals_lake, spark):
    """(findings and notes on the store with DuckDB, the same on the lake with Spark): one run each."""
    from costlab.engine.spark import SparkEngine

    db, lake, config = signals_lake
    with open_store(db, config, read_only=True) as store:
        said_duck: list[str] = []
        duck = signals.run_signals(store, until=UNTIL, notes=said_duck)
    said_spark: list[str] = []
    with SparkEngine(lake, spark=spark, config=config) as engine:
        on_spark = signals.run_signals(engine, until=UNTIL, notes=said_spark)
    return (duck, said_duck), (on_spark, said_spark)


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
@pytest.mark.parametrize("family", FAMILIES)
def test_a_detector_family_finds_the_same_on_spark_over_the_lake_as_on_duckdb_over_the_store(both, family):
    (duck, _), (on_spark, _) = both
    mine = pl.col("signal").is_in(FAMILIES[family])
    want, got = duck.filter(mine), on_spark.filter(mine)
    assert want.height > 0, f"the fixture should make {family} detectors fire"
    assert_frame_equal(got, want, check_exact=True)  # money DECIMAL(18,6), the evidence text, DOUBLEs bit for bit


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_every_finding_but_those_of_duckdb_only_detectors_is_found_on_spark_and_the_rest_is_said(both):
    (duck, _), (on_spark, said) = both
    assert duck.filter(pl.col("signal").is_in(FAMILIES["wrong model"])).height >= 5
    assert duck.filter(pl.col("signal").is_in(FAMILIES["hygiene"])).height >= 1  # unpriced traffic
    assert_frame_equal(on_spark, duck.filter(~pl.col("signal").is_in(NOT_ON_SPARK)), check_exact=True)
    # route_drift runs only with a [routing] policy (none here); overload_bursts is skipped, and said
    assert any("overload_bursts" in line and "not run on spark" in line for line in said), said


def test_signals_over_a_lake_on_duckdb_print_what_the_store_prints(signals_lake):
    db, lake, _ = signals_lake
    config = str(lake.parent / "costlab.toml")
    args = ["signals", "--config", config, "--until", "2026-11-16", "--format", "csv"]
    from_store = CliRunner().invoke(app, [*args, "--db", str(db)])
    from_lake = CliRunner().invoke(app, [*args, "--lake", str(lake)])
    assert from_store.exit_code == 0 and from_lake.exit_code == 0, from_lake.output
    assert from_lake.stdout == from_store.stdout
    assert from_lake.stdout.count("\n") > 20
    assert LAKE_GAPS.split(":")[0] in from_lake.stderr and "rejected rows" not in from_store.stderr


def test_the_duckdb_lake_reads_requests_past_the_detectors_window(signals_lake):
    """`requests` over a lake stays the lake's rows while a window shadows costed_requests."""
    _, lake, config = signals_lake
    with duckdb_lake(lake, config) as store:
        n = store.scalar("select count(source) from requests")
        signals.materialize(store, UNTIL.replace(day=9), UNTIL)
        try:
            assert store.scalar("select count(source) from requests") == n > 0
        finally:
            signals.drop_window(store)
