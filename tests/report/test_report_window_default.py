"""The report's default period follows the data, not the clock (issue 13, item 10): with no flags it is
the last full ISO week with data (inside the plausible window), and an empty period names the days the
data runs.

Calendar (UTC): 2026-W45 is Mon 2 to Sun 8 November, W46 9 to 15 November, W49 30 November to
6 December; "today" in the window tests is Monday 7 December 2026, so the clock's last week is W49.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import typer
from typer.testing import CliRunner

from costlab.report import window

from helpers import inject, insert_request, one_command_app

TODAY = date(2026, 12, 7)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_default_window_is_the_last_full_week_with_data_not_the_clocks(store):
    inject(store, 200, utc(2026, 11, 2), utc(2026, 11, 16))  # W45 and W46, ending on Sunday 15 November
    assert window.resolve(today=TODAY).label == "2026-W49"  # without a store: the clock, as before
    w = window.resolve(today=TODAY, store=store)
    assert (w.label, w.prev_label) == ("2026-W46", "2026-W45")
    assert w.note == ("reporting 2026-W46, the last full week with data (the requests run 2026-11-02 to "
                      "2026-11-15); the last week by the clock, 2026-W49, has none")


def test_a_log_that_stops_midweek_reports_the_week_before_and_says_how_to_get_the_partial_one(store):
    inject(store, 200, utc(2026, 11, 2), utc(2026, 11, 12))  # to Wednesday 11 November
    w = window.resolve(today=TODAY, store=store)
    assert w.label == "2026-W45"
    assert "2026-W46 stops on Wednesday: --week 2026-W46 reports it" in w.note


def test_a_log_shorter_than_a_full_week_reports_its_one_partial_week(store):
    inject(store, 50, utc(2026, 11, 10), utc(2026, 11, 12))
    w = window.resolve(today=TODAY, store=store)
    assert w.label == "2026-W46" and "a partial week" in w.note


def test_the_default_ignores_the_unfinished_week_and_implausible_timestamps(store):
    inject(store, 100, utc(2026, 11, 2), utc(2026, 11, 16))
    insert_request(store, "today", "claude-sonnet-5-5", ts="2026-12-08 09:00:00")  # this week: not over
    insert_request(store, "far", "claude-sonnet-5-5", ts="2100-01-01 00:00:00")  # outside the plausible window
    assert window.resolve(today=date(2026, 12, 9), store=store).label == "2026-W46"


def test_an_empty_store_keeps_the_clocks_last_week(store):
    w = window.resolve(today=TODAY, store=store)
    assert w.label == "2026-W49" and w.note is None


def test_an_empty_period_names_the_days_the_data_runs(store):
    inject(store, 200, utc(2026, 11, 2), utc(2026, 11, 16))
    assert window.empty_note(store, window.week("2026-W46")) is None
    assert window.empty_note(store, window.week("2026-W49")) == (
        "No requests in 2026-W49: the store's requests run 2026-11-02 to 2026-11-15 "
        "(try --week 2026-W46, or --since 2026-11-02).")


def app() -> typer.Typer:
    from costlab.cli.report import register

    return one_command_app(register)


def test_report_without_flags_reports_the_datas_last_week_and_an_asked_empty_week_names_the_range(store, tmp_path):
    # the clock of this test is the real one: any day after 2026-11-22 leaves W46 full and in the past
    inject(store, 300, utc(2026, 11, 2), utc(2026, 11, 16))
    store.execute("checkpoint")
    db = str(tmp_path / "test.duckdb")
    store.close()
    result = CliRunner().invoke(app(), ["report", "--db", db, "--format", "markdown"], env={"COLUMNS": "100", "TZ": "UTC"})
    assert result.exit_code == 0, result.output
    assert "2026-W46" in result.stdout and "No requests in" not in result.stdout
    assert "note: reporting 2026-W46, the last full week with data" in result.stderr
    result = CliRunner().invoke(app(), ["report", "--db", db, "--week", "2026-W40", "--format", "markdown"],
                                env={"COLUMNS": "100", "TZ": "UTC"})
    assert result.exit_code == 0, result.output
    assert "No requests in 2026-W40: the store's requests run 2026-11-02 to 2026-11-15" in result.stdout
    assert "note: No requests in 2026-W40" in result.stderr
