"""`costlab summary` and `costlab sql -F` with --lake, on DuckDB and on Spark (--engine spark): the
same output as over the store, byte for byte in CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.cli import app

QUERIES = Path(__file__).resolve().parents[2] / "queries"


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_summary_over_a_lake_on_duckdb_is_the_summary_over_the_store(lake_store):
    db, lake = lake_store
    window = ["--since", "2026-11-03", "--until", "2026-11-13", "--format", "csv"]
    assert run("summary", "--lake", str(lake), *window) == run("summary", "--db", str(db), *window)


def test_spark_without_a_lake_is_a_usage_error_naming_the_flag(tmp_path):
    result = CliRunner().invoke(app, ["summary", "--engine", "spark", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code != 0 and "--lake" in result.output


def test_a_folder_that_is_no_lake_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["summary", "--lake", str(tmp_path)])
    assert result.exit_code != 0 and "no requests/ folder" in result.output


def test_engine_settings_come_from_costlab_toml(lake_store, tmp_path):
    db, lake = lake_store
    (tmp_path / "costlab.toml").write_text(f'[engine]\nkind = "duckdb"\nlake = "{lake}"\n')
    window = ["--since", "2026-11-03", "--until", "2026-11-13", "--format", "csv"]
    assert run("summary", "--config", str(tmp_path / "costlab.toml"), *window) == run("summary", "--db", str(db), *window)


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_summary_and_sql_file_on_spark_print_what_duckdb_prints(lake_store, spark):
    db, lake = lake_store
    window = ["--since", "2026-11-03", "--until", "2026-11-13", "--format", "csv"]
    assert run("summary", "--engine", "spark", "--lake", str(lake), *window) == run("summary", "--db", str(db), *window)
    query = ["-F", str(QUERIES / "cost_by_user.sql"), "-p", "limit=7", "--format", "csv"]
    assert run("sql", "--engine", "spark", "--lake", str(lake), *query) == run("sql", "--db", str(db), *query)
    assert spark.sparkContext._jsc is not None  # the shared session was reused, not stopped


@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_a_duckdb_only_query_file_says_it_does_not_run_on_spark(lake_store, spark):
    _, lake = lake_store
    result = CliRunner().invoke(app, ["sql", "--engine", "spark", "--lake", str(lake), "-F", str(QUERIES / "views" / "costed_requests.sql")])
    assert result.exit_code != 0
    assert "cannot run on Spark" in result.output or "does not run on Spark" in result.output


def test_write_is_refused_over_a_lake_even_one_named_in_costlab_toml(lake_store, tmp_path):
    _, lake = lake_store
    (tmp_path / "costlab.toml").write_text(f'[engine]\nlake = "{lake}"\n')
    result = CliRunner().invoke(app, ["sql", "--config", str(tmp_path / "costlab.toml"), "--write", "select 1"])
    assert result.exit_code == 2 and "a lake is read-only" in result.output
