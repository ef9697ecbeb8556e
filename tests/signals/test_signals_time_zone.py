"""Signals in a time zone (issue 16): with --tz (or [report] timezone) the detectors' days run from
midnight there: the window's ends, a daily detector's day buckets and the days and times their
evidence names. Without one, days stay UTC (the other tests in tests/signals/ pin that output).

Asia/Tokyo (UTC+9, no summer time) keeps the arithmetic plain: its day 2026-11-12 runs from
2026-11-11 15:00 to 2026-11-12 15:00 UTC, across a UTC midnight."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab import signals
from costlab.cli.signals import register
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.open import open_store

from helpers import END, START, copy_store, inject, one_command_app

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def background(tmp_path_factory, store_template):
    """Two weeks of clean generated traffic, 2 to 16 November 2026 (UTC), built once."""
    path = tmp_path_factory.mktemp("tz") / "background.duckdb"
    with copy_store(store_template, path) as s:
        s.execute("insert into requests by name " + generate_sql(40_000, seed=11, start="2026-11-02", days=14))
    return path


@pytest.fixture
def scenario(background, tmp_path):
    path = tmp_path / "scenario.duckdb"
    shutil.copy(background, path)
    s = open_store(path, Config())
    yield s
    s.close()


def spike_across_utc_midnight(store) -> None:
    """2,000 costly doc-summarize requests from 16:00 UTC on 11 November to 14:00 UTC on 12 November:
    all on Tokyo's 12 November, split over two UTC days."""
    inject(store, 2_000, datetime(2026, 11, 11, 16, tzinfo=timezone.utc), datetime(2026, 11, 12, 14, tzinfo=timezone.utc),
           feature="'doc-summarize'", input_tokens="30000", output_tokens="600")


def spend_days(found: pl.DataFrame) -> dict[str, int]:
    rows = found.filter(pl.col("signal") == "spend_anomaly")
    return dict(zip(rows["segment"], rows["requests"]))


def per_day(store, tz: str) -> dict[str, int]:
    """doc-summarize's requests per calendar day in `tz`, counted by polars (not by the detector's SQL)."""
    rows = store.frame("select ts, sample_weight from requests where feature = 'doc-summarize'")
    days = (rows.with_columns(pl.col("ts").dt.convert_time_zone(tz).dt.date().alias("day"))
            .group_by("day").agg(pl.col("sample_weight").sum().round().cast(pl.Int64).alias("n")))
    return {f"feature=doc-summarize day={d:%Y-%m-%d}": n for d, n in days.iter_rows()}


def test_the_window_runs_from_local_midnight_to_local_midnight(scenario):
    assert signals.window(scenario) == (START, END)
    start, end = signals.window(scenario, tz="Asia/Tokyo")
    # the first request (00:00 UTC on the 2nd) is 09:00 on Tokyo's 2nd; the last is on Tokyo's 16th
    assert (start, end) == (datetime(2026, 11, 2, tzinfo=TOKYO), datetime(2026, 11, 17, tzinfo=TOKYO))
    assert start.utcoffset() == timedelta(hours=9) and f"{end:%Y-%m-%d}" == "2026-11-17"
    # --since and --until days are Tokyo midnights too
    assert signals.window(scenario, "2026-11-05", "2026-11-10", tz="Asia/Tokyo") == (
        datetime(2026, 11, 5, tzinfo=TOKYO), datetime(2026, 11, 10, tzinfo=TOKYO))


def test_a_spike_across_utc_midnight_is_one_local_day_of_spend_anomaly(scenario):
    spike_across_utc_midnight(scenario)
    tokyo_days, utc_days = per_day(scenario, "Asia/Tokyo"), per_day(scenario, "UTC")
    day = "feature=doc-summarize day=2026-11-12"
    local = spend_days(signals.run_signals(scenario, config=Config(), tz="Asia/Tokyo"))
    assert local == {day: tokyo_days[day]} and tokyo_days[day] >= 2_000  # the whole spike, on its local day
    # in UTC the same requests fall on two days, neither of which holds all of them
    utc = spend_days(signals.run_signals(scenario, config=Config()))
    assert utc and all(n == utc_days[segment] for segment, n in utc.items())
    assert all(n < tokyo_days[day] for n in utc.values())


def test_the_report_timezone_in_costlab_toml_is_the_default_and_the_argument_wins(scenario):
    spike_across_utc_midnight(scenario)
    configured = Config(report={"timezone": "Asia/Tokyo"})
    day = "feature=doc-summarize day=2026-11-12"
    local = per_day(scenario, "Asia/Tokyo")[day]
    assert spend_days(signals.run_signals(scenario, config=configured)) == {day: local}
    assert all(n < local for n in spend_days(signals.run_signals(scenario, config=configured, tz="UTC")).values())


def test_a_scheduled_job_is_said_to_start_at_its_local_time(scenario):
    # 300 requests a day within 20 minutes from 02:00 UTC: 11:00 in Tokyo
    inject(scenario, 4_200, START, END, feature="'nightly-export'", input_tokens="1000 + (i * 7919 % 14000)",
           output_tokens="1500",
           ts="$start + to_microseconds(((i // 300) * 86400000000 + 2 * 3600000000 + (i % 300) * 4000000 + 0 * ($span // $n))::BIGINT)")
    found = signals.run_signals(scenario, config=Config(), tz="Asia/Tokyo", only=["batch_eligible"])
    evidence = found.filter(pl.col("signal") == "batch_eligible")["evidence"].to_list()
    assert len(evidence) == 1 and "from about 11:00 Asia/Tokyo (if people wait" in evidence[0]


def test_a_bad_time_zone_is_a_config_error_naming_tz(scenario):
    with pytest.raises(ConfigError, match=r"--tz 'Mars/Olympus': not a time zone"):
        signals.run_signals(scenario, config=Config(), tz="Mars/Olympus")


def test_the_command_takes_tz_and_the_config_file_and_refuses_a_bad_zone(scenario, tmp_path):
    path = scenario.path
    scenario.close()
    app = one_command_app(register)

    def run(*args: str):
        return CliRunner().invoke(app, ["signals", "--db", str(path), "--only", "spend_anomaly", *args])

    result = run("--tz", "Asia/Tokyo")
    assert result.exit_code == 0, result.stderr
    assert "over 2026-11-02 to 2026-11-17" in result.stderr
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "costlab.toml"  # not ./costlab.toml, which a run without --config reads
    config.write_text('[report]\ntimezone = "Asia/Tokyo"\n')
    assert "over 2026-11-02 to 2026-11-17" in run("--config", str(config)).stderr
    assert "over 2026-11-02 to 2026-11-16" in run("--config", str(config), "--tz", "UTC").stderr
    assert "over 2026-11-02 to 2026-11-16" in run().stderr
    bad = run("--tz", "Mars/Olympus")
    assert bad.exit_code == 2 and "--tz 'Mars/Olympus': not a time zone" in bad.stderr


def test_the_report_findings_use_the_report_time_zone_and_agree_with_signals(scenario):
    from costlab.report import SECTIONS, build_report, window

    spike_across_utc_midnight(scenario)
    week = window.week("2026-W46", "Asia/Tokyo")  # Monday 9 to Monday 16 November, Tokyo midnights
    report = build_report(scenario, week, sections=[s for s in SECTIONS if s.name == "findings"])
    rows = [r for r in report["sections"]["findings"]["tables"][0]["rows"] if r["signal"] == "spend_anomaly"]
    assert [r["segment"] for r in rows] == ["feature=doc-summarize day=2026-11-12"]  # Tokyo's day, not two UTC ones
    alone = signals.run_signals(scenario, config=Config(), until=week.until, tz="Asia/Tokyo", only=["spend_anomaly"])
    assert alone["segment"].to_list() == [r["segment"] for r in rows]
    assert alone["evidence"].to_list() == [r["evidence"] for r in rows]


def test_a_week_back_across_the_end_of_summer_time_starts_at_local_midnight(store):
    berlin = ZoneInfo("Europe/Berlin")  # summer time ends on 25 October 2026: that week is 169 hours long
    inject(store, 200, datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 10, tzinfo=timezone.utc))
    start, end = signals.window(store, "1w", "2026-10-28", tz="Europe/Berlin")
    assert (start, end) == (datetime(2026, 10, 21, tzinfo=berlin), datetime(2026, 10, 28, tzinfo=berlin))
    assert (start.utcoffset(), end.utcoffset()) == (timedelta(hours=2), timedelta(hours=1))
    assert end.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(days=7, hours=1)


def test_the_time_zone_is_not_a_signals_setting(scenario):
    with pytest.raises(ConfigError, match=r"\[signals\] has no setting 'tz'"):
        signals.run_signals(scenario, config=Config(signals={"tz": "Asia/Tokyo"}))
    with pytest.raises(ConfigError, match=r"\[signals.spend_anomaly\] has no setting 'tz'"):
        signals.run_signals(scenario, config=Config(signals={"spend_anomaly": {"tz": "Asia/Tokyo"}}))
