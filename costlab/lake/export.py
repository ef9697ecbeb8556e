"""`costlab export`: the store's costed requests as a lake of Parquet files any engine reads.

    <lake>/requests/day=YYYY-MM-DD/part-0.parquet   one file per UTC day of ts (Hive partition `day`)
    <lake>/price_card/part-0.parquet                 and models, model_aliases, prices, price_discounts
    <lake>/_costlab/manifest.json                    what the last finished export wrote (manifest.py)

Incremental: the per-day row counts and checksums of the window (queries/lake/day_checksums.sql) are
compared with the manifest, and only the days that differ are written; days the manifest lists that
the store no longer has are removed. Each day is one file, put in place whole (one rename, one PUT),
so a reader, or an export killed at any point, leaves every day either as it was or as it is now.
docs/lake.md has the layout, columns and guarantees.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from costlab import __version__, plausible
from costlab.lake import manifest as mf
from costlab.lake.target import open_target
from costlab.pricing import stored_prices
from costlab.errors import InputError
from costlab.progress import rows_bar
from costlab.store import Store, queries
from costlab.store.sqlquote import glob_literal, ident, literal

# Days per COPY: one scan of the store writes this many days' files (DuckDB keeps a writer open per
# day, well under its partitioned_write_max_open_files of 100).
BATCH_DAYS = 31
_LAST_DAY = date(9999, 12, 30)


@dataclass
class ExportResult:
    """What one export did."""

    dest: str
    written: list[str] = field(default_factory=list)      # days written (YYYY-MM-DD)
    removed: list[str] = field(default_factory=list)      # days removed: the store has no rows for them now
    unchanged: int = 0                                     # days of the window left as they were
    rows_written: int = 0
    tables_written: list[str] = field(default_factory=list)
    resumed: bool = False                                  # an earlier export had not finished (its marker was there)
    since: str = ""
    until: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed or self.tables_written)


def window_days(store: Store, since: date | None, until: date | None) -> tuple[date, date]:
    """[since, until) as whole UTC days. A missing end is the plausible window's (costlab/plausible.py),
    widened to whole days, as the summary's default window is."""
    start, end = plausible.fill(store.config, _midnight(since), _midnight(until))
    first = max(start.astimezone(timezone.utc).date(), date(1, 1, 1))
    end_utc = end.astimezone(timezone.utc)
    last = end_utc.date() if end_utc.time() == time(0) or end_utc.date() >= _LAST_DAY else end_utc.date() + timedelta(days=1)
    return first, min(last, _LAST_DAY)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=timezone.utc)


def export_lake(store: Store, dest: str | os.PathLike, since: date | None = None, until: date | None = None,
                full: bool = False, endpoint_url: str | None = None,
                on_note: Callable[[str], None] | None = None) -> ExportResult:
    """Write (or bring up to date) the lake at `dest` from `store`, for the UTC days [since, until).

    Args:
        store: an open store (read-write opens price every row first; a read-only one prices stale
            rows as it reads them, as costed_requests does).
        dest: a local folder or an s3://bucket/prefix.
        since, until: the UTC days to export, until exclusive (default: the plausible window).
            Days outside are neither read nor touched.
        full: write every day of the window again, whatever the manifest says.
        endpoint_url: an S3-compatible endpoint for an s3:// dest.
        on_note: called with a line for people (what is being written), for stderr.

    Returns:
        an ExportResult: the days written, removed and unchanged, and the tables written.
    """
    note = on_note or (lambda _text: None)
    target = open_target(dest, endpoint_url)
    first, last = window_days(store, since, until)
    result = ExportResult(target.url, since=first.isoformat(), until=last.isoformat())
    window = {"since": _midnight(first), "until": _midnight(last)}
    with target.lock():
        old = mf.parse(target.read_text(mf.MANIFEST), f"{target.url}/{mf.MANIFEST}") or mf.Manifest()
        marker = mf.parse_marker(target.read_text(mf.MARKER))
        result.resumed = marker is not None
        method = f"queries/lake/day_checksums.sql in DuckDB {store.scalar('select version()')}"
        version = str(store.scalar("select costlab_price_version()::VARCHAR"))
        with stored_prices(store, window["since"], window["until"]):
            days = {r["day"].isoformat(): (int(r["requests"]), str(r["checksum"]))
                    for r in store.run_query("lake/day_checksums", **window).iter_rows(named=True)}
        tables = {r["name"]: (int(r["rows"]), str(r["checksum"])) for r in store.run_query("lake/table_checksums").iter_rows(named=True)}

        in_window = lambda d: first.isoformat() <= d < last.isoformat()  # noqa: E731 (ISO dates sort as dates)
        # Days another process appended and `costlab export --price` priced in place hold rows the
        # store never had: writing the store's rows over them, or removing them, would lose those rows.
        foreign = sorted(d for d, e in old.days.items() if e.get("priced_in_place") and in_window(d))
        if foreign:
            raise InputError(f"{target.url}: {len(foreign):,} day(s) of this lake ({foreign[0]} ...) were appended by "
                             "another process and priced in place (costlab export --price); exporting the store over "
                             "them would replace or remove their rows: export to another lake, or narrow --since/--until")
        # What to write: every day that differs from the manifest, whose file is missing, or that an
        # unfinished export was writing (its marker); what to remove: days the manifest (or that
        # export) had in the window that the store has no rows for now.
        present = target.files("requests")
        redo = full or old.checksum_method != method or bool(marker and marker.get("unreadable"))
        touched = set(marker.get("days", [])) if marker else set()
        write = sorted(d for d, (n, checksum) in days.items()
                       if redo or d in touched or mf.day_file(d) not in present
                       or (old.days.get(d, {}).get("requests"), old.days.get(d, {}).get("checksum")) != (n, checksum))
        remove = sorted(d for d in (set(old.days) | touched) - set(days)
                        if in_window(d) and (d in old.days or mf.day_file(d) in present))
        table_touched = set(marker.get("tables", [])) if marker else set()
        write_tables = [t for t in mf.TABLES
                        if full or t in table_touched or (old.tables.get(t, {}).get("rows"), old.tables.get(t, {}).get("checksum"))
                        != tables[t] or not target.files(t)]
        result.unchanged = len(days) - len(write)
        if not (write or remove or write_tables or marker):  # an unfinished export's marker is always cleared
            return result

        # Before the first file changes: what this export will touch (an unfinished earlier export's too).
        export_id = uuid.uuid4().hex
        started = _now()
        target.write_text(mf.MARKER, json.dumps({
            "export_id": export_id, "started_at": started, "pid": os.getpid(),
            "days": sorted(set(write) | set(remove) | touched), "tables": sorted(set(write_tables) | table_touched),
        }, indent=2) + "\n")

        # The manifest keeps the entries of the days this run leaves alone, except a day outside the
        # window that an unfinished export was writing: its file may be new or old, so it loses its
        # entry and the next export whose window holds it writes it again.
        kept = {d: e for d, e in old.days.items()
                if (d in days and d not in write) or not (in_window(d) or d in touched)}
        new = mf.Manifest(method, kept, dict(old.tables))
        total = sum(days[d][0] for d in write)
        if write:
            note(f"writing {len(write):,} day{'s' if len(write) != 1 else ''} ({total:,} requests) to {target.url}")
        with target.staging() as stage, rows_bar(total, f"exporting {len(write):,} days") as bar:
            for i in range(0, len(write), BATCH_DAYS):
                batch = write[i:i + BATCH_DAYS]
                rows = sum(days[d][0] for d in batch)
                out = stage / f"batch-{i // BATCH_DAYS}"
                before = bar.done
                with store.progress((lambda f: bar.to(before + f * rows)) if bar.shown else None):
                    _copy_days(store, batch, out)
                for d in batch:
                    target.put_file(_one_file(store, out / f"day={d}", stage), mf.day_file(d))
                    new.days[d] = {"requests": days[d][0], "checksum": days[d][1], "price_version": version,
                                   "file": mf.day_file(d), "written_at": _now()}
                    result.written.append(d)
                bar.to(before + rows)
            result.rows_written = total
            for d in remove:
                target.delete(mf.day_file(d))
                new.days.pop(d, None)
                result.removed.append(d)
            for t in write_tables:
                local = stage / f"{t}.parquet"
                store.execute(f"copy (from {ident(t)}) to {literal(str(local))} (format parquet, compression zstd)")
                target.put_file(local, mf.table_file(t))
                new.tables[t] = {"rows": tables[t][0], "checksum": tables[t][1], "file": mf.table_file(t)}
                result.tables_written.append(t)

        # Last: the manifest (whole), then the marker goes.
        target.write_text(mf.MANIFEST, new.to_json(
            costlab_version=__version__, export_id=export_id, started_at=started, exported_at=_now(),
            price_version=version, window={"since": result.since, "until": result.until},
            partitioning="requests/day=YYYY-MM-DD: the UTC day of ts (Hive); one file per day", compression="zstd"))
        target.delete(mf.MARKER)
    return result


def _copy_days(store: Store, batch: list[str], out: Path) -> None:
    """The batch's days as Hive partitions under `out` (day=YYYY-MM-DD/data_0.parquet), one scan of the store."""
    q = queries.load("lake/requests")
    since = date.fromisoformat(batch[0])
    until = date.fromisoformat(batch[-1]) + timedelta(days=1)
    params = q.bind({"since": _midnight(since), "until": _midnight(until), "days": ",".join(batch)})
    with stored_prices(store, _midnight(since), _midnight(until)):
        # The query file's own constant text; the folder is a bound-free literal of our staging path.
        store.execute(f"copy ({q.text}\n) to {literal(str(out))} "
                      "(format parquet, compression zstd, partition_by (day), write_partition_columns false)", params)


def _one_file(store: Store, folder: Path, stage: Path) -> Path:
    """The day's one Parquet file. DuckDB writes one per partition; should it ever write more (a
    writer rotated), they are joined into one here, so a day is still put in place by one rename."""
    parts = sorted(folder.glob("*.parquet"))
    if len(parts) == 1:
        return parts[0]
    joined = stage / f"{folder.name}.joined.parquet"
    store.execute(f"copy (from read_parquet({glob_literal(folder, '*.parquet')})) to {literal(str(joined))} "
                  "(format parquet, compression zstd)")
    return joined


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
