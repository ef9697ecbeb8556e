"""An s3:// (or s3a://) lake with --engine spark, against moto's S3 server on 127.0.0.1 (tests/conftest.py).

pyspark from PyPI ships no Hadoop S3A connector (hadoop-aws, the AWS SDK), and no registry this project
reaches has it, so Spark reads such a lake through costlab's Python data source (costlab.engine.spark,
`s3_parquet`): pyarrow's S3 client in the executors, one input partition per object. Checked here: it
gives exactly what Spark's own Parquet reader gives a local copy of the lake (schema, types, every
value), and the summary, a query file and detectors over it are the store's."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from costlab import signals
from costlab.cli import app
from costlab.config import Config
from costlab.engine import spark as sparks
from costlab.lake import export_lake
from costlab.open import open_store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
WINDOW = ["--since", "2026-11-03", "--until", "2026-11-13", "--format", "csv"]
UNTIL = datetime(2026, 11, 16, tzinfo=timezone.utc)
DETECTORS = ("spend_anomaly", "cache_underuse")  # two that find something in signals_lake (asserted below)


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    """AWS settings for moto (test keys, the endpoint the AWS way: AWS_ENDPOINT_URL_S3) and a bucket."""
    boto3 = pytest.importorskip("boto3")
    with pytest.MonkeyPatch.context() as mp:
        for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL_S3", s3_endpoint)):
            mp.setenv(var, value)
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
            mp.delenv(var, raising=False)
        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="spark-lakes")
        yield "spark-lakes"


@pytest.fixture(scope="module")
def s3_lakes(s3, lake_store, signals_lake):
    """The engine tests' two stores exported to s3://spark-lakes/{costs,signals} (costlab export)."""
    for (db, *_), name, config in ((lake_store, "costs", Config()), (signals_lake, "signals", signals_lake[2])):
        with open_store(db, config, read_only=True) as store:
            export_lake(store, f"s3://{s3}/{name}")
    return f"s3://{s3}/costs", f"s3://{s3}/signals"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _local(spark, folder: Path, partitioned: bool):
    reader = spark.read.option("basePath", str(folder.resolve())) if partitioned else spark.read
    return reader.parquet(str(folder.resolve()))


def test_an_s3_lake_on_spark_reads_exactly_what_spark_s_parquet_reader_gives_the_local_lake(spark, lake_store, s3_lakes):
    _, lake = lake_store
    url = s3_lakes[0]
    engine = sparks.SparkEngine(url, spark=spark)
    assert engine.reader == sparks.S3_SOURCE  # no S3A connector here: the Python data source
    for table in ("requests", "price_card", "models"):  # the others are read the same way (and are views below)
        got = sparks.s3_parquet(spark, f"{url}/{table}")
        want = _local(spark, lake / table, table == "requests")
        # the same columns in the same order, the same types: DECIMAL(18,9) money, price_version
        # DECIMAL(20,0) (Parquet's unsigned 64-bit), ts TIMESTAMP, the partition `day` a DATE
        assert got.schema == want.schema, table
        key = "request_id" if table == "requests" else want.columns
        got_rows = pl.from_arrow(got.toArrow()).sort(key)
        want_rows = pl.from_arrow(want.toArrow()).sort(key)
        assert got_rows.height == want_rows.height and (want_rows.height > 0 or table == "price_discounts"), table
        assert_frame_equal(got_rows, want_rows, check_exact=True)
    types = dict(sparks.s3_parquet(spark, f"{url}/requests").dtypes)
    assert types["day"] == "date" and types["price_version"] == "decimal(20,0)" and types["cost_usd"] == "decimal(18,9)"
    assert engine.scalar("select count(*) from costed_requests") == 30_000
    assert {t for t in sparks.LAKE_TABLES if spark.catalog.tableExists(t)} == set(sparks.LAKE_TABLES)


def test_the_summary_and_a_query_file_over_an_s3_lake_on_spark_are_the_store_s(spark, lake_store, s3_lakes):
    db, _ = lake_store
    got = run("summary", "--engine", "spark", "--lake", s3_lakes[0].replace("s3://", "s3a://"), *WINDOW)
    assert got.exit_code == 0, got.output
    assert got.stdout == run("summary", "--db", str(db), *WINDOW).stdout
    query = str(Path(__file__).resolve().parents[2] / "queries" / "cost_by_feature.sql")
    got = run("sql", "-F", query, "--engine", "spark", "--lake", s3_lakes[0], "--format", "csv")
    assert got.exit_code == 0, got.output
    assert got.stdout == run("sql", "-F", query, "--db", str(db), "--format", "csv").stdout and got.stdout.count("\n") > 3


def test_detectors_over_an_s3_lake_on_spark_find_what_the_store_finds(spark, signals_lake, s3_lakes):
    db, _, config = signals_lake
    with open_store(db, config, read_only=True) as store:
        want = signals.run_signals(store, until=UNTIL, only=DETECTORS)
    with sparks.SparkEngine(s3_lakes[1], spark=spark, config=config) as engine:
        got = signals.run_signals(engine, until=UNTIL, only=DETECTORS)
    assert set(want["signal"]) == set(DETECTORS)  # each finds something to compare
    assert_frame_equal(got, want, check_exact=True)  # evidence text, DOUBLEs, impact DECIMAL to the nano-dollar


def test_an_s3_lake_says_what_is_missing(spark, s3, s3_lakes):
    duck = run("summary", "--lake", s3_lakes[0], *WINDOW)
    assert duck.exit_code != 0 and "--engine spark" in duck.output  # DuckDB reads local lakes
    empty = run("summary", "--engine", "spark", "--lake", f"s3://{s3}/nothing-here", *WINDOW)
    assert empty.exit_code != 0 and "no Parquet objects" in empty.output
    priced = run("export", s3_lakes[0], "--price", "--engine", "spark")
    assert priced.exit_code != 0 and "local (or shared) folder" in priced.output
