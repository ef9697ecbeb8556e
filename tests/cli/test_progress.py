"""Long work shows progress on stderr when it is a terminal; stdout stays data either way."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import FIXTURES, run_on_terminal


def on_a_terminal(*args: str) -> tuple[int, bytes, str]:
    """Run costlab with stderr on a pty: (exit code, stdout, what the terminal got)."""
    return run_on_terminal([sys.executable, "-m", "costlab", *args])


def test_ingest_draws_progress_on_a_terminal_stderr_and_keeps_stdout_empty(tmp_path):
    code, out, err = on_a_terminal("ingest", "--db", str(tmp_path / "p.duckdb"), str(FIXTURES / "ingest" / "envelope.jsonl"))
    assert code == 0
    assert out == b""
    assert "━" in err and "\x1b[" in err  # rich drew its bar on the terminal, with cursor control
    assert "5 added" in err


def test_no_progress_escape_codes_when_stderr_is_not_a_terminal(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "costlab", "ingest", "--db", str(tmp_path / "p.duckdb"), str(FIXTURES / "ingest" / "envelope.jsonl")],
        capture_output=True, timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == b""
    assert b"\x1b[" not in proc.stderr and b"5 added" in proc.stderr


def test_repricing_after_a_price_change_draws_progress_on_a_terminal(new_store, tmp_path):
    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.open import open_store

    db = tmp_path / "p.duckdb"
    with new_store(db) as store:
        store.execute("insert into requests by name " + generate_sql(5000, seed=1))
    code, out, err = on_a_terminal("prices", "check", "--db", str(db))  # its read-write open prices them
    assert code == 0
    assert "pricing 5,000 requests at the current prices" in err and "━" in err
    with open_store(db, Config(), read_only=True) as store:
        assert store.scalar("select count(*) from stale_requests") == 0


def _drawn_amounts(terminal: str, unit: str) -> list[tuple[float, float]]:
    """Every "done/total UNIT" a bar drew on the terminal."""
    import re

    return [(float(a), float(b)) for a, b in re.findall(rf"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?) {unit}", terminal)]


@pytest.mark.slow  # generates and ingests a file of about 100 MB
def test_the_ingest_bar_moves_within_one_large_file(tmp_path):
    from costlab.generate import generate

    path = tmp_path / "one.jsonl"
    generate(path, 100_000, seed=8)
    code, out, err = on_a_terminal("ingest", "--db", str(tmp_path / "p.duckdb"), str(path))
    assert code == 0 and out == b""
    drawn = _drawn_amounts(err, "MB")
    assert drawn and any(0 < done < total for done, total in drawn), drawn  # not only 0.0/N and N/N


def test_generate_draws_a_rows_bar_on_a_terminal(tmp_path):
    code, out, err = run_on_terminal([sys.executable, "-m", "costlab", "generate", "g.jsonl", "--rows", "20000"], cwd=tmp_path)
    assert code == 0 and out == b""
    assert "generate" in err and "━" in err and "/20000" in err.replace(",", "")
    assert "wrote 20,000 requests" in err
