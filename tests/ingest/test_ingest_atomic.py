"""All or nothing per file, tested the real way: a costlab process killed or interrupted mid-ingest
leaves the store exactly as it was before that file, and a re-run then adds every row exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

ROWS = 600_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.csv"
    duckdb.sql(
        f"""copy (select 'r' || i as request_id, timestamp '2026-11-16' + to_seconds(i) as ts,
                   'claude-haiku-5-5' as model, (i % 900)::BIGINT as input_tokens, (i % 70)::BIGINT as output_tokens,
                   'f' || (i % 7) as feature
            from range({ROWS}) t(i)) to '{path}' (header)"""
    )
    return path


def _count(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("select count(*), (select count(*) from ingests) from requests").fetchall()[0]
    finally:
        con.close()


def _start(db, path):
    return subprocess.Popen([sys.executable, "-m", "costlab", "ingest", "--db", str(db), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _reading(pid: int, path) -> bool:
    """True when the process has the log file open (/proc/PID/fd): the store is open and migrated by
    then (the file is read for its hash after), whatever the machine's load."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


def _wait_until_ingesting(proc, db, path, limit=120.0):
    """Until the process reads the log (not a fixed delay after the store appears: under load the
    store's set-up took longer, and a kill then landed before the ingest had begun)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if proc.poll() is not None:
            return False
        if _reading(proc.pid, path):
            time.sleep(0.3)
            return proc.poll() is None
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_an_interrupted_ingest_leaves_the_store_as_it_was_and_a_rerun_counts_once(tmp_path, big_csv, sig):
    db = tmp_path / "store.duckdb"
    proc = _start(db, big_csv)
    assert _wait_until_ingesting(proc, db, big_csv), "the ingest finished before it could be interrupted; use a bigger file"
    os.kill(proc.pid, sig)
    _out, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err.decode()
        assert b"Interrupted" in err
    requests, ingests = _count(db)
    assert (requests, ingests) == (0, 0), "a partial file reached the store"
    again = subprocess.run([sys.executable, "-m", "costlab", "ingest", "--db", str(db), str(big_csv)],
                           capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()
    assert _count(db) == (ROWS, 1)
