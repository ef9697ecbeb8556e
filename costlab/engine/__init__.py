"""Engines: where a query file from queries/ runs, DuckDB (the store, or a lake) or Apache Spark (a lake).

An engine looks to the analyses like a store does for reading: `config`, `run_query(name, **params)`,
`rows(sql, params)`, `frame(sql, params)`, `user_frame(sql, params)`, `close()`. `costlab.summary`
and `costlab sql -F` take either.

  * `open_engine("duckdb", lake=None, ...)`: the store (today's path, costlab.open.open_store).
  * `open_engine("duckdb", lake=DIR)`: an in-memory store whose costed_requests, requests and the
    small tables are views over the lake's Parquet (costlab.lake.open_lake, the one DuckDB reader).
  * `open_engine("spark", lake=DIR, master=...)`: the same views in a SparkSession
    (costlab.engine.spark, the only module that imports pyspark); every query is transpiled by
    costlab.engine.portable, and only files whose header says `-- engines: duckdb, spark` run there.

The master comes from --master, else `[engine] master` in costlab.toml, else local[2]:
`local[N]`, `spark://host:7077` (a standalone cluster) or `sc://host:15002` (Spark Connect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from costlab.config import Config
from costlab.engine import lake as lakes
from costlab.engine.portable import engines
from costlab.engine.returns import cast_to_returns
from costlab.engine.spark import SparkEngine
from costlab.errors import ConfigError
from costlab.lake import open_lake
from costlab.open import open_store
from costlab.store import Store
from costlab.store.queries import load

KINDS = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"


def engine_settings(config: Config | None) -> dict[str, Any]:
    """costlab.toml's [engine] table ({} when absent): kind = "duckdb" | "spark", master = "..."."""
    section = config.engine if config is not None else {}
    unknown = set(section) - {"kind", "master", "lake"}
    if unknown:
        raise ConfigError(f"costlab.toml [engine]: unknown key(s) {', '.join(sorted(unknown))} (kind, master, lake)")
    for key, value in section.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"costlab.toml [engine] {key} must be a non-empty string, got {value!r}")
    return section


def resolve(kind: str | None, lake: Path | str | None, master: str | None, config: Config | None) -> tuple[str, Path | str | None, str]:
    """(kind, lake, master) from the flags, else [engine] in costlab.toml, else duckdb over the store."""
    section = engine_settings(config)
    kind = (kind or section.get("kind") or "duckdb").lower()
    if kind not in KINDS:
        raise ConfigError(f"--engine {kind}: expected one of {', '.join(KINDS)}")
    if lake is None and section.get("lake"):
        lake = Path(section["lake"])  # relative to costlab.toml's folder, as db = "..." is
        if lakes.url(section["lake"]):
            lake = lakes.url(section["lake"])  # an s3a:// or s3:// lake (Spark only)
        elif not (lake.is_absolute() or config is None):
            lake = config.base_dir / lake
    master = master or section.get("master") or DEFAULT_MASTER
    if kind == "spark" and lake is None:
        raise ConfigError("--engine spark reads a lake: give --lake DIR (written by `costlab export`) "
                          "or [engine] lake in costlab.toml")
    return kind, lake, master


def open_engine(kind: str, lake: Path | str | None = None, master: str = DEFAULT_MASTER, config: Config | None = None,
                db: Path | str | None = None, read_only: bool = True) -> Any:
    """An open engine (a context manager): the store, DuckDB over a lake, or Spark over a lake."""
    if kind == "spark":
        return SparkEngine(lakes.check(lake), master=master, config=config)
    if lake is None:
        return open_store(db, config, read_only=read_only)
    if lakes.url(lake):
        raise ConfigError(f"--lake {lakes.url(lake)}: DuckDB reads a local lake here; an s3a:// lake is read with "
                          "--engine spark (docs/lake.md)")
    return duckdb_lake(lakes.check(lake), config)


def duckdb_lake(lake: Path, config: Config | None = None) -> Store:
    """An in-memory store over the lake (costlab.lake.open_lake: costed_requests and the small tables
    as views over its Parquet files, costlab's macros defined), with `requests` the same rows."""
    store = open_lake(lake, config)
    try:
        # `requests` is the lake view's own text, not a view of the name costed_requests: a detectors'
        # window (a temp costed_requests) shadows that name, and DuckDB drops a catalog qualifier
        body = store.scalar("select sql from duckdb_views() where view_name = 'costed_requests' and not temporary")
        head = "CREATE VIEW costed_requests AS "
        if not body.startswith(head):
            raise ConfigError(f"unexpected lake view: {body[:60]}")
        store.execute("create view requests as " + body[len(head):].rstrip().rstrip(";"))
        for table, sql in lakes.stand_ins().items():  # the store tables a lake does not carry: empty
            store.execute(f"create view {table} as {sql}")
        store.execute_script(load("internal/tier_ladder").text)  # the detectors' tier ladder (reads the lake's tables)
        store.gaps = lakes.LAKE_GAPS  # said beside the findings and in the report (costlab.signals.run_signals)
    except BaseException:
        store.close()
        raise
    return store


__all__ = ["KINDS", "DEFAULT_MASTER", "SparkEngine", "open_engine", "resolve", "duckdb_lake", "cast_to_returns", "engines"]
