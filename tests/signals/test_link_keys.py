"""The link keys (m013: request_key, parent_key) that under_modeling and escalation_spike join re-sent
requests on: every writer of requests stores them with the price, an edit of the ids through
`costlab sql --write` marks the row stale, a row with a stale price (and so stale keys) is keyed as
it is read, and a killed ingest leaves no row without them. The findings themselves are pinned by
test_signals_golden_month.py (made with the string joins before the keys)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from typer.testing import CliRunner

from costlab import pricing, signals
from costlab.cli import app
from costlab.config import Config
from costlab.generate import generate_into, generate_sql
from costlab.ingest import ingest_paths
from costlab.open import open_store

from helpers import copy_store

# rows whose stored keys are not the keys of their ids (NULL keys included), among the current prices
WRONG = ("select count(*) from requests where price_version = costlab_price_version() and "
         "(request_key is distinct from costlab_request_key(request_id) "
         "or parent_key is distinct from costlab_request_key(parent_request_id))")
PATTERNS = ("over-modeling", "rate-limited-top-tier", "cost-per-user-growth", "escalation-spike", "nightly-batch")
SETTINGS = {"min_impact_usd": 0, "min_spend_share": 0, "min_requests": 5,
            "under_modeling": {"long_prompt_tokens": 8000, "min_ratio": 1.1, "min_z": 0.5, "min_troubles": 5}}
TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


def _findings(store):
    found = signals.run_signals(store, config=Config(signals=SETTINGS, tiers=TIERS),
                                only=["under_modeling", "escalation_spike"])
    return found.sort(["signal", "segment"]).select(list(signals.COLUMNS)).rows()


@pytest.fixture(scope="module")
def resent(tmp_path_factory, store_template):
    """The golden month's 60,000 generated requests (test_signals_golden_month.py: escalations and
    retries name their parent), generated into the store as the benchmark's builder does."""
    s = copy_store(store_template, tmp_path_factory.mktemp("keys") / "keys.duckdb")
    generate_into(s, 60_000, seed=5, start="2026-10-19", days=28, patterns=PATTERNS)
    yield s
    s.close()


def test_the_generator_stores_each_rows_keys_of_its_ids(resent):
    assert resent.scalar("select count(*) from requests where parent_request_id is not null") > 100
    assert resent.scalar(WRONG) == 0
    assert resent.scalar("select count(*) from requests where request_key is null") == 0


def test_ingest_stores_the_keys_and_a_reprice_rewrites_them(tmp_path, store):
    log = tmp_path / "log.csv"
    duckdb.sql(f"copy ({generate_sql(3_000, seed=4, start='2026-11-02', days=7, patterns=PATTERNS)}) "
               f"to '{log}' (header)")
    ingest_paths(store, [str(log)])
    assert store.scalar("select count(*) from requests where parent_key is not null") > 10
    assert store.scalar(WRONG) == 0
    # keys lost with the price (a row written by hand): the store's re-pricing writes both again
    store.execute("update requests set request_key = null, parent_key = 7, price_version = null where ts < '2026-11-05'")
    assert pricing.reprice(store) > 0
    assert store.scalar(WRONG) == 0
    assert store.scalar("select count(*) from requests where price_version is distinct from costlab_price_version()") == 0


def test_a_row_with_a_stale_price_is_keyed_as_it_is_read_and_the_findings_stay(tmp_path, store_template, resent):
    want = _findings(resent)
    assert {r[1] for r in want} == {"escalation_spike", "under_modeling"}  # (severity, signal, ...)
    s = copy_store(store_template, tmp_path / "stale.duckdb")
    try:
        generate_into(s, 60_000, seed=5, start="2026-10-19", days=28, patterns=PATTERNS)
        # wrong stored keys on every re-sent row and its parent, their prices marked stale: the
        # detectors' window is priced (and keyed) from the ids instead of trusting the stored columns
        s.execute("update requests set parent_key = 1, request_key = 2, price_version = null "
                  "where parent_request_id is not null or request_id in (select parent_request_id from requests)")
        assert pricing.stale_count(s) > 0
        assert s.scalar("select count(*) from costed_requests where parent_key is distinct from "
                        "costlab_request_key(parent_request_id)") == 0
        assert _findings(s) == want
    finally:
        s.close()


def test_sql_write_that_changes_a_parent_id_marks_the_row_for_rekeying(tmp_path, store_template, monkeypatch):
    db = tmp_path / "w.duckdb"
    copy_store(store_template, db).close()
    with open_store(db, Config()) as s:
        generate_into(s, 2_000, seed=6, start="2026-11-02", days=7, patterns=PATTERNS)
        child, other = s.rows("select (select min(request_id) from requests where parent_request_id is not null), "
                              "(select max(request_id) from requests)")[0]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sql", "--db", str(db), "--write",
                                      f"update requests set parent_request_id = '{other}' where request_id = '{child}'"])
    assert result.exit_code == 0, result.output
    assert "1 rows' request_id or parent_request_id changed" in result.stderr
    with open_store(db, Config(), read_only=True) as s:
        # the edited row waits for re-pricing, and costed_requests keys it from its ids meanwhile
        assert s.scalar("select price_version is null from requests where request_id = $c", {"c": child})
        assert s.scalar("select parent_key = costlab_request_key($o) from costed_requests where request_id = $c",
                        {"c": child, "o": other})
    with open_store(db, Config()) as s:  # a read-write open re-prices it: the stored keys are the new ones
        assert s.scalar(WRONG) == 0
        assert s.scalar("select parent_key = costlab_request_key($o) from requests where request_id = $c",
                        {"c": child, "o": other})


def _wait_until_ingesting(proc, path, limit=120.0) -> bool:
    """Until the process has the log open (/proc/PID/fd), as tests/ingest/test_ingest_atomic.py waits."""
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        try:
            fds = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        except OSError:
            fds = []
        if str(path) in fds:
            time.sleep(0.3)
            return proc.poll() is None
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_a_killed_ingest_leaves_every_stored_row_with_its_keys(tmp_path, store_template):
    db = tmp_path / "k.duckdb"
    copy_store(store_template, db).close()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    duckdb.sql(f"copy ({generate_sql(5_000, seed=7, start='2026-11-02', days=3, patterns=PATTERNS)}) to '{first}' (header)")
    duckdb.sql(f"copy ({generate_sql(400_000, seed=8, start='2026-11-05', days=3, patterns=PATTERNS)}) to '{second}' (header)")
    with open_store(db, Config()) as s:
        ingest_paths(s, [str(first)])
        before = s.scalar("select count(*) from requests")
    proc = subprocess.Popen([sys.executable, "-m", "costlab", "ingest", "--db", str(db), str(second)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait_until_ingesting(proc, second), "the ingest finished before it could be killed; use a bigger file"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    with open_store(db, Config(), read_only=True) as s:
        assert s.scalar("select count(*) from requests") == before  # the file's transaction never committed
        assert s.scalar(WRONG) == 0
    with open_store(db, Config()) as s:
        ingest_paths(s, [str(second)])
        assert s.scalar("select count(*) from requests") == before + 400_000
        assert s.scalar(WRONG) == 0
