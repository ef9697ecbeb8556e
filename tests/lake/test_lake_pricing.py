"""Pricing a lake in place (`costlab export LAKE --price`, costlab.engine.lakeprice) on DuckDB: the portable
pricing query equals price_rows.sql on rows with every pricing feature; a day another process appended
without costs is priced and only it is written; a price change re-prices only the days whose costs
changed; a run killed in the middle of a day's swap is repaired. Spark: tests/engine/test_spark_pricing.py."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab import pricing
from costlab.cli import app
from costlab.config import Config
from costlab.engine.lakeprice import price_lake
from costlab.errors import InputError
from costlab.lake import MANIFEST, MARKER, day_file, export_lake, verify
from costlab.lake.target import LocalTarget
from costlab.open import open_store
from costlab.schema import COLUMN_NAMES
from costlab.store import queries
from costlab.store.sqlquote import ident, literal

from pricingrows import CONFIG, config, feature_rows

UTC = timezone.utc
DAYS = [f"2026-11-{d}" for d in range(10, 16)]
CANONICAL = ", ".join(ident(c) for c in COLUMN_NAMES)


def test_the_portable_pricing_query_equals_price_rows_on_every_pricing_feature(tmp_path):
    with open_store(tmp_path / "s.duckdb", config()) as store:
        feature_rows(store)
        store.execute(f"create temp view requests_to_price as select {CANONICAL} from requests")
        want = store.frame("from costlab_price_rows('requests_to_price')").sort("request_id")
        got = store.frame(queries.load("lake/price_requests").text).select(want.columns).sort("request_id")
    assert got.equals(want)
    # the rows do exercise what they claim to
    reasons = want["unpriced_reason"].drop_nulls().unique().to_list()
    for kind in ("no price for model ", "no fast-mode price for ", "unknown platform ", "no model id in the log",
                 "no price for claude-haiku-5-5 in force at 2021-01-04"):
        assert any(r.startswith(kind) for r in reasons), kind
    assert want.filter(pl.col("cost_list_usd") != pl.col("cost_usd")).height > 0          # discounts
    assert want["price_multiplier"].n_unique() >= 6                                        # batch, us, regional, discount
    assert want.filter(pl.col("priced") & (pl.col("cost_usd") == 0)).height > 0            # nothing billable: $0, priced
    assert want.filter(~pl.col("priced"))["cost_usd"].null_count() == want.filter(~pl.col("priced")).height


def _lake(tmp_path: Path, cfg: dict | None = None):
    """A store with the feature rows over six days (no 2021 day), exported; returns (store path, lake)."""
    db, lake = tmp_path / "s.duckdb", tmp_path / "lake"
    with open_store(db, Config(**(cfg or {}))) as store:
        feature_rows(store, 3000, before_prices=False)
        pricing.reprice(store)
        export_lake(store, lake)
    return db, lake


def stamps(lake: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(lake).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in lake.rglob("*") if p.is_file() and p.name != "lock"}


def append_raw_day(store, lake: Path, day: str = "2026-11-16", n: int = 400, files: int = 2) -> pl.DataFrame:
    """What another process does: the canonical columns of a day's requests (no costs) as `files`
    Parquet files of its own naming in requests/day=DAY/. Returns the store's own pricing of them."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    feature_rows(store, n, prefix="late", start=start, end=start.replace(hour=23), before_prices=False)
    folder = lake / "requests" / f"day={day}"
    folder.mkdir(parents=True)
    for k in range(files):
        store.execute(f"copy (select {CANONICAL} from requests where request_id like 'late_%' and hash(request_id) % {files} = {k}) "
                      f"to {literal(str(folder / f'part-{k:05d}-c000.snappy.parquet'))} (format parquet)")
    pricing.reprice(store)
    return store.frame("select * exclude (prompt_tokens, request_key, parent_key) from costed_requests where request_id like 'late_%'")


def test_a_day_another_process_appended_is_priced_and_only_it_is_written(tmp_path):
    db, lake = _lake(tmp_path)
    before = stamps(lake)
    with open_store(db, Config()) as store:
        want = append_raw_day(store, lake)
        result = price_lake(store, lake)
        assert result.written == ["2026-11-16"] and result.rows_written == 400 and result.unchanged == 6
        after = stamps(lake)
        assert {f for f in after if after[f] != before.get(f)} == {day_file("2026-11-16"), MANIFEST}
        assert sorted(p.name for p in (lake / "requests" / "day=2026-11-16").iterdir()) == ["part-0.parquet"]
        # the day file is as export writes it: the same columns, types and prices
        got = pl.read_parquet(lake / day_file("2026-11-16"))
        assert got.schema == pl.read_parquet(lake / day_file("2026-11-10")).schema
        assert got.select(want.columns).sort("request_id").equals(want.sort("request_id"))
        manifest = json.loads((lake / MANIFEST).read_text())
        assert manifest["days"]["2026-11-16"]["priced_in_place"] is True
        assert "priced_in_place" not in manifest["days"]["2026-11-10"]
        assert verify(lake).ok
        assert not price_lake(store, lake).changed and stamps(lake) == after  # idempotent
        # export would write the store over rows it does not own: refused, loudly
        with pytest.raises(InputError, match="priced in place"):
            export_lake(store, lake)


def test_late_requests_appended_to_a_priced_day_are_priced_with_it_into_one_file(tmp_path):
    db, lake = _lake(tmp_path)
    before = stamps(lake)
    with open_store(db, Config()) as store:
        start = datetime(2026, 11, 12, 20, tzinfo=UTC)
        feature_rows(store, 50, prefix="late", start=start, end=start.replace(hour=23), before_prices=False)
        store.execute(f"copy (select {CANONICAL} from requests where request_id like 'late_%') "
                      f"to {literal(str(lake / 'requests' / 'day=2026-11-12' / 'late-1.parquet'))} (format parquet)")
        pricing.reprice(store)
        result = price_lake(store, lake)
        assert result.written == ["2026-11-12"]
        assert sorted(p.name for p in (lake / "requests" / "day=2026-11-12").iterdir()) == ["part-0.parquet"]
        want = store.frame("select * exclude (prompt_tokens, request_key, parent_key) from costed_requests "
                           "where ts >= '2026-11-12' and ts < '2026-11-13'").sort("request_id")
        got = pl.read_parquet(lake / day_file("2026-11-12"))
        assert got.select(want.columns).sort("request_id").equals(want)
        after = stamps(lake)
        assert {f for f in after if after[f] != before.get(f)} == {day_file("2026-11-12"), MANIFEST}
        assert json.loads((lake / MANIFEST).read_text())["days"]["2026-11-12"]["priced_in_place"] is True
        assert verify(lake).ok


def test_a_price_change_reprices_only_the_days_whose_costs_changed(tmp_path):
    db, lake = _lake(tmp_path)
    before = stamps(lake)
    old_version = json.loads((lake / MANIFEST).read_text())["price_version"]
    # A new Haiku price from 2026-11-14: the store's price card changes for every day, its costs for two.
    change = Config(prices=[{"model": "claude-haiku-5-5", "valid_from": "2026-11-14", "input": 0.2, "output": 1.5}])
    with open_store(db, change) as store:
        result = price_lake(store, lake)
        assert result.written == ["2026-11-14", "2026-11-15"]
        assert result.checked == ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"]
        assert "price_card" in result.tables_written and "prices" in result.tables_written
        after = stamps(lake)
        assert after[day_file("2026-11-13")] == before[day_file("2026-11-13")]
        manifest = json.loads((lake / MANIFEST).read_text())
        assert manifest["price_version"] != old_version
        assert manifest["days"]["2026-11-13"]["price_version"] == old_version
        assert "priced_in_place" not in manifest["days"]["2026-11-14"]  # the store's rows, re-priced
        # the lake now holds what export writes from the re-priced store, day for day (the days left
        # alone keep the price_version they were written with)
        export_lake(store, tmp_path / "exported")
        for d in DAYS:
            assert pl.read_parquet(lake / day_file(d)).drop("price_version").sort("request_id").equals(
                pl.read_parquet(tmp_path / "exported" / day_file(d)).drop("price_version").sort("request_id")), d
        assert verify(lake).ok
        after = stamps(lake)
        assert not price_lake(store, lake).changed and stamps(lake) == after
        assert export_lake(store, lake).written == []  # and export agrees: nothing to write


def test_rows_in_a_day_folder_that_is_not_their_utc_day_are_refused(tmp_path):
    db, lake = _lake(tmp_path)
    with open_store(db, Config()) as store:
        folder = lake / "requests" / "day=2026-11-20"
        folder.mkdir()
        store.execute(f"copy (select {CANONICAL} from requests limit 5) to {literal(str(folder / 'x.parquet'))} (format parquet)")
        with pytest.raises(InputError, match="day=2026-11-20: 5 rows have a ts on another UTC day"):
            price_lake(store, lake)
    assert (folder / "x.parquet").exists()


def test_a_swap_killed_between_its_renames_is_undone_or_finished_by_the_next_run(tmp_path):
    db, lake = _lake(tmp_path)
    target = LocalTarget(lake)
    # killed after the old folder was renamed away, before the new one came: put back
    away = lake / "_costlab" / "replaced-x"
    away.mkdir(parents=True)
    os.rename(lake / "requests" / "day=2026-11-12", away / "day=2026-11-12")
    # killed after both renames, before the old folder was deleted: deleted
    (away / "day=2026-11-13").mkdir()
    (away / "day=2026-11-13" / "part-00000.parquet").write_bytes(b"old")
    (lake / MARKER).write_text(json.dumps({"days": ["2026-11-12", "2026-11-13"], "tables": []}))
    with open_store(db, Config()) as store:
        result = price_lake(store, lake)
    assert result.resumed and result.written == ["2026-11-12", "2026-11-13"]
    assert not away.exists() and not (lake / MARKER).exists()
    assert target.files("requests") == {day_file(d) for d in DAYS}
    assert verify(lake).ok


def test_the_cli_prices_a_lake_in_place_and_says_what_it_did_on_stderr(tmp_path):
    db, lake = _lake(tmp_path)
    with open_store(db, Config()) as store:
        append_raw_day(store, lake, files=1)
    r = CliRunner().invoke(app, ["export", str(lake), "--price", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert "1 day priced on duckdb and written (400 requests), 6 unchanged" in r.stderr
    again = CliRunner().invoke(app, ["export", str(lake), "--price", "--db", str(db)])
    assert again.exit_code == 0 and "up to date" in again.stderr
    bad = CliRunner().invoke(app, ["export", str(lake), "--engine", "spark", "--db", str(db)])
    assert bad.exit_code == 2 and "--price" in bad.stderr
    s3 = CliRunner().invoke(app, ["export", "s3://bucket/lake", "--price", "--db", str(db)])
    assert s3.exit_code != 0 and "local (or shared) folder" in s3.stderr


def test_the_feature_config_is_the_one_the_rows_are_priced_with():
    assert config().discounts and CONFIG["prices"][0]["model"] == "claude-opus-5-5"


# -- kill -9 in the middle of pricing (a real subprocess) -----------------------------------------------
# The CLI in a subprocess whose renames are slowed (each is followed by a pause), so the run spends
# seconds swapping day folders and the kill lands between a day's two renames or between days.
_PRICE = """
import os, sys, time
_rename = os.rename
def slow(a, b):
    _rename(a, b)
    time.sleep(0.25)
os.rename = slow
from costlab.cli import main
sys.argv = ["costlab", "export", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_kill_9_while_pricing_leaves_no_day_doubled_and_the_next_run_prices_the_lake_right(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from helpers import ROOT

    db, lake = _lake(tmp_path)
    raw_days = [f"2026-11-{d}" for d in range(16, 28)]
    with open_store(db, Config()) as store:
        for d in raw_days:
            start = datetime.fromisoformat(d).replace(tzinfo=UTC)
            feature_rows(store, 40, prefix=f"late{d}", start=start, end=start.replace(hour=23), before_prices=False)
            (lake / "requests" / f"day={d}").mkdir()
            store.execute(f"copy (select {CANONICAL} from requests where request_id like {literal(f'late{d}_%')}) "
                          f"to {literal(str(lake / 'requests' / f'day={d}' / 'raw.parquet'))} (format parquet)")
        pricing.reprice(store)
    proc = subprocess.Popen([sys.executable, "-c", _PRICE, str(lake), "--price", "--db", str(db)], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            done = [d for d in raw_days if (lake / day_file(d)).exists()]
            if len(done) >= 2:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (lake / MARKER).exists()
    away = {p.name for p in (lake / "_costlab").glob("replaced-*/day=*")}
    for d in raw_days:
        folder = lake / "requests" / f"day={d}"
        names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        # old (the raw file), new (the priced file), or for the instant between two renames absent: never both
        assert names in (["raw.parquet"], ["part-0.parquet"]) or (not names and f"day={d}" in away), (d, names)

    with open_store(db, Config()) as store:
        again = price_lake(store, lake)
        assert again.resumed
        days = json.loads((lake / MANIFEST).read_text())["days"]
        assert all(days[d]["priced_in_place"] and sorted(p.name for p in (lake / "requests" / f"day={d}").iterdir())
                   == ["part-0.parquet"] for d in raw_days)
        assert not (lake / MARKER).exists() and not list((lake / "_costlab").glob("replaced-*"))
        assert verify(lake).ok
        got = pl.read_parquet(lake / "requests", hive_partitioning=True).filter(pl.col("request_id").str.starts_with("late"))
        want = store.frame("select * exclude (prompt_tokens, request_key, parent_key) from costed_requests where request_id like 'late%'")
        assert got.select(want.columns).sort("request_id").equals(want.sort("request_id"))
