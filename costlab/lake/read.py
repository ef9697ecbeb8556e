"""Read a local lake with DuckDB: its files as the views costlab's queries read, and a check of it.

`open_lake(path)` is a fresh in-memory store whose `costed_requests`, `price_card`, `models`,
`model_aliases`, `prices` and `price_discounts` are views over the lake's Parquet files, with
costlab's macros defined: the same query files (the summary's, `costlab sql`'s starters) run over
the lake as over the store, and give the same numbers. `verify(path)` recomputes each day's row count
and checksum from the files and compares them with the manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError, InputError
from costlab.lake import manifest as mf
from costlab.lake.target import LocalTarget, is_s3
from costlab.store import Store, queries
from costlab.store.sqlquote import glob_literal

REQUESTS_GLOB = "requests/day=*/*.parquet"


def open_lake(path: str | os.PathLike, config: Config | None = None) -> Store:
    """An in-memory store reading the lake at the local folder `path` (the caller closes it)."""
    root = _root(path)
    if not any(root.glob("requests/day=*/*.parquet")):
        raise InputError(f"{root}: no requests/day=*/ files: not a costlab lake, or an empty one (costlab export writes it)")
    store = Store(":memory:", config)
    try:
        # A view keeps no parameters: the lake's folder goes in as a literal (glob characters and
        # quotes in it matched literally), the patterns are our own.
        # The link keys the detectors join re-sends on are the ids themselves over a lake (a lake carries
        # no keys: costlab.engine.lake.costed_requests_sql says why).
        store.execute(f"create view costed_requests as select * exclude (day) replace (attributes::JSON as attributes), "
                      "request_id as request_key, parent_request_id as parent_key from read_parquet("
                      f"{glob_literal(root, REQUESTS_GLOB)}, hive_partitioning = true, hive_types = {{'day': DATE}})")
        for name in mf.TABLES:
            if any((root / name).glob("*.parquet")):
                store.execute(f"create view {name} as from read_parquet({glob_literal(root / name, '*.parquet')})")
        store.execute_script(queries.load("internal/macros").text)  # after model_aliases: costlab_model reads it
    except BaseException:
        store.close()
        raise
    return store


@dataclass
class Check:
    """What verify found: problems (empty when the lake matches its manifest) and notes."""

    days: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | os.PathLike, config: Config | None = None) -> Check:
    """Every day the manifest lists has its file, with the manifest's row count and checksum; no
    export is unfinished. Days with files the manifest does not list (another writer's) are notes."""
    root = _root(path)
    target = LocalTarget(root)
    check = Check()
    manifest = mf.parse(target.read_text(mf.MANIFEST), str(root / mf.MANIFEST))
    if manifest is None:
        check.problems.append(f"{root}: no {mf.MANIFEST}: no export into it has finished")
        return check
    if target.read_text(mf.MARKER) is not None:
        check.problems.append(f"{root}: {mf.MARKER} is there: an export is running or was stopped before it "
                              "finished (every day is whole, but they may come from two exports); run costlab export again")
    with open_lake(root, config) as store:
        found = {r["day"].isoformat(): (int(r["requests"]), str(r["checksum"]))
                 for r in store.run_query("lake/day_checksums").iter_rows(named=True)}
    for day, entry in sorted(manifest.days.items()):
        got = found.get(day)
        if got is None:
            check.problems.append(f"{day}: in the manifest, but {mf.day_file(day)} is missing")
        elif got != (entry.get("requests"), entry.get("checksum")):
            check.problems.append(f"{day}: the file holds {got[0]:,} requests (checksum {got[1]}), the manifest says "
                                  f"{entry.get('requests'):,} ({entry.get('checksum')})")
        else:
            check.days += 1
            check.requests += got[0]
    for day in sorted(set(found) - set(manifest.days)):
        check.notes.append(f"{day}: files not written by costlab export (not in the manifest)")
    return check


def _root(path: str | os.PathLike) -> Path:
    if is_s3(os.fspath(path)):
        raise ConfigError(f"{path}: costlab.lake reads a local lake; read an s3:// lake with DuckDB's httpfs, "
                          "Spark or polars (docs/lake.md)")
    root = Path(path).expanduser().absolute()
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    return root
