"""A time zone for day boundaries and display (issue 16): `--tz ZONE` on summary and report, and
`[report] timezone` in costlab.toml; UTC stays the default.

Calendar: Sunday 15 November 2026 23:30 UTC is Monday 16 November 00:30 in Europe/Berlin (UTC+1 in
November), so it is a Sunday (2026-W46) in UTC and a Monday (2026-W47) in Berlin.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.config import Config, check_timezone, resolve_timezone
from costlab.errors import ConfigError
from costlab.report import build_report, window
from costlab.summary import cost_summary

from helpers import insert_request

runner = CliRunner()
LATE_SUNDAY = "2026-11-15 23:30:00+00"  # Monday 00:30 in Berlin


@pytest.fixture
def db(store, tmp_path):
    """A store with one request at 23:30 UTC on Sunday 15 November and one at noon on Tuesday 17 November."""
    insert_request(store, "late-sunday", "claude-sonnet-5-5", ts=LATE_SUNDAY, user_id="u1")
    insert_request(store, "tuesday", "claude-sonnet-5-5", ts="2026-11-17 12:00:00+00", user_id="u2")
    store.close()
    return tmp_path / "test.duckdb"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def days(result) -> dict[str, int]:
    """summary --format csv's day section: day -> requests."""
    frame = pl.read_csv(result.stdout.encode(), schema_overrides={"key": pl.String})
    rows = frame.filter((pl.col("section") == "day") & (pl.col("key") != "total"))
    return dict(zip(rows["key"], rows["requests"]))


def test_summary_counts_a_late_sunday_request_on_monday_in_berlin(db):
    assert days(run("summary", "--db", db, "--format", "csv")) == {"2026-11-15": 1, "2026-11-17": 1}
    assert days(run("summary", "--db", db, "--format", "csv", "--tz", "Europe/Berlin")) == {"2026-11-16": 1, "2026-11-17": 1}


def test_summary_since_is_midnight_in_the_time_zone(db):
    # --since 2026-11-16 in Berlin starts at Sunday 23:00 UTC: the late Sunday request is inside
    utc = days(run("summary", "--db", db, "--format", "csv", "--since", "2026-11-16"))
    berlin = days(run("summary", "--db", db, "--format", "csv", "--since", "2026-11-16", "--tz", "Europe/Berlin"))
    assert utc == {"2026-11-17": 1} and berlin == {"2026-11-16": 1, "2026-11-17": 1}


def test_summary_names_the_time_zone_of_its_days(db):
    r = run("summary", "--db", db, "--tz", "Europe/Berlin")
    assert r.exit_code == 0 and "Cost by day (Europe/Berlin)" in r.stdout
    assert "Cost by day (UTC)" in run("summary", "--db", db).stdout


def test_the_library_summary_takes_the_zone(store):
    insert_request(store, "late-sunday", "claude-sonnet-5-5", ts=LATE_SUNDAY)
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    until = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert cost_summary(store, since, until)["day"]["day"].to_list() == ["2026-11-15", "total"]
    assert cost_summary(store, since, until, tz="Asia/Tokyo")["day"]["day"].to_list() == ["2026-11-16", "total"]


def test_a_week_starts_monday_midnight_in_the_zone():
    w = window.week("2026-W47", "Europe/Berlin")
    assert w.since == datetime(2026, 11, 16, tzinfo=ZoneInfo("Europe/Berlin"))
    assert w.since.astimezone(timezone.utc) == datetime(2026, 11, 15, 23, tzinfo=timezone.utc)
    assert w.as_dict()["since"] == "2026-11-16T00:00:00+01:00" and w.as_dict()["timezone"] == "Europe/Berlin"
    assert "timezone" not in window.week("2026-W47").as_dict()  # the default report's JSON as it always was


def test_the_report_counts_a_late_sunday_request_in_the_next_week_in_berlin(db):
    def requests(*flags: str) -> tuple[int, dict]:
        r = run("report", "--db", db, "--week", "2026-W47", "--format", "json", *flags)
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout)
        spend = {m["key"]: m["current"] for m in report["sections"]["headline"]["metrics"]}["requests"]
        daily = {row["day"]: row["requests"] for row in
                 next(t for t in report["sections"]["trends"]["tables"] if t["key"] == "daily")["rows"]}
        return spend, daily

    assert requests() == (1, {"2026-11-17": 1})
    assert requests("--tz", "Europe/Berlin") == (2, {"2026-11-16": 1, "2026-11-17": 1})


def test_the_report_s_time_zone_comes_from_costlab_toml_and_the_flag_wins(db, tmp_path):
    config = tmp_path / "costlab.toml"
    config.write_text('[report]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    r = run("report", "--db", db, "--config", config, "--week", "2026-W47", "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "2026-11-16 to 2026-11-23 (Europe/Berlin, end exclusive)" in r.stdout
    assert "Day by day (Europe/Berlin)" in r.stdout and "| 2026-11-16 |" in r.stdout
    r = run("report", "--db", db, "--config", config, "--week", "2026-W47", "--format", "markdown", "--tz", "UTC")
    assert "(UTC, end exclusive)" in r.stdout and "| 2026-11-16 |" not in r.stdout


def test_the_default_week_follows_the_data_in_the_zone(db):
    from costlab.open import open_store

    with open_store(db, Config(), read_only=True) as store:
        assert window.resolve(store=store, today=datetime(2026, 12, 7).date()).label == "2026-W46"  # late Sunday: W46
        w = window.resolve(store=store, today=datetime(2026, 12, 7).date(), tz="Europe/Berlin")
        assert w.label == "2026-W47" and w.tz == "Europe/Berlin"
        assert build_report(store, w)["window"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("command", ["summary", "report"])
def test_a_wrong_zone_name_is_a_config_error_naming_the_option_and_suggesting_one(db, command):
    r = run(command, "--db", db, "--tz", "Europe/Berln")
    assert r.exit_code == 2 and r.stdout == ""
    assert "--tz 'Europe/Berln': not a time zone. Did you mean 'Europe/Berlin'?" in r.stderr


def test_a_wrong_zone_in_costlab_toml_names_the_file_and_key(db, tmp_path):
    config = tmp_path / "costlab.toml"
    config.write_text('[report]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    r = run("summary", "--db", db, "--config", config)
    assert r.exit_code == 2 and "[report] timezone 'Mars/Olympus': not a time zone" in r.stderr
    assert '"Europe/Berlin"' in r.stderr


def test_zone_names_are_checked_and_spelt_as_the_zone_database_does():
    assert check_timezone("utc", "--tz") == "UTC" and check_timezone("europe/berlin", "--tz") == "Europe/Berlin"
    assert resolve_timezone(None, Config()) == "UTC"
    assert resolve_timezone(None, Config(report={"timezone": "Asia/Tokyo"})) == "Asia/Tokyo"
    assert resolve_timezone("UTC", Config(report={"timezone": "Asia/Tokyo"})) == "UTC"
    for bad in ("", "../../etc/passwd", "Europe/Nowhere", 5):
        with pytest.raises(ConfigError, match="not a time zone"):
            check_timezone(bad, "--tz")


def test_whatif_since_and_until_are_midnights_in_the_zone(db):
    def requests(*flags: str) -> int:
        r = run("whatif", "--db", db, "--split", "current", "--resamples", "0", "--since", "2026-11-16",
                "--until", "2026-11-18", "--format", "csv", *flags)
        assert r.exit_code == 0, r.output
        return pl.read_csv(r.stdout.encode())["window_requests"][0]

    assert requests() == 1 and requests("--tz", "Europe/Berlin") == 2
