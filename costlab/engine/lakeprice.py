"""Price a lake in place (`costlab export LAKE --price`): days another process appended without costs,
and days priced under an older price card, priced by the portable pricing SQL on DuckDB or Spark.

    requests/day=D/<any>.parquet    a day written by another process: the canonical request columns
                                    (docs/schema.md), no costs; any file names, one or more files
    requests/day=D/part-0.parquet   a day costlab wrote (export, or an earlier --price)

The prices are the store's (its price_card, models, prices: the catalogue, costlab.toml and imported
prices, as `costlab export` uses), and `queries/lake/price_requests.sql` is the one pricing query
both engines run (tests/lake/test_lake_pricing.py holds it equal to internal/price_rows.sql).

What is priced, in the UTC days [since, until) (default: every day folder of the lake):
  * a day the manifest does not list, or whose folder holds other files than part-0.parquet, or that an
    unfinished run was writing, or every day with `full`: priced and written;
  * a day priced under another price card (the manifest's price_version is not the store's, or the day
    was outside the last run's window): priced, and written only when a cost, tier, priced flag or
    unpriced reason of one of its rows changed (the others keep their file and their price_version).

Each written day becomes one file, put in place whole: over a day that was one file, one rename (as
export); over a day of several files, its folder is swapped (the old folder renamed away, then the new
one renamed in: a reader sees the old rows or the new ones, or for that instant no day, never both),
and a run killed between the two renames is repaired by the next (costlab.lake.target.recover). Then
the small tables, the manifest (a day whose rows came from another writer marked `"priced_in_place":
true`: `costlab export` refuses to write the store over it), the marker removed.
A day's checksum is computed with DuckDB from its new file (the method export uses), so `verify`
checks a day priced on Spark like any other.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from costlab import __version__
from costlab.engine import spark as sparks
from costlab.engine.portable import to_spark
from costlab.errors import ConfigError, InputError
from costlab.lake import manifest as mf
from costlab.lake.target import LocalTarget, is_s3
from costlab.schema import COLUMN_NAMES, COLUMN_TYPES
from costlab.store import Store, queries
from costlab.store.sqlquote import file_literal, ident, literal

# The columns costed_requests adds to the request columns, in the lake's order (queries/lake/requests.sql),
# then price_version: what a priced day file holds after the request columns.
PRICE_OUT = ("tier", "prompt_tokens", "priced", "unpriced_reason", "cost_input_usd", "cost_output_usd",
             "cost_cache_write_usd", "cost_cache_read_usd", "cost_tools_usd", "cost_usd", "price_multiplier",
             "cost_list_usd")
# Compared old against new to find a stale day whose prices did not change (prompt_tokens follows the tokens).
COMPARED = tuple(c for c in PRICE_OUT if c != "prompt_tokens")
_OLD_TYPES = {"tier": "VARCHAR", "priced": "BOOLEAN", "unpriced_reason": "VARCHAR"}  # the rest DECIMAL(18,9)


@dataclass
class PriceResult:
    """What one pricing run did."""

    lake: str
    engine: str
    written: list[str] = field(default_factory=list)   # days written (priced now)
    checked: list[str] = field(default_factory=list)   # stale days priced again whose costs did not change
    unchanged: int = 0                                  # days left alone (priced at the current card)
    rows_written: int = 0
    tables_written: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.written or self.tables_written)


def price_lake(store: Store, lake: str | os.PathLike, kind: str = "duckdb", master: str = "local[2]",
               since: date | None = None, until: date | None = None, full: bool = False, spark: Any = None,
               on_note: Callable[[str], None] | None = None) -> PriceResult:
    """Price the unpriced and stale days of the local lake `lake` with `store`'s prices, on `kind`.

    Args:
        store: an open store: its price tables and costlab_price_version() are the prices.
        lake: a local folder (or one every Spark executor sees at the same path).
        kind: "duckdb" (in this process) or "spark" (a session at `master`, or `spark` handed in).
        since, until: UTC days, until exclusive (default: every day folder of the lake).
        full: price and write every day of the window again.
    """
    if is_s3(os.fspath(lake)) or os.fspath(lake).lower().startswith("s3a://"):
        raise ConfigError(f"{lake}: pricing a lake in place needs a local (or shared) folder; an s3:// lake is "
                          "priced by the costlab that exports it (docs/lake.md, 'Pricing a lake')")
    if kind not in ("duckdb", "spark"):
        raise ConfigError(f"--engine {kind}: expected duckdb or spark")
    note = on_note or (lambda _text: None)
    target = LocalTarget(Path(lake))
    if not (target.root / "requests").is_dir():
        raise InputError(f"{target.root}: no requests/ folder: not a lake (costlab export writes one)")
    result = PriceResult(target.url, kind)
    version = int(store.scalar("select costlab_price_version()"))
    method = f"queries/lake/day_checksums.sql in DuckDB {store.scalar('select version()')}"
    with target.lock():
        result.resumed = target.recover() or target.read_text(mf.MARKER) is not None
        old = mf.parse(target.read_text(mf.MANIFEST), f"{target.url}/{mf.MANIFEST}") or mf.Manifest()
        marker = mf.parse_marker(target.read_text(mf.MARKER))
        touched = set(marker.get("days", [])) if marker else set()
        table_touched = set(marker.get("tables", [])) if marker else set()
        days = _day_files(target.root, since, until)
        last = old.extra.get("window") or {}
        current = str(old.extra.get("price_version")) == str(version)
        forced = {d for d, files in days.items()
                  if full or d in touched or d not in old.days or files != ["part-0.parquet"]}
        stale = {d for d in days if d not in forced
                 and not (current and last.get("since", "") <= d < last.get("until", ""))}
        tables = {r["name"]: (int(r["rows"]), str(r["checksum"])) for r in store.run_query("lake/table_checksums").iter_rows(named=True)}
        write_tables = [t for t in mf.TABLES
                        if full or t in table_touched or (old.tables.get(t, {}).get("rows"), old.tables.get(t, {}).get("checksum"))
                        != tables[t] or not target.files(t)]
        result.unchanged = len(days) - len(forced) - len(stale)
        if not (forced or stale or write_tables or marker):
            return result

        run_id, started = uuid.uuid4().hex, _now()
        target.write_text(mf.MARKER, json.dumps({
            "export_id": run_id, "started_at": started, "pid": os.getpid(), "pricing": kind,
            "days": sorted(forced | stale | touched), "tables": sorted(set(write_tables) | table_touched),
        }, indent=2) + "\n")
        new = mf.Manifest(method, dict(old.days), dict(old.tables))
        with target.staging() as stage:
            for t in write_tables:  # first, to the staging folder: Spark prices from these files
                store.execute(f"copy (from {ident(t)}) to {literal(str(stage / f'{t}.parquet'))} "
                              "(format parquet, compression zstd)")
            todo = sorted(forced | stale)
            if todo:
                engine = _engine(kind, store, master, spark, stage, write_tables)
                try:
                    write = _price(engine, target.root, {d: days[d] for d in todo}, forced, version, stage / "out", note)
                finally:
                    engine.close()
                result.checked = sorted(d for d in stale if d not in write)
                for d in sorted(write):
                    folder = stage / "out" / f"day={d}"
                    n, checksum, file = _finish(folder, stage / f"{d}.parquet")
                    if days[d] == ["part-0.parquet"]:
                        target.put_file(file, mf.day_file(d))
                    else:
                        target.swap_day(file, d, run_id)
                    entry = {"requests": n, "checksum": checksum, "price_version": str(version),
                             "file": mf.day_file(d), "written_at": _now()}
                    # Rows no store has (another writer's): export must not write over them.
                    if d not in old.days or old.days[d].get("priced_in_place") or days[d] != ["part-0.parquet"]:
                        entry["priced_in_place"] = True
                    new.days[d] = entry
                    result.written.append(d)
                    result.rows_written += n
            for t in write_tables:
                target.put_file(stage / f"{t}.parquet", mf.table_file(t))
                new.tables[t] = {"rows": tables[t][0], "checksum": tables[t][1], "file": mf.table_file(t)}
                result.tables_written.append(t)
        window = {"since": min(days, default=""), "until": _next_day(max(days, default=""))}
        target.write_text(mf.MANIFEST, new.to_json(
            costlab_version=__version__, export_id=run_id, started_at=started,
            exported_at=_now(), price_version=str(version), window=window, priced_by=kind,
            partitioning="requests/day=YYYY-MM-DD: the UTC day of ts (Hive); one file per day", compression="zstd"))
        target.delete(mf.MARKER)
    return result


# -- which days --------------------------------------------------------------------------------------
def _day_files(root: Path, since: date | None, until: date | None) -> dict[str, list[str]]:
    """{YYYY-MM-DD: the sorted names of its Parquet files} for every day folder in [since, until)."""
    out: dict[str, list[str]] = {}
    for folder in sorted((root / "requests").glob("day=*")):
        d = folder.name[len("day="):]
        try:
            day = date.fromisoformat(d)
        except ValueError:
            raise InputError(f"{folder}: a day folder must be day=YYYY-MM-DD") from None
        if (since and day < since) or (until and day >= until):
            continue
        files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".parquet"
                       and not p.name.startswith((".", "_")))
        if files:
            out[d] = files
    return out


def _next_day(d: str) -> str:
    return date.fromordinal(date.fromisoformat(d).toordinal() + 1).isoformat() if d else ""


# -- the pricing, one engine or the other -------------------------------------------------------------
def _input_select(source: str, present: set[str] | None) -> str:
    """requests_to_price: the canonical columns (typed as the store types them; attributes as text),
    the folder's day, and the old price columns as old_<name> (NULL where a file has none)."""
    def col(name: str, sql_type: str) -> str:
        if present is not None and name not in present:
            return f"cast(null as {sql_type}) as {ident(name)}"
        return f"cast({ident(name)} as {sql_type}) as {ident(name)}"

    cols = [col(c, "VARCHAR" if COLUMN_TYPES[c] == "JSON" else COLUMN_TYPES[c]) for c in COLUMN_NAMES]
    old = [col(c, _OLD_TYPES.get(c, "DECIMAL(18, 9)")).rsplit(" as ", 1)[0] + f" as {ident('old_' + c)}"
           for c in COMPARED]
    return f"select {', '.join(cols)}, day, {', '.join(old)} from {source}"


def _price(engine: "_Engine", root: Path, days: dict[str, list[str]], forced: set[str], version: int,
           out: Path, note: Callable[[str], None]) -> list[str]:
    """Price `days`; write those forced or changed under `out` (day=D/ folders); return the days written."""
    files = [root / "requests" / f"day={d}" / name for d, names in sorted(days.items()) for name in names]
    engine.register_input(files)
    engine.view("priced_requests", queries.load("lake/price_requests").text)
    differs = " or ".join(f"{ident('old_' + c)} is distinct from {ident(c)}" for c in COMPARED)
    summary = engine.frame(
        "select cast(day as VARCHAR) as day, count(*) as n, "
        "sum(case when cast(ts as DATE) <> day then 1 else 0 end) as misplaced, "
        f"sum(case when {differs} then 1 else 0 end) as changed from priced_requests group by day")
    bad = summary.filter(summary["misplaced"] > 0)
    if bad.height:
        first = bad.row(0, named=True)
        raise InputError(f"requests/day={first['day']}: {first['misplaced']:,} rows have a ts on another UTC day; "
                         "a lake's day folder holds the requests of that UTC day only (fix the writer, or move them)")
    write = sorted(r["day"] for r in summary.iter_rows(named=True) if r["day"] in forced or r["changed"] > 0)
    if not write:
        return []
    rows = int(summary.filter(summary["day"].is_in(write))["n"].sum())
    note(f"pricing and writing {len(write):,} day{'s' if len(write) != 1 else ''} ({rows:,} requests) on {engine.kind}")
    columns = ", ".join(ident(c) for c in (*COLUMN_NAMES, *PRICE_OUT))
    day_list = ", ".join(f"cast({literal(d)} as DATE)" for d in write)
    engine.write_days(f"select {columns}, cast({version} as DECIMAL(20, 0)) as price_version, day "
                      f"from priced_requests where day in ({day_list})", out)
    return write


def _finish(folder: Path, dest: Path) -> tuple[int, str, Path]:
    """The day's one file in the lake's encoding (price_version UINT64, as export writes it; Spark has no
    unsigned type), its row count and its checksum (queries/lake/day_checksums.sql), with DuckDB."""
    parts = sorted(p for p in folder.glob("*.parquet"))
    if not parts:
        raise InputError(f"{folder}: the engine wrote no file for this day")
    source = "read_parquet([" + ", ".join(file_literal(p) for p in parts) + "], hive_partitioning = false)"
    with Store(":memory:") as local:
        local.execute(f"copy (select * replace (cast(price_version as UBIGINT) as price_version) from {source}) "
                      f"to {literal(str(dest))} (format parquet, compression zstd)")
        local.execute(f"create view costed_requests as from read_parquet({file_literal(dest)}, hive_partitioning = false)")
        r = local.run_query("lake/day_checksums").row(0, named=True)
    return int(r["requests"]), str(r["checksum"]), dest


class _Engine:
    kind = ""

    def register_input(self, files: list[Path]) -> None: ...
    def view(self, name: str, sql: str) -> None: ...
    def frame(self, sql: str) -> Any: ...
    def write_days(self, sql: str, out: Path) -> None: ...
    def close(self) -> None: ...


class _DuckDB(_Engine):
    """The store's own connection: its price tables, temp views over the lake's files."""

    kind = "duckdb"

    def __init__(self, store: Store):
        self.store = store

    def register_input(self, files: list[Path]) -> None:
        source = ("read_parquet([" + ", ".join(file_literal(f) for f in files) + "], hive_partitioning = true, "
                  "union_by_name = true, hive_types = {'day': DATE})")
        present = set(self.store.columns(f"select * from {source}"))
        self.view("requests_to_price", _input_select(source, present))

    def view(self, name: str, sql: str) -> None:
        self.store.execute(f"create or replace temp view {ident(name)} as {sql}")

    def frame(self, sql: str) -> Any:
        return self.store.frame(sql)

    def write_days(self, sql: str, out: Path) -> None:
        self.store.execute(f"copy ({sql}) to {literal(str(out))} "
                           "(format parquet, compression zstd, partition_by (day), write_partition_columns false)")

    def close(self) -> None:
        for name in ("priced_requests", "requests_to_price"):
            self.store.execute(f"drop view if exists temp.{name}")


class _Spark(_Engine):
    """A SparkSession: the price tables from the staging folder, the lake's files read with the canonical schema."""

    kind = "spark"

    def __init__(self, master: str, spark: Any, tables: dict[str, Path]):
        self.own = spark is None and sparks.active() is None
        self.spark = spark or sparks.active() or sparks.session(master)
        for name, path in tables.items():
            sparks.parquet_view(self.spark, name, [path])

    def register_input(self, files: list[Path]) -> None:
        schema = {c: ("VARCHAR" if COLUMN_TYPES[c] == "JSON" else COLUMN_TYPES[c]) for c in COLUMN_NAMES}
        schema.update({c: _OLD_TYPES.get(c, "DECIMAL(18, 9)") for c in COMPARED})
        schema["day"] = "DATE"
        base = files[0].parents[1]
        sparks.parquet_view(self.spark, "lake_input", files, schema=schema, base=base)
        self.view("requests_to_price", _input_select("lake_input", None))

    def view(self, name: str, sql: str) -> None:
        sparks.sql_view(self.spark, name, to_spark(sql, name=name))

    def frame(self, sql: str) -> Any:
        return sparks.frame(self.spark, to_spark(sql))

    def write_days(self, sql: str, out: Path) -> None:
        sparks.write_days(self.spark, to_spark(sql), out)

    def close(self) -> None:
        for name in ("priced_requests", "requests_to_price", "lake_input", "price_card", "models", "prices"):
            self.spark.catalog.dropTempView(name)
        if self.own:
            self.spark.stop()


def _engine(kind: str, store: Store, master: str, spark: Any, stage: Path, staged: list[str]) -> _Engine:
    if kind == "duckdb":
        return _DuckDB(store)
    # Spark reads the price tables as Parquet: this run's staged copies, else the store's, written now.
    tables = {}
    for t in ("price_card", "models", "prices"):
        path = stage / f"{t}.parquet"
        if t not in staged:
            store.execute(f"copy (from {ident(t)}) to {literal(str(path))} (format parquet, compression zstd)")
        tables[t] = path
    return _Spark(master, spark, tables)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


__all__ = ["PriceResult", "price_lake", "PRICE_OUT"]
