"""`costlab sql` opens the store read-only unless --write: a write statement is refused with an error
naming --write, and it runs while another process (a real second process) holds the file read-only."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import duckdb
import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import ExitCode

runner = CliRunner()

# A second process that opens the store (read-only or read-write), says so, and holds it.
_HOLDER = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro'); print('holding', flush=True); time.sleep(60)"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@contextmanager
def held(path, mode: str):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), mode], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.terminate()
        holder.wait(timeout=10)
        holder.stdout.close()


@pytest.fixture
def db(new_store, tmp_path):
    path = tmp_path / "sql.duckdb"
    with new_store(path) as store:
        store.execute("insert into requests (request_id, ts, source, model) values ('kept', now(), 't', 'claude-haiku-5-5')")
        store.execute("checkpoint")
    return path


def count(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from requests").fetchone()[0]
    finally:
        con.close()


def test_a_write_statement_without_write_is_refused_with_an_error_naming_the_flag(db):
    result = run("sql", "--db", db, "delete from requests")
    assert result.exit_code == ExitCode.ERROR
    assert "--write" in result.stderr and "read-only" in result.stderr
    assert count(db) == 1                                   # nothing was deleted


def test_write_opens_the_store_read_write(db):
    result = run("sql", "--db", db, "--write", "delete from requests")
    assert result.exit_code == 0, result.stderr
    assert count(db) == 0


def test_a_query_file_with_a_write_statement_is_refused_too(db, tmp_path):
    script = tmp_path / "wipe.sql"
    script.write_text("update requests set model = 'x'\n", encoding="utf-8")
    result = run("sql", "--db", db, "-F", script)
    assert result.exit_code == ExitCode.ERROR and "--write" in result.stderr


def test_sql_reads_while_another_process_holds_the_store_read_only(db):
    with held(db, "ro"):
        result = run("sql", "--db", db, "select request_id from requests", "--format", "csv")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == ["request_id", "kept"]


def test_write_while_another_process_reads_names_the_reader_and_what_to_do(db):
    with held(db, "ro") as holder:
        result = run("sql", "--db", db, "--write", "delete from requests")
    assert result.exit_code == ExitCode.LOCKED
    assert f"process {holder.pid}" in result.stderr
    assert "read-only" in result.stderr and "wait for that process" in result.stderr
    assert count(db) == 1


def test_reading_while_another_process_writes_names_the_writer_and_what_to_do(db):
    with held(db, "rw") as holder:
        result = run("sql", "--db", db, "select 1")
    assert result.exit_code == ExitCode.LOCKED
    assert f"process {holder.pid}" in result.stderr
    assert "read-write" in result.stderr and "wait for that process" in result.stderr


def test_sql_on_a_missing_store_says_there_is_none_and_creates_nothing(tmp_path):
    result = run("sql", "--db", tmp_path / "nope.duckdb", "select 1")
    assert result.exit_code == ExitCode.ERROR
    assert "there is no store" in result.stderr
    assert not (tmp_path / "nope.duckdb").exists()


def test_a_store_that_needs_an_upgrade_opened_read_only_says_how_to_upgrade(tmp_path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()                        # a DuckDB file with none of costlab's migrations
    result = run("sql", "--db", path, "select 1")
    assert result.exit_code == ExitCode.ERROR
    assert "needs an upgrade" in result.stderr and "--write" in result.stderr
    upgraded = run("sql", "--db", path, "--write", "select 1")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert run("sql", "--db", path, "select count(*) from requests").exit_code == 0
