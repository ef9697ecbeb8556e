"""The command line as a user meets it: exit codes, stdout that is only data, errors on stderr."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from costlab.cli import app

from helpers import FIXTURES

ING = FIXTURES / "ingest"
runner = CliRunner()


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


@pytest.fixture
def ingested(tmp_path):
    db = tmp_path / "cli.duckdb"
    result = run("ingest", "--db", db, ING / "envelope.jsonl", ING / "batch_results.jsonl")
    assert result.exit_code == 0, result.stderr
    return db


def test_ingest_reports_on_stderr_and_keeps_stdout_clean(tmp_path):
    result = run("ingest", "--db", tmp_path / "a.duckdb", ING / "envelope.jsonl")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "5 read, 5 added, 0 already present, 0 rejected" in result.stderr
    again = run("ingest", "--db", tmp_path / "a.duckdb", ING / "envelope.jsonl")
    assert "already ingested (5 rows present)" in again.stderr


def test_ingest_exits_nonzero_when_a_file_yields_no_rows(tmp_path):
    result = run("ingest", "--db", tmp_path / "a.duckdb", ING / "picture.png", ING / "envelope.jsonl")
    assert result.exit_code == 1
    assert "picture.png: a binary file, not a log" in result.stderr
    assert "5 added" in result.stderr


def test_bad_format_flag_is_a_usage_error_with_exit_2(tmp_path):
    result = run("ingest", "--db", tmp_path / "a.duckdb", "--format", "nope", ING / "envelope.jsonl")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --format 'nope': expected one of")


@pytest.mark.parametrize("flag", ["--format", "-f"])
def test_sql_csv_output_parses(ingested, flag):
    result = run("sql", "--db", ingested, "select request_id, cost_usd from costed_requests order by 1", flag, "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 10
    assert {r["request_id"]: Decimal(r["cost_usd"]) for r in rows}["msg_03A"] == Decimal("0.015")


def test_sql_json_keeps_decimal_money_exact(ingested):
    result = run("sql", "--db", ingested, "select cost_usd from costed_requests where request_id = 'msg_01A'", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert str(record["cost_usd"]).rstrip("0") in ("0.0137",)


def test_sql_file_with_named_parameters(ingested):
    result = run("sql", "--db", ingested, "-F", "queries/cost_by_feature.sql", "-p", "since=2026-11-16", "-p",
                 "until=2026-11-17", "--format", "json", catch_exceptions=False)
    if result.exit_code != 0 and "no such file" in result.stderr:  # tests run from tmp; use the repo path
        from helpers import ROOT
        result = run("sql", "--db", ingested, "-F", ROOT / "queries" / "cost_by_feature.sql", "-p", "since=2026-11-16",
                     "-p", "until=2026-11-17", "--format", "json")
    assert result.exit_code == 0, result.stderr
    features = {r["feature"] for r in json.loads(result.stdout)}
    assert {"triage", "yesno"} <= features


def test_sql_bad_query_is_a_clean_error(ingested):
    result = run("sql", "--db", ingested, "select nope from requests")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Binder Error") and "Traceback" not in result.stderr


def test_prices_check_fails_while_anything_is_unpriced(tmp_path, ingested):
    # Failed batch rows have no model but no tokens either: their cost is exactly 0, not unknown.
    assert run("prices", "check", "--db", ingested).exit_code == 0
    db = tmp_path / "p.duckdb"
    run("ingest", "--db", db, ING / "envelope.jsonl")
    ok = run("prices", "check", "--db", db)
    assert ok.exit_code == 0 and "All 5 requests are priced." in ok.stderr
    (tmp_path / "u.csv").write_text("request_id,ts,model,input_tokens,output_tokens\nx,2026-11-16 00:00:00,claude-nova-9,10,10\n")
    run("ingest", "--db", db, tmp_path / "u.csv")
    bad = run("prices", "check", "--db", db)
    assert bad.exit_code == 4
    assert "1 of 6 requests have no price" in bad.stderr
    assert "claude-nova-9" in bad.stdout


def test_prices_show_accepts_any_spelling_and_suggests_on_typos(tmp_path):
    db = tmp_path / "p.duckdb"
    shown = run("prices", "show", "--db", db, "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "--format", "csv")
    assert shown.exit_code == 0, shown.stderr
    assert "claude-sonnet-4-5" in shown.stdout and "200001" in shown.stdout
    typo = run("prices", "show", "--db", db, "claude-sonet-4-5")
    assert typo.exit_code == 1
    assert "Did you mean 'claude-sonnet-4-5'" in typo.stderr


def test_prices_list_shows_current_prices(tmp_path):
    result = run("prices", "list", "--db", tmp_path / "p.duckdb", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {(r["model"], r["speed"], r["band_min_tokens"]): r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert float(rows[("claude-sonnet-5-5", "standard", "0")]["cache_read"]) == 0.10
    assert float(rows[("claude-haiku-5-5", "standard", "100001")]["input"]) == 0.50


def test_db_comes_from_the_environment_when_no_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTLAB_DB", str(tmp_path / "env.duckdb"))
    assert run("ingest", ING / "envelope.jsonl").exit_code == 0
    assert (tmp_path / "env.duckdb").exists()


def test_a_store_held_by_another_writer_is_a_clear_error_exit_3(tmp_path):
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"ready"
        result = run("ingest", "--db", db, ING / "envelope.jsonl")
        assert result.exit_code == 3
        assert "is open in another process" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert run("ingest", "--db", db, ING / "envelope.jsonl").exit_code == 0


def test_every_command_has_help_and_a_readme_section():
    from helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            names += [f"{name} {sub}" for sub in cmd.commands]
        else:
            names.append(name)
        assert cmd.help, f"{name} has no help"
    for name in names:
        assert f"costlab {name}" in readme, f"README does not show `costlab {name}`"


def test_version_prints_costlabs_version_and_exits_zero():
    from costlab import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"costlab {__version__}"


@pytest.mark.parametrize("fmt, parse", [("json", json.loads), ("jsonl", lambda s: s.splitlines()),
                                        ("csv", lambda s: list(csv.DictReader(io.StringIO(s))))])
def test_signals_with_no_findings_still_writes_an_empty_answer_in_data_formats(tmp_path, fmt, parse):
    # a program reading `--format json` gets [] (it got 0 bytes, which is not JSON); CSV gets its header
    r = run("signals", "--db", str(tmp_path / "empty.duckdb"), "--format", fmt)
    assert r.exit_code == 0 and "no findings" in r.stderr
    assert parse(r.stdout) == []
    if fmt == "csv":
        assert r.stdout.startswith("severity,signal,segment,weekly_impact_usd")
