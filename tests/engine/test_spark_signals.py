"""`costlab signals` over a lake: the detectors (queries/signals/*.sql, transpiled by
costlab.engine.portable) give the same findings on Spark local[2] over the lake as on DuckDB over the
store, exactly: severity, segment, the evidence text, observed and baseline, requests and the weekly
dollar impact to the nano-dollar. One run of all 15 detectors on each engine (the shared session),
with days cut at New York midnights (the look-back starts on the 25-hour day the clocks went back;
the report's findings run them at UTC: test_spark_report.py), compared family by family (a routing
policy and low overload thresholds give route_drift and overload_bursts something to find too); and
the command itself, `costlab signals --engine spark --lake`, in a time zone 5:45 from UTC, prints
what it prints over the store."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

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
TZ = "America/New_York"  # daylight saving ended on 1 November 2026 at 2:00, inside the look-back
FAMILIES = {
    "wrong model": ("over_modeling", "under_modeling", "escalation_spike", "rate_limit_headroom", "batch_eligible"),
    "spend": ("cost_per_user", "spend_anomaly", "cache_underuse"),
    "reliability": ("latency_slo", "context_window"),
    "hygiene": ("unpriced", "ingest_rejects", "retiring_models", "unpinned_aliases"),  # data_quality finds unpriced, ingest_rejects
    "resilience and routing": ("overload_bursts", "route_drift"),
}
# A routing policy fitted on generated logs (tests/fixtures/route_policy_reference.json, costlab.route/2
# with its reference distributions): the example's features have moved from it, so route_drift finds
# that; overload_bursts reports tiers past bursts of two failures.
POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "route_policy_reference.json"
OVERLOAD = {"burst_share": 0.02, "min_burst_errors": 2, "min_lost_share": 0, "min_lost_per_week": 0}


def every_detector(config):
    """The fixture's settings with the policy and the low overload thresholds."""
    return dataclasses.replace(config, routing={"policy": str(POLICY)},
                               signals={**config.signals, "overload_bursts": OVERLOAD})


def every_detector_toml(text: str) -> str:
    """The same as costlab.toml text."""
    lines = ["", "[routing]", f'policy = "{POLICY.as_posix()}"', "[signals.overload_bursts]",
             *(f"{k} = {v}" for k, v in OVERLOAD.items())]
    return text + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def both(signals_lake, spark):
    """(findings and notes on the store with DuckDB, the same on the lake with Spark): one run each."""
    from costlab.engine.spark import SparkEngine

    db, lake, config = signals_lake
    config = every_detector(config)
    with open_store(db, config, read_only=True) as store:
        said_duck: list[str] = []
        duck = signals.run_signals(store, until=UNTIL, notes=said_duck, tz=TZ)
    said_spark: list[str] = []
    with SparkEngine(lake, spark=spark, config=config) as engine:
        on_spark = signals.run_signals(engine, until=UNTIL, notes=said_spark, tz=TZ)
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
def test_every_detector_runs_on_spark_and_finds_what_duckdb_finds(both):
    (duck, said_duck), (on_spark, said) = both
    assert duck.filter(pl.col("signal").is_in(FAMILIES["wrong model"])).height >= 5
    assert duck.filter(pl.col("signal").is_in(FAMILIES["hygiene"])).height >= 1  # unpriced traffic
    assert {"overload_bursts", "route_drift"} <= set(duck["signal"])
    assert_frame_equal(on_spark, duck, check_exact=True)
    assert said == said_duck and not any("not run on" in line for line in said), said


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_signals_on_spark_in_a_time_zone_5_45_off_utc_print_what_the_store_prints(signals_lake, spark, tmp_path):
    """`costlab signals --engine spark --lake DIR --tz Asia/Kathmandu`: days cut at a local midnight
    that is no whole hour of UTC, in the window, daily baselines and evidence (two detectors: each
    costs Spark tens of seconds; all of them run in the fixture above and in the report's findings)."""
    db, lake, _ = signals_lake
    (tmp_path / "costlab.toml").write_text(every_detector_toml((lake.parent / "costlab.toml").read_text()))
    args = ["signals", "--config", str(tmp_path / "costlab.toml"), "--until", "2026-11-16", "--tz", "Asia/Kathmandu",
            "--only", "overload_bursts", "--only", "spend_anomaly", "--format", "csv"]
    from_store = CliRunner().invoke(app, [*args, "--db", str(db)])
    on_spark = CliRunner().invoke(app, [*args, "--engine", "spark", "--lake", str(lake)])
    assert from_store.exit_code == 0 and on_spark.exit_code == 0, on_spark.output
    assert on_spark.stdout == from_store.stdout
    assert "overload_bursts" in on_spark.stdout and on_spark.stdout.count("\n") > 3
    assert "not run on" not in on_spark.stderr and LAKE_GAPS.split(":")[0] in on_spark.stderr
    assert spark.sparkContext._jsc is not None  # the shared session was reused, not stopped


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
