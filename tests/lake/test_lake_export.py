"""`costlab export` (costlab.lake): the layout, readers (polars, DuckDB, costlab's own queries over the
lake), exact money, incremental and idempotent re-runs, re-pricing, hostile values, S3 (moto's
server on 127.0.0.1), and kill -9 in the middle of an export (a real subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from costlab import pricing
from costlab.cli import app
from costlab.config import Config, load_config
from costlab.lake import MANIFEST, MARKER, TABLES, day_file, export_lake, open_lake, verify
from costlab.open import open_store
from costlab.store import queries
from costlab.store.sqlquote import literal
from costlab.summary import cost_summary

from helpers import ROOT, inject

UTC = timezone.utc
START = datetime(2026, 11, 10, tzinfo=UTC)
END = datetime(2026, 11, 16, tzinfo=UTC)  # six days: 11-10 .. 11-15
DAYS = [f"2026-11-{d}" for d in range(10, 16)]


def fill(store, n: int = 1200, start: datetime = START, end: datetime = END, prefix: str = "r") -> None:
    """n requests over [start, end): three tiers and a model nothing prices, sampled weights, then priced."""
    inject(store, n, start, end,
           request_id=f"'{prefix}_' || i",
           model="['claude-haiku-5-5', 'claude-sonnet-5-5', 'claude-opus-5-5', 'acme-unknown-1'][i % 4 + 1]",
           input_tokens="1000 + (i * 7919) % 50000", output_tokens="(i * 104729) % 3000",
           cache_read_tokens="(i * 31) % 9000", feature="['chat', 'extract', 'triage'][i % 3 + 1]",
           sample_weight="case when i % 5 = 0 then 2.5 else 1 end",
           attributes="case when i % 2 = 0 then ('{\"k\": ' || i || ', \"s\": \"x''y\"}')::JSON end")
    pricing.reprice(store)


@pytest.fixture
def filled(new_store, tmp_path):
    store = new_store(tmp_path / "s.duckdb")
    fill(store)
    yield store
    store.close()


def stamps(lake: Path) -> dict[str, tuple[int, int]]:
    """Every file of the lake but the lock: (inode, mtime), to see what a run rewrote."""
    return {p.relative_to(lake).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in lake.rglob("*") if p.is_file() and p.name != "lock"}


def assert_same_summary(store, lake: Path) -> None:
    expected = cost_summary(store)
    with open_lake(lake) as read:
        got = cost_summary(read)
    for section, frame in expected.items():
        assert got[section].equals(frame), (section, got[section], frame)


def test_export_writes_one_zstd_file_per_utc_day_the_small_tables_and_a_manifest(filled, tmp_path):
    lake = tmp_path / "lake"
    result = export_lake(filled, lake)
    assert result.written == DAYS and result.rows_written == 1200 and result.unchanged == 0
    assert sorted(result.tables_written) == sorted(TABLES)
    files = {p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file()}
    assert files == ({day_file(d) for d in DAYS} | {f"{t}/part-0.parquet" for t in TABLES}
                     | {MANIFEST, "_costlab/lock"})
    assert day_file("2026-11-10") == "requests/day=2026-11-10/part-0.parquet"

    manifest = json.loads((lake / MANIFEST).read_text())
    assert manifest["format"] == "costlab-lake" and manifest["format_version"] == 1
    assert list(manifest["days"]) == DAYS
    assert sum(d["requests"] for d in manifest["days"].values()) == 1200
    version = str(filled.scalar("select costlab_price_version()"))
    assert manifest["price_version"] == version and manifest["price_versions"] == [version]
    assert {d["price_version"] for d in manifest["days"].values()} == {version}

    # The columns of costed_requests, in order, then price_version; the partition column is the folder.
    # Not the link keys (DuckDB's hash of the ids: the lake's views key on the ids themselves).
    expected = [c for c in filled.columns("costed_requests") if c not in ("request_key", "parent_key")] + ["price_version"]
    meta = pq.ParquetFile(lake / day_file("2026-11-12"))
    assert meta.schema_arrow.names == expected
    assert str(meta.schema_arrow.field("attributes").type) == "string"  # text, not Parquet's JSON (bytes in polars)
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    money = {f.name: str(f.type) for f in meta.schema_arrow if f.name.startswith("cost_") or f.name == "sample_weight"}
    assert money == {"cost_input_usd": "decimal128(18, 9)", "cost_output_usd": "decimal128(18, 9)",
                     "cost_cache_write_usd": "decimal128(18, 9)", "cost_cache_read_usd": "decimal128(18, 9)",
                     "cost_tools_usd": "decimal128(18, 9)", "cost_usd": "decimal128(18, 9)",
                     "cost_list_usd": "decimal128(18, 9)", "sample_weight": "decimal128(38, 6)"}
    assert verify(lake).ok


def test_the_lake_reads_with_polars_and_duckdb_the_day_partition_a_date(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    per_day = filled.frame("select (ts at time zone 'UTC')::DATE as day, count(*)::UINT32 as n from requests "
                           "group by 1 order by 1")
    scanned = pl.scan_parquet(lake / "requests", hive_partitioning=True)
    assert scanned.collect_schema()["day"] == pl.Date
    assert scanned.group_by("day").agg(n=pl.len()).sort("day").collect().equals(per_day)
    con = duckdb.connect()
    rows = con.sql(f"select typeof(day), day::VARCHAR, count(*) from read_parquet('{lake}/requests/*/*.parquet', "
                   "hive_partitioning = true) group by all order by 2").fetchall()
    assert [r[0] for r in rows] == ["DATE"] * 6
    assert [(r[1], r[2]) for r in rows] == [(d.isoformat(), n) for d, n in per_day.iter_rows()]
    assert con.sql(f"select count(*) from read_parquet('{lake}/price_card/*.parquet')").fetchall()[0][0] == \
        filled.scalar("select count(*) from price_card")


def test_money_is_exact_to_the_nano_dollar_and_the_summary_over_the_lake_equals_the_store_s(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    columns = "request_id, cost_input_usd, cost_output_usd, cost_cache_read_usd, cost_usd, priced, sample_weight, attributes"
    store_rows = filled.frame(f"select {columns.replace('attributes', 'attributes::VARCHAR as attributes')} "
                              "from costed_requests order by request_id")
    lake_rows = pl.read_parquet(lake / "requests", hive_partitioning=True).select(columns.split(", ")).sort("request_id")
    assert lake_rows.schema["cost_usd"] == pl.Decimal(18, 9)
    assert lake_rows.equals(store_rows)
    assert store_rows.filter(~pl.col("priced")).height == 300  # the unknown model: unpriced, NULL cost, not $0
    assert lake_rows.filter(~pl.col("priced"))["cost_usd"].null_count() == 300
    assert_same_summary(filled, lake)


STARTERS = [q.name for q in queries.starter_queries() if q.name != "ingest_history"]  # ingest_history reads ingests


@pytest.mark.parametrize("name", STARTERS)
def test_every_starter_query_over_the_lake_gives_the_store_s_answer(filled, tmp_path, name):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    with open_lake(lake) as read:
        got = read.run_query(name)
    assert got.equals(filled.run_query(name)), name


def test_a_second_run_writes_nothing_when_nothing_changed(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    before = stamps(lake)
    again = export_lake(filled, lake)
    assert not again.changed and again.unchanged == 6 and again.written == [] and again.tables_written == []
    assert stamps(lake) == before


def test_new_rows_on_one_day_rewrite_only_that_day(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    before = stamps(lake)
    fill(filled, 10, datetime(2026, 11, 12, 8, tzinfo=UTC), datetime(2026, 11, 12, 9, tzinfo=UTC), prefix="late")
    result = export_lake(filled, lake)
    assert result.written == ["2026-11-12"] and result.rows_written == filled.scalar(
        "select count(*) from requests where ts >= '2026-11-12' and ts < '2026-11-13'")
    after = stamps(lake)
    changed = {f for f in after if after[f] != before.get(f)}
    assert changed == {day_file("2026-11-12"), MANIFEST}
    assert verify(lake).ok
    assert_same_summary(filled, lake)


def test_a_price_change_rewrites_only_the_days_whose_costs_changed(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    old_version = json.loads((lake / MANIFEST).read_text())["price_version"]
    before = stamps(lake)
    path = filled.path
    filled.close()
    # A negotiated Haiku price from 2026-11-14: the read-write open re-prices every stored row (a new
    # price card), but only 11-14 and 11-15 cost anything different.
    with open_store(path, Config(prices=[{"model": "claude-haiku-5-5", "valid_from": "2026-11-14",
                                          "input": 0.2, "output": 1.5}])) as store:
        result = export_lake(store, lake)
        assert result.written == ["2026-11-14", "2026-11-15"]
        assert "price_card" in result.tables_written and "prices" in result.tables_written
        manifest = json.loads((lake / MANIFEST).read_text())
        new_version = str(store.scalar("select costlab_price_version()"))
        assert new_version != old_version and manifest["price_version"] == new_version
        assert manifest["days"]["2026-11-13"]["price_version"] == old_version
        assert manifest["days"]["2026-11-14"]["price_version"] == new_version
        assert sorted(manifest["price_versions"]) == sorted([old_version, new_version])
        after = stamps(lake)
        assert after[day_file("2026-11-13")] == before[day_file("2026-11-13")]
        assert verify(lake).ok
        assert_same_summary(store, lake)


def test_days_the_store_no_longer_has_are_removed_and_days_outside_the_window_are_not_touched(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    before = stamps(lake)
    filled.execute("delete from requests where ts >= '2026-11-11' and ts < '2026-11-12'")
    filled.execute("delete from requests where ts >= '2026-11-14' and ts < '2026-11-15'")
    fill(filled, 5, datetime(2026, 11, 13, tzinfo=UTC), datetime(2026, 11, 13, 1, tzinfo=UTC), prefix="more")
    # Only [11-12, 11-14): 11-13 is written, 11-11 and 11-14 are outside and stay as they were.
    part = export_lake(filled, lake, since=datetime(2026, 11, 12).date(), until=datetime(2026, 11, 14).date())
    assert (part.written, part.removed, part.unchanged) == (["2026-11-13"], [], 1)
    assert stamps(lake)[day_file("2026-11-11")] == before[day_file("2026-11-11")]
    whole = export_lake(filled, lake)
    assert whole.removed == ["2026-11-11", "2026-11-14"] and whole.written == []
    assert not (lake / "requests" / "day=2026-11-11").exists()
    assert verify(lake).ok
    assert_same_summary(filled, lake)


def test_hostile_sources_and_request_ids_never_change_a_path(new_store, tmp_path):
    store = new_store(tmp_path / "s.duckdb")
    hostile = ["../../../etc/passwd", "day=1999-01-01/x", "it's \"quoted\"", "a=b/../c", "*?[x]", "\\..\\x", "line\nbreak"]
    values = "[" + ", ".join(literal(h) for h in hostile) + f"][i % {len(hostile)} + 1]"
    inject(store, len(hostile) * 2, START, END, source=values, request_id=f"{values} || '/' || i")
    pricing.reprice(store)
    lake = tmp_path / "la'ke [*] ?"  # the lake's own folder name is hostile too
    result = export_lake(store, lake)
    files = {p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file()}
    assert {f for f in files if f.startswith("requests/")} == {day_file(d) for d in result.written}
    assert not (tmp_path / "etc").exists() and set(os.listdir(tmp_path)) - {"s.duckdb", "s.duckdb.wal"} == {lake.name}
    back = pl.read_parquet(lake / "requests", hive_partitioning=True).select("source", "request_id").sort("request_id")
    assert back.equals(store.frame("select source, request_id from requests order by request_id"))
    assert verify(lake).ok
    assert_same_summary(store, lake)
    store.close()


def test_the_cli_writes_the_lake_says_what_it_did_on_stderr_and_nothing_on_stdout(filled, tmp_path):
    db = str(filled.path)
    filled.close()
    lake = tmp_path / "lake"
    first = CliRunner().invoke(app, ["export", str(lake), "--db", db])
    assert first.exit_code == 0, first.output
    assert first.stdout == ""
    assert "6 days written (1,200 requests), 0 unchanged, 0 removed; 5 tables written" in first.stderr
    second = CliRunner().invoke(app, ["export", str(lake), "--db", db])
    assert second.exit_code == 0 and "0 days written" in second.stderr and "up to date" in second.stderr
    bad = CliRunner().invoke(app, ["export", str(lake), "--db", db, "--since", "2026-11-14", "--until", "2026-11-12"])
    assert bad.exit_code == 2 and "--until" in bad.stderr


def test_a_folder_that_is_not_a_lake_is_refused(filled, tmp_path):
    lake = tmp_path / "lake"
    (lake / "_costlab").mkdir(parents=True)
    (lake / MANIFEST).write_text('{"something": "else"}')
    with pytest.raises(Exception, match="not a costlab lake manifest"):
        export_lake(filled, lake)


# -- S3: moto's server on 127.0.0.1 (tests/conftest.py) ---------------------------------------------
def test_export_to_s3_writes_the_same_lake_and_a_second_run_writes_nothing(filled, bucket, s3_endpoint, tmp_path):
    s3, name = bucket
    result = export_lake(filled, f"s3://{name}/lakes/costs/", endpoint_url=s3_endpoint)
    assert result.written == DAYS and result.dest == f"s3://{name}/lakes/costs"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]}
    assert keys == ({f"lakes/costs/{day_file(d)}" for d in DAYS} | {f"lakes/costs/{t}/part-0.parquet" for t in TABLES}
                    | {f"lakes/costs/{MANIFEST}"})  # the marker is gone: the export finished
    local = tmp_path / "lake"
    export_lake(filled, local)
    for d in ("2026-11-10", "2026-11-15"):
        path = tmp_path / f"{d}.parquet"
        s3.download_file(name, f"lakes/costs/{day_file(d)}", str(path))
        assert pl.read_parquet(path).equals(pl.read_parquet(local / day_file(d)))
    manifest = json.loads(s3.get_object(Bucket=name, Key=f"lakes/costs/{MANIFEST}")["Body"].read())
    assert manifest["days"].keys() == json.loads((local / MANIFEST).read_text())["days"].keys()

    etags = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=name)["Contents"]}
    assert not export_lake(filled, f"s3://{name}/lakes/costs", endpoint_url=s3_endpoint).changed
    fill(filled, 3, datetime(2026, 11, 15, 1, tzinfo=UTC), datetime(2026, 11, 15, 2, tzinfo=UTC), prefix="s3")
    filled.execute("delete from requests where ts < '2026-11-11'")
    later = export_lake(filled, f"s3://{name}/lakes/costs", endpoint_url=s3_endpoint)
    assert (later.written, later.removed) == (["2026-11-15"], ["2026-11-10"])
    now = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=name)["Contents"]}
    assert f"lakes/costs/{day_file('2026-11-10')}" not in now
    assert now[f"lakes/costs/{day_file('2026-11-12')}"] == etags[f"lakes/costs/{day_file('2026-11-12')}"]


# -- kill -9 ----------------------------------------------------------------------------------------
# The CLI in a subprocess, one day per COPY so the export is many steps long (BATCH_DAYS is a setting).
_EXPORT = """
import sys
import costlab.lake.export as export
export.BATCH_DAYS = 1
from costlab.cli import main
sys.argv = ["costlab", "export", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_kill_9_in_the_middle_of_an_export_leaves_every_day_old_or_new_and_a_rerun_makes_the_lake_right(new_store, tmp_path):
    store = new_store(tmp_path / "s.duckdb")
    fill(store, 60_000, datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))  # 76 days
    lake = tmp_path / "lake"
    export_lake(store, lake)
    old = json.loads((lake / MANIFEST).read_text())["days"]
    path = store.path
    store.close()
    # Every day's costs change: a new price for a model of every day, applied by the read-write open.
    (tmp_path / "costlab.toml").write_text('[[prices]]\nmodel = "claude-sonnet-5-5"\nvalid_from = "2026-01-01"\n'
                                           'input = 2\noutput = 9\n')
    with open_store(path, load_config(tmp_path / "costlab.toml")):
        pass  # the read-write open re-prices every row now, not in the subprocess
    proc = subprocess.Popen([sys.executable, "-c", _EXPORT, str(lake), "--db", str(path), "--config",
                             str(tmp_path / "costlab.toml")], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Wait until the export has replaced at least two days (the marker is written before the first).
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                since = (lake / MARKER).stat().st_mtime_ns
                replaced = [d for d in old if (lake / day_file(d)).stat().st_mtime_ns > since]
            except FileNotFoundError:  # no marker yet
                replaced = []
            if len(replaced) >= 2:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the export finished before it could be killed: " + proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # Killed: the marker says so, the manifest is the old one, and every day is whole: old or new.
    assert (lake / MARKER).exists()
    assert json.loads((lake / MANIFEST).read_text())["days"] == old
    check = verify(lake)
    assert not check.ok and any("in_progress" in p for p in check.problems)
    with open_store(path, load_config(tmp_path / "costlab.toml")) as s:
        new = checksums(s)
        with open_lake(lake) as read:
            now = checksums(read)
        assert now.keys() == old.keys()
        assert all(now[d] in (old[d]["checksum"], new[d]) for d in now)
        assert any(now[d] == new[d] != old[d]["checksum"] for d in now)
        assert not list((lake / "requests").rglob("*.tmp*"))

        again = export_lake(s, lake)
        assert again.resumed and set(again.written) == set(old)
        assert not (lake / MARKER).exists() and not list((lake / "_costlab").glob("staging-*"))
        assert verify(lake).ok
        assert_same_summary(s, lake)


def checksums(store) -> dict[str, str]:
    """Each day's checksum (queries/lake/day_checksums.sql) over a store or a lake."""
    return {r["day"].isoformat(): str(r["checksum"]) for r in store.run_query("lake/day_checksums").iter_rows(named=True)}


def test_verify_finds_a_day_file_that_does_not_match_the_manifest_and_full_repairs_it(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    (lake / day_file("2026-11-13")).write_bytes((lake / day_file("2026-11-12")).read_bytes())
    (lake / day_file("2026-11-14")).unlink()
    check = verify(lake)
    # Days are read from ts: 11-12's rows now twice, none of 11-13's, no 11-14 file.
    assert [p.split(":")[0] for p in check.problems] == ["2026-11-12", "2026-11-13", "2026-11-14"]
    # An export trusts the files it wrote: a missing day is written again, a changed file only with --full.
    assert export_lake(filled, lake).written == ["2026-11-14"]
    assert export_lake(filled, lake, full=True).written == DAYS
    assert verify(lake).ok


def test_rows_not_priced_yet_are_exported_at_the_current_prices(new_store, tmp_path):
    store = new_store(tmp_path / "s.duckdb")
    inject(store, 200, START, END, model="['claude-haiku-5-5', 'claude-opus-5-5'][i % 2 + 1]")  # price_version NULL
    assert pricing.stale_count(store) == 200
    lake = tmp_path / "lake"
    export_lake(store, lake)
    version = store.scalar("select costlab_price_version()")
    assert pl.read_parquet(lake / "requests", hive_partitioning=True)["price_version"].unique().to_list() == [version]
    assert verify(lake).ok
    assert_same_summary(store, lake)
    store.close()


def test_requests_outside_the_plausible_window_are_left_out_and_said_so(filled, tmp_path):
    inject(filled, 2, datetime(2100, 1, 1, tzinfo=UTC), datetime(2100, 1, 2, tzinfo=UTC), request_id="'future_' || i")
    db = str(filled.path)
    filled.close()
    r = CliRunner().invoke(app, ["export", str(tmp_path / "lake"), "--db", db])
    assert r.exit_code == 0, r.output
    assert "2 requests have a timestamp from" in r.stderr and "6 days written (1,200 requests)" in r.stderr
    assert not (tmp_path / "lake" / "requests" / "day=2100-01-01").exists()


def test_an_unfinished_export_s_days_are_written_again_even_outside_the_next_window(filled, tmp_path):
    lake = tmp_path / "lake"
    export_lake(filled, lake)
    # What a killed export leaves: its marker naming the days and tables it was writing.
    (lake / MARKER).write_text(json.dumps({"days": ["2026-11-11", "2026-11-15"], "tables": ["prices"]}))
    narrow = export_lake(filled, lake, until=datetime(2026, 11, 14).date())
    assert narrow.resumed and narrow.written == ["2026-11-11"] and narrow.tables_written == ["prices"]
    assert not (lake / MARKER).exists()
    assert "2026-11-15" not in json.loads((lake / MANIFEST).read_text())["days"]  # outside: left for the next run
    assert export_lake(filled, lake).written == ["2026-11-15"]
    assert verify(lake).ok
    # A marker whose days are all done still goes, with the manifest written again.
    (lake / MARKER).write_text(json.dumps({"days": [], "tables": []}))
    assert export_lake(filled, lake).resumed and not (lake / MARKER).exists()
