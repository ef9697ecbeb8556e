"""An s3a:// (or s3://) lake with --engine spark, against moto's S3 server on 127.0.0.1 (tests/conftest.py).

Spark reads S3 through Hadoop's S3A connector: the hadoop-aws jar of Spark's Hadoop version and the AWS
SDK v2 bundle. pyspark from PyPI ships neither, and neither PyPI nor Debian packages them (they come
from Maven, which this project's machines and CI cannot reach). So here the honest checks are: the
command says exactly what is missing, and the full read runs only where the connector is present."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.config import Config
from costlab.engine import spark as sparks
from costlab.lake import export_lake
from costlab.open import open_store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
NO_CONNECTOR = ("hadoop-aws and the AWS SDK bundle are not on Spark's classpath: pyspark from PyPI does not ship "
                "them and no package registry reachable here (PyPI, Debian) has them")
WINDOW = ["--since", "2026-11-03", "--until", "2026-11-13", "--format", "csv"]


@pytest.fixture
def s3_lake(lake_store, bucket, s3_endpoint, monkeypatch):
    """The engine tests' store exported to s3://<bucket>/lakes/costs on moto; Spark finds the endpoint
    the AWS way (AWS_ENDPOINT_URL_S3)."""
    db, _ = lake_store
    _, name = bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    with open_store(db, Config(), read_only=True) as store:
        export_lake(store, f"s3://{name}/lakes/costs", endpoint_url=s3_endpoint)
    return db, name


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_an_s3a_lake_without_hadoop_s_s3_connector_says_what_spark_needs(spark, s3_lake):
    if sparks.has_s3a(spark):
        pytest.skip("Hadoop's S3A connector is on this Spark's classpath: the read itself is tested below")
    _, name = s3_lake
    for lake in (f"s3a://{name}/lakes/costs", f"s3://{name}/lakes/costs"):
        result = run("summary", "--engine", "spark", "--lake", lake, *WINDOW)
        assert result.exit_code != 0
        assert "hadoop-aws" in result.output and f"s3a://{name}/lakes/costs" in result.output
    duck = run("summary", "--lake", f"s3://{name}/lakes/costs", *WINDOW)
    assert duck.exit_code != 0 and "--engine spark" in duck.output


def test_summary_over_an_s3a_lake_on_spark_is_the_store_s(spark, s3_lake):
    if not sparks.has_s3a(spark):
        pytest.skip(NO_CONNECTOR)
    db, name = s3_lake
    got = run("summary", "--engine", "spark", "--lake", f"s3a://{name}/lakes/costs", *WINDOW)
    assert got.exit_code == 0, got.output
    assert got.stdout == run("summary", "--db", str(db), *WINDOW).stdout
