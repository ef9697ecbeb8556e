"""`costlab report` over a lake: the report built on Spark local[2] from the lake is the report built
on DuckDB from the store, section by section in its JSON form (money as exact 9-decimal strings), for
every section whose SQL runs on Spark (all but the what-if); the sections that do not are named in
the report's last section ("engine"), never built differently. The HTML and Markdown are drawn from
the same data. In a time zone 5:45 from UTC the sections (but the findings: their detectors run in
New York's time in test_spark_signals.py) are the store's too."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.engine.lake import LAKE_GAPS
from costlab.open import open_store
from costlab.report import build_report, window

WEEK = "2026-W46"
ON_SPARK = ("headline", "spend", "tier_mix", "efficiency", "reliability", "trends", "model_switch", "reconciliation")
NOT_ON_SPARK = ("whatif",)  # costlab.whatif's daily_totals.sql is DuckDB-only SQL (docs/scale.md)


@pytest.fixture(scope="module")
def reports(signals_lake, spark):
    """(the report from the store on DuckDB, the report from the lake on Spark), each built once."""
    from costlab.engine.spark import SparkEngine

    db, lake, config = signals_lake
    span = window.week(WEEK)
    with open_store(db, config, read_only=True) as store:
        duck = build_report(store, span)
    with SparkEngine(lake, spark=spark, config=config) as engine:
        on_spark = build_report(engine, span)
    return json.loads(json.dumps(duck)), json.loads(json.dumps(on_spark))


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
@pytest.mark.parametrize("section", ON_SPARK)
def test_a_report_section_built_on_spark_from_the_lake_is_the_one_from_the_store(reports, section):
    duck, on_spark = reports
    assert section in duck["sections"]
    assert on_spark["sections"].get(section) == duck["sections"][section]


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_the_findings_in_the_report_on_spark_are_the_stores(reports):
    duck, on_spark = reports
    want, got = duck["sections"]["findings"], on_spark["sections"]["findings"]
    assert got["tables"] == want["tables"] and len(want["tables"][0]["rows"]) > 10
    assert got["notes"] == want["notes"]


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_what_spark_or_the_lake_cannot_give_is_named_in_the_report(reports):
    duck, on_spark = reports
    assert "engine" not in duck["sections"]
    assert list(on_spark["sections"])[-1] == "engine"
    notes = on_spark["sections"]["engine"]["notes"]
    assert on_spark["sections"]["engine"]["kind"] == "spark" and LAKE_GAPS in notes
    assert set(duck["sections"]) - set(on_spark["sections"]) == set(NOT_ON_SPARK)
    for section in NOT_ON_SPARK:  # every section left out is named
        assert any(f"section {section!r} is not built on spark" in n for n in notes), (section, notes)


def test_the_report_over_a_lake_on_duckdb_is_the_stores_section_by_section(signals_lake):
    db, lake, _ = signals_lake
    args = ["report", "--config", str(lake.parent / "costlab.toml"), "--week", WEEK, "--format", "json"]
    from_store = CliRunner().invoke(app, [*args, "--db", str(db)])
    from_lake = CliRunner().invoke(app, [*args, "--lake", str(lake)])
    assert from_store.exit_code == 0 and from_lake.exit_code == 0, from_lake.output
    want, got = json.loads(from_store.stdout), json.loads(from_lake.stdout)
    engine = got["sections"].pop("engine")
    assert got["sections"] == want["sections"] and len(want["sections"]) >= 7
    assert engine["kind"] == "duckdb" and engine["notes"] == [LAKE_GAPS] and "engine" not in want["sections"]
    assert LAKE_GAPS in from_lake.stderr
    html = CliRunner().invoke(app, [*args[:-2], "--format", "html", "--lake", str(lake)])
    assert html.exit_code == 0 and "Read from a lake on DuckDB" in html.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_the_report_on_spark_in_a_time_zone_5_45_off_utc_is_the_stores_section_by_section(signals_lake, spark):
    """Days and weeks cut at Kathmandu midnights (18:15 UTC): every section but the findings (the
    detectors, the costliest part on Spark, run off UTC in test_spark_signals.py) and the what-if."""
    from costlab.engine.spark import SparkEngine
    from costlab.report.sections import SECTIONS

    db, lake, config = signals_lake
    span = window.week(WEEK, "Asia/Kathmandu")
    chosen = [s for s in SECTIONS if s.name in ON_SPARK]
    with open_store(db, config, read_only=True) as store:
        want = json.loads(json.dumps(build_report(store, span, sections=chosen)))
    with SparkEngine(lake, spark=spark, config=config) as engine:
        got = json.loads(json.dumps(build_report(engine, span, sections=chosen)))
    assert want["window"]["timezone"] == "Asia/Kathmandu" and got["window"] == want["window"]
    engine_section = got["sections"].pop("engine")
    assert got["sections"] == want["sections"] and set(want["sections"]) == set(ON_SPARK)
    assert engine_section["notes"] == [LAKE_GAPS]
