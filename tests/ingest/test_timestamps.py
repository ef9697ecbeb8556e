"""Implausible timestamps (issue 12, item 6): ingest rejects a ts outside the plausible window
([ingest] earliest/latest) with a reason naming the value and the window, on the fast path as on
the exact one; the default windows ignore such rows when a store already holds them (written here
straight into `requests`, as an older costlab or a wide window would have left them); and no
command crashes on them, in any output format."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import polars as pl
import pytest

from costlab.errors import QueryError
from typer.testing import CliRunner

from costlab import plausible, signals
from costlab.cli import app
from costlab.config import Config, load_config
from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.ingest import ingest_paths
from costlab.ingest.staging import stage as _stage
from costlab.open import open_store

from helpers import FIXTURES
from helpers import END, START, inject

# ts text as a log may carry it -> what DuckDB reads it as; every one is outside 2023-01-01 .. now + 1 day.
EXTREMES = {
    "2100": "2100-01-01 00:00:00",
    "9999": "9999-12-31 23:59:59",
    "year 10000": "10000-01-01 00:00:00",
    "year -1": "-0001-01-01 00:00:00",
    "infinity": "infinity",
    "-infinity": "-infinity",
    "2022": "2022-12-31 23:59:59",
}
NOW = datetime.now(timezone.utc)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def crashed(result) -> bool:
    """A traceback, a polars panic or any exception that is not costlab's own exit."""
    return result.exception is not None and not isinstance(result.exception, SystemExit)


# -- ingest ---------------------------------------------------------------------------------------

def _csv(path, stamps: list[str]) -> None:
    path.write_text("request_id,ts,model,input_tokens,output_tokens\n"
                    + "".join(f"c{i},{ts},claude-haiku-5-5,10,1\n" for i, ts in enumerate(stamps)))


def _envelopes(path, stamps: list[str]) -> None:
    base = json.loads((FIXTURES / "ingest" / "envelope.jsonl").read_text().splitlines()[0])
    lines = []
    for i, ts in enumerate(stamps):
        rec = json.loads(json.dumps(base))
        rec["timestamp"], rec["request_id"], rec["response"]["id"] = ts, f"req_e{i}", f"msg_e{i}"
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("write, name", [(_csv, "log.csv"), (_envelopes, "log.jsonl")])
def test_ingest_rejects_every_implausible_timestamp_naming_the_value_and_the_window(store, tmp_path, write, name):
    soon = (NOW + timedelta(hours=12)).strftime("%Y-%m-%d %H:%M:%S")  # clocks a little ahead: accepted
    stamps = ["2026-11-16 08:00:00", *EXTREMES.values(), soon, "2023-01-01 00:00:00"]
    write(tmp_path / name, stamps)
    result = ingest_paths(store, [str(tmp_path / name)]).files[0]
    assert (result.rows_added, result.rows_rejected) == (3, len(EXTREMES)), result
    reasons = dict(store.rows("select line, reason from rejects"))
    first_line = 2 if name.endswith(".csv") else 1
    for i, ts in enumerate(EXTREMES.values(), start=1):
        reason = reasons[first_line + i]
        assert reason.startswith(f"ts {ts} is outside the plausible window 2023-01-01 to "), reason
        assert "[ingest] earliest/latest in costlab.toml" in reason
    # nothing outside the window is in the store, so every later query sees only plausible times
    assert store.scalar("select count(*) from requests where ts < '2023-01-01' or ts > now() + interval 1 day") == 0


def test_the_fast_path_refuses_an_implausible_timestamp_so_the_exact_path_words_the_reject(store, tmp_path):
    _csv(tmp_path / "log.csv", ["2026-11-16 08:00:00", "2100-01-01 00:00:00"])
    with pytest.raises(QueryError, match="outside the plausible window"):
        _stage(store, tmp_path / "log.csv", "canonical-csv", fast=True)
    _csv(tmp_path / "clean.csv", ["2026-11-16 08:00:00", "2026-11-16 09:00:00"])
    assert _stage(store, tmp_path / "clean.csv", "canonical-csv", fast=True)  # a clean file stays on the fast path


def test_the_plausible_window_is_set_in_costlab_toml(tmp_path):
    (tmp_path / "costlab.toml").write_text('[ingest]\nearliest = 2000-01-01\nlatest = "2100-06-01"\n')
    _csv(tmp_path / "log.csv", ["1999-12-31 23:00:00", "2001-05-05 00:00:00", "2100-01-01 00:00:00",
                                "2100-06-01 00:00:00"])
    with open_store(tmp_path / "s.duckdb", load_config(tmp_path / "costlab.toml")) as s:
        result = ingest_paths(s, [str(tmp_path / "log.csv")]).files[0]
        assert (result.rows_added, result.rows_rejected) == (2, 2)
        assert [r[0] for r in s.rows("select reason from rejects order by line")] == [
            "ts 1999-12-31 23:00:00 is outside the plausible window 2000-01-01 to 2100-06-01 UTC "
            "(to accept it, widen [ingest] earliest/latest in costlab.toml)",
            "ts 2100-06-01 00:00:00 is outside the plausible window 2000-01-01 to 2100-06-01 UTC "
            "(to accept it, widen [ingest] earliest/latest in costlab.toml)"]


def test_window_bounds_read_days_instants_and_spans_from_now():
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    b = plausible.bounds(Config(), now)
    assert (b.earliest, b.latest) == (datetime(2023, 1, 1, tzinfo=timezone.utc), now + timedelta(days=1))
    b = plausible.bounds(Config(ingest={"earliest": "-400 days", "latest": "+36 hours"}), now)
    assert (b.earliest, b.latest) == (now - timedelta(days=400), now + timedelta(hours=36))
    b = plausible.bounds(Config(ingest={"earliest": "2024-03-01T10:00:00+02:00", "latest": "+2 weeks"}), now)
    assert (b.earliest, b.latest) == (datetime(2024, 3, 1, 8, tzinfo=timezone.utc), now + timedelta(weeks=2))


@pytest.mark.parametrize("section, words", [
    ({"latest": "tomorrow"}, 'latest = \'tomorrow\': expected a day like "2023-01-01"'),
    ({"earliest": 5}, "[ingest] earliest: expected a day"),
    ({"earliest": "2030-01-01", "latest": "2029-01-01"}, "earliest (2030-01-01) must be before latest (2029-01-01)"),
    ({"latest": "10000-01-01"}, "latest = '10000-01-01': expected a day"),
    ({"earliest": "0001-01-01"}, "must lie between years 1 and 9999"),
])
def test_bad_window_settings_are_config_errors(section, words):
    with pytest.raises(ConfigError) as ex:
        plausible.bounds(Config(ingest=section))
    assert words in str(ex.value)


# -- a store that already holds implausible rows --------------------------------------------------

@pytest.fixture(scope="module")
def findings_store(tmp_path_factory):
    """Two weeks of generated traffic plus 600 requests on a retiring model: one high finding."""
    path = tmp_path_factory.mktemp("ts") / "findings.duckdb"
    with open_store(path, Config()) as s:
        s.execute("insert into requests by name " + generate_sql(3_000, seed=11, start="2026-11-02", days=14))
        inject(s, 600, START, END, request_id="'old_' || i", model="'claude-sonnet-4-5'",
               input_tokens="3000", output_tokens="300")
    return path


def _with_rows(src, dst, stamps: dict[str, str]):
    """A copy of the store `src` plus one ordinary request per timestamp, written past ingest's check."""
    shutil.copy(src, dst)
    with open_store(dst, Config()) as s:
        for i, ts in enumerate(stamps.values()):
            s.execute("insert into requests by name select * replace ($ts::TIMESTAMPTZ as ts, $id as request_id) "
                      "from requests where request_id not like 'old_%' limit 1", {"ts": ts, "id": f"odd_{i}"})
    return dst


@pytest.fixture(scope="module")
def baseline(findings_store):
    before = run("signals", "--db", str(findings_store), "--fail-on", "high", "--format", "json")
    assert before.exit_code == signals.FINDINGS_EXIT, before.output
    return json.loads(before.stdout)


@pytest.mark.parametrize("label", ["2100", "9999", "year 10000", "year -1", "infinity", "-infinity"])
def test_one_implausible_row_does_not_move_or_silence_the_signals(findings_store, baseline, tmp_path, label):
    db = _with_rows(findings_store, tmp_path / "odd.duckdb", {label: EXTREMES[label]})
    after = run("signals", "--db", str(db), "--fail-on", "high", "--format", "json")
    assert not crashed(after), after.exception
    assert after.exit_code == signals.FINDINGS_EXIT, after.stderr
    assert json.loads(after.stdout) == baseline
    assert "over 2026-11-02 to 2026-11-16" in after.stderr
    assert "1 request has a timestamp" in after.stderr and "the default window leaves it out" in after.stderr


def test_the_signals_window_is_placed_by_plausible_rows_only_unless_until_names_another(findings_store, tmp_path):
    db = _with_rows(findings_store, tmp_path / "odd.duckdb", EXTREMES)
    with open_store(db, Config()) as s:
        day = lambda d: datetime(2026, 11, d, tzinfo=timezone.utc)  # noqa: E731
        assert signals.window(s) == (day(2), day(16))
        assert signals.window(s, "14d", datetime(2100, 1, 2, tzinfo=timezone.utc)) == (
            datetime(2099, 12, 19, tzinfo=timezone.utc), datetime(2100, 1, 2, tzinfo=timezone.utc))
        s.execute("delete from requests where ts between '2023-01-01' and now()")  # only the odd rows remain
        with pytest.raises(ConfigError, match="none of the 7 requests in the store falls between 2023-01-01"):
            signals.window(s)


@pytest.fixture(scope="module")
def odd_store(findings_store, tmp_path_factory):
    """The findings store plus one request at each extreme timestamp."""
    return _with_rows(findings_store, tmp_path_factory.mktemp("odd") / "odd.duckdb", EXTREMES)


SELECT_ODD = "select ts, ts::DATE as day, request_id from requests order by ts"


@pytest.mark.parametrize("args", [
    ("signals",), ("signals", "--format", "markdown"), ("signals", "--format", "json"),
    ("signals", "--since", "2099-12-01", "--until", "2100-01-02"),
    ("report",), ("report", "--format", "json"), ("report", "--format", "markdown"),
    ("report", "--since", "2026-11-09", "--until", "2026-11-16"),
    ("report", "--since", "2026-11-09", "--until", "2026-11-16", "--format", "json"),
    ("report", "--since", "2026-11-09", "--until", "2026-11-16", "--format", "markdown"),
    ("report", "--since", "2099-12-26", "--until", "2100-01-02", "--format", "json"),
    ("summary",), ("summary", "--format", "json"), ("summary", "--since", "2099-01-01"),
    ("sql", SELECT_ODD, "--format", "json"), ("sql", SELECT_ODD, "--format", "csv"),
    ("sql", SELECT_ODD, "--format", "table"), ("sql", SELECT_ODD, "--format", "jsonl"),
    ("sql", SELECT_ODD, "--format", "markdown"),
    ("whatif", "--split", "current", "--split", "haiku=70,sonnet=25,opus=5"),
    ("whatif", "--split", "current", "--since", "2099-12-01", "--until", "2100-02-01"),
    ("prices", "check"),
])
def test_no_command_crashes_on_extreme_timestamps_in_the_store(odd_store, tmp_path, args):
    result = run(*args, "--db", str(odd_store))
    assert not crashed(result), f"{args}: {result.exception!r}\n{result.output}"
    assert result.exit_code in (0, signals.FINDINGS_EXIT), result.output
    assert "Traceback" not in result.output


def test_the_html_report_builds_over_a_store_with_extreme_timestamps(odd_store, tmp_path):
    for extra in ((), ("--since", "2026-11-09", "--until", "2026-11-16")):
        result = run("report", "--db", str(odd_store), "--format", "html", "--out", str(tmp_path / "r.html"), *extra)
        assert not crashed(result) and result.exit_code == 0, result.output
        assert "<html" in (tmp_path / "r.html").read_text()


def test_sql_output_shows_out_of_range_timestamps_as_duckdb_writes_them(odd_store):
    result = run("sql", SELECT_ODD, "--format", "json", "--db", str(odd_store))
    rows = json.loads(result.stdout)
    stamps = [r["ts"] for r in rows if r["request_id"].startswith("odd_")]
    assert stamps == ["-infinity", "0002-01-01 (BC) 00:00:00+00", "2022-12-31 23:59:59+00", "2100-01-01 00:00:00+00",
                      "9999-12-31 23:59:59+00", "10000-01-01 00:00:00+00", "infinity"]
    assert {r["day"] for r in rows if r["request_id"] == "odd_4"} == {"infinity"}


def test_frames_keep_ordinary_times_as_times_and_only_out_of_range_columns_become_text(store):
    frame = store.frame("select '2026-11-02 10:00'::TIMESTAMPTZ as ok, 'infinity'::TIMESTAMPTZ as inf, "
                        "'10000-01-01'::DATE as far, '2026-11-02'::DATE as day")
    assert frame.schema["ok"] == pl.Datetime("us", "UTC") and frame.schema["day"] == pl.Date
    assert frame.row(0) == (datetime(2026, 11, 2, 10, tzinfo=timezone.utc), "infinity", "10000-01-01",
                            datetime(2026, 11, 2).date())


def test_summary_and_whatif_default_windows_leave_implausible_rows_out_and_say_so(odd_store):
    plain = run("summary", "--format", "json", "--db", str(odd_store))
    total = [r for r in json.loads(plain.stdout) if r["section"] == "tier" and r["key"] == "total"][0]
    assert total["requests"] == 3_600  # the 3,000 + 600 plausible ones; none of the 7 odd rows
    assert "7 requests have a timestamp outside 2023-01-01 to" in plain.stderr
    whatif = run("whatif", "--split", "current", "--format", "json", "--db", str(odd_store))
    assert json.loads(whatif.stdout)[0]["requests"] == 3_600, whatif.output
    assert "7 requests have a timestamp outside" in whatif.stderr
    named = run("summary", "--since", "2099-01-01", "--format", "json", "--db", str(odd_store))
    days = [r["key"] for r in json.loads(named.stdout) if r["section"] == "day"]
    assert days == ["2100-01-01", "9999-12-31", "total"]  # an explicit window reads what it names
