"""What-if's days in a time zone (issue 16): with --tz, the one pass's days (the bootstrap's day blocks)
and `whatif backtest --train/--test` days run from midnight in that zone; without it, UTC as before.
Asia/Tokyo is UTC+9 all year: its 12 November runs from 15:00 UTC on the 11th."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from costlab.cli.whatif import register
from costlab.config import Config
from costlab.generate import generate_sql
from costlab.open import open_store
from costlab.whatif import reduce

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    (tmp_path / "costlab.toml").write_text(
        '[tiers]\nhaiku = "claude-haiku-5-5"\nsonnet = "claude-sonnet-5-5"\nopus = "claude-opus-5-5"\n')
    s = open_store(path, Config())
    s.execute("insert into requests by name " + generate_sql(3000, seed=2, start="2026-11-02", days=14))
    s.close()
    return str(path)


def count(db: str, since: datetime, until: datetime) -> int:
    with open_store(db, Config(), read_only=True) as s:
        return s.scalar("select count(*) from requests where ts >= $a and ts < $b", {"a": since, "b": until})


def test_the_pass_counts_a_request_on_its_local_day(store):
    store.execute("insert into requests by name " + generate_sql(50, seed=3, start="2026-11-11", days=1))
    store.execute("update requests set ts = timestamptz '2026-11-11 16:00:00+00'")  # Tokyo: 12 November, 01:00
    assert reduce(store).days == (date(2026, 11, 11),)
    assert reduce(store, tz="Asia/Tokyo").days == (date(2026, 11, 12),)


def test_backtest_periods_are_local_days_with_tz(db):
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(app)
    args = ["whatif", "backtest", "--db", db, "--train", "2026-11-03:2026-11-09", "--test", "2026-11-09:2026-11-15",
            "--format", "json"]
    local = CliRunner().invoke(app, [*args, "--tz", "Asia/Tokyo"])
    assert local.exit_code == 0, local.output
    row = json.loads(local.stdout)[0]
    local_train = row["train_requests"]
    assert local_train == count(db, datetime(2026, 11, 3, tzinfo=TOKYO), datetime(2026, 11, 9, tzinfo=TOKYO))
    assert row["test_requests"] == count(db, datetime(2026, 11, 9, tzinfo=TOKYO), datetime(2026, 11, 15, tzinfo=TOKYO))
    utc = CliRunner().invoke(app, args)
    assert utc.exit_code == 0, utc.output
    row = json.loads(utc.stdout)[0]
    assert row["train_requests"] == count(db, datetime(2026, 11, 3, tzinfo=timezone.utc), datetime(2026, 11, 9, tzinfo=timezone.utc))
    assert row["train_requests"] != local_train  # nine hours of traffic moved between the periods
    bad = CliRunner().invoke(app, [*args, "--tz", "Mars/Olympus"])
    assert bad.exit_code == 2 and "--tz 'Mars/Olympus'" in bad.stderr
