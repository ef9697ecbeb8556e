"""The Spark engine: costlab's query files over a lake, in a SparkSession (the only module importing pyspark).

pyspark is the optional extra `costlab[spark]` (Java 17+ is its one system prerequisite), so it is
imported when a session is made, not when costlab is. The session runs as costlab's queries assume:
time zone UTC, ANSI on (an overflowing cast fails instead of turning NULL) and
spark.sql.decimalOperations.allowPrecisionLoss=false (DECIMAL products keep their scale). Queries
are transpiled by costlab.engine.portable; only files whose header lists spark run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from costlab.config import Config
from costlab.engine import lake as lakes
from costlab.engine.portable import engines, to_spark
from costlab.engine.returns import cast_to_returns
from costlab.errors import ConfigError, CostlabError, QueryError
from costlab.store.queries import load, parse

LAKE_VIEW = "_costlab_lake_costed"  # the lake's costed requests, whatever window shadows costed_requests
LAKE_TABLES = ("price_card", "models", "model_aliases", "prices", "price_discounts")  # costlab.lake's small tables

# Settings every costlab session has; the values are part of the queries' meaning (see the module doc).
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
}
# A small footprint for local and test runs (the shared 2-core test machine); a cluster's own
# spark-defaults.conf (executor memory, cores) governs the executors.
LOCAL_SETTINGS = {
    "spark.driver.memory": "1g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}


def session(master: str = "local[2]", app_name: str = "costlab", extra: dict[str, str] | None = None) -> Any:
    """A SparkSession for `master` (local[N], spark://host:port or sc://host:port) with SETTINGS."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 (the optional extra, loaded on use)
    except ImportError as ex:
        raise ConfigError("--engine spark needs pyspark: pip install 'costlab[spark]' (and Java 17+)") from ex
    builder = SparkSession.builder.appName(app_name)
    if master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        builder = builder.master(master)
        for key, value in {**LOCAL_SETTINGS, **(extra or {})}.items():
            builder = builder.config(key, value)
    for key, value in SETTINGS.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as ex:  # noqa: BLE001 (py4j and the JVM raise their own kinds: one clear error)
        raise ConfigError(f"could not start Spark at {master}: {str(ex).splitlines()[0] if str(ex) else type(ex).__name__}"
                          " (is Java 17+ installed and the master reachable?)") from ex
    for key, value in SETTINGS.items():  # a session that existed already (getOrCreate) gets them too
        spark.conf.set(key, value)
    if not master.startswith("sc://"):
        spark.sparkContext.setLogLevel("FATAL")  # a failed query is raised as a QueryError, not logged as JSON too
    return spark


def _active() -> Any:
    """The SparkSession already running in this process (one per JVM), or None."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 (the optional extra, loaded on use)
    except ImportError:
        return None
    return SparkSession.getActiveSession()


class SparkEngine:
    """A lake read through Spark: temp views requests, costed_requests, price_card and models."""

    kind = "spark"

    def __init__(self, lake: Path, master: str = "local[2]", config: Config | None = None, spark: Any = None):
        self.lake = Path(lake)
        self.master = master
        self.config = config or Config()
        if spark is None:
            spark = _active()
            self._own = spark is None  # a session handed in or already running here is not stopped here
            spark = spark if spark is not None else session(master)
        else:
            self._own = False
        self.spark = spark
        self._window: Any = None  # the detectors' window, cached (materialize_window)
        self._register()

    def _register(self) -> None:
        where = str(self.lake.resolve())
        requests = self.spark.read.option("basePath", f"{where}/requests").parquet(f"{where}/requests")
        requests.createOrReplaceTempView("lake_requests")
        columns = list(requests.columns)
        body = to_spark(lakes.costed_requests_sql("lake_requests", columns), name="lake view")
        self.spark.sql(f"create or replace temp view costed_requests as {body}")
        self.spark.sql(f"create or replace temp view requests as {body}")
        self.spark.sql(f"create or replace temp view {LAKE_VIEW} as {body}")  # what drop_window restores
        for table in ("price_card", "models", *(t for t in LAKE_TABLES if t not in ("price_card", "models"))):
            folder = self.lake / table
            if folder.is_dir() and any(folder.glob("*.parquet")):
                self.spark.read.parquet(str(folder.resolve())).createOrReplaceTempView(table)
        for table, sql in lakes.stand_ins().items():  # the store tables a lake does not carry: empty
            self.spark.sql(f"create or replace temp view {table} as {to_spark(sql, name=table)}")

    # -- the analyses' window (costlab.signals.window, the report) --------------------------------
    def materialize_window(self, start: Any, end: Any, extra_columns: Any = ()) -> None:
        """[start, end) of the lake as costed_requests, cached in the executors (Spark's temp table),
        so the detectors and the report's queries read it once from the Parquet files. Every column
        is kept (`extra_columns` are among them); ids are kept as they are (DuckDB's store path hashes
        them to save memory; counts are the same). Undo with drop_window."""
        self.drop_window()
        sql = to_spark(f"select * from {LAKE_VIEW} where ts >= $since and ts < $until", {"since": start, "until": end})
        frame = self.spark.sql(sql).cache()
        frame.createOrReplaceTempView("costed_requests")
        self._window = frame

    def drop_window(self) -> None:
        """costed_requests over the whole lake again, and the cached window released."""
        if self._window is not None:
            self._window.unpersist()
            self._window = None
        self.spark.sql(f"create or replace temp view costed_requests as select * from {LAKE_VIEW}")

    gaps = lakes.LAKE_GAPS
    exact_percentiles = True  # percentile() is exact and distributed: the report never approximates on Spark

    # -- the store's reading interface ------------------------------------------------------------
    def run_query(self, name: str, **params: Any) -> pl.DataFrame:
        """A query file (queries/NAME.sql) that lists spark among its engines, transpiled and run."""
        q = load(name)
        if "spark" not in engines(q):
            raise QueryError(f"{name}.sql does not run on Spark (its header has no `-- engines: duckdb, spark`): "
                             "use --engine duckdb")
        return cast_to_returns(self._run(to_spark(q.text, q.bind(params), name), name), q)

    def runs(self, name: str) -> bool:
        """Whether queries/NAME.sql runs on Spark (its header lists spark)."""
        return "spark" in engines(load(name))

    def query_file(self, path: Path, params: dict[str, Any]) -> pl.DataFrame:
        """`costlab sql -F FILE` on Spark: any file in the portable subset (the lint's rules)."""
        q = parse(path)
        return cast_to_returns(self._run(to_spark(q.text, q.bind(params), q.name), q.name), q)

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """One statement in costlab's DuckDB dialect, transpiled and run."""
        return self._run(to_spark(sql, params or {}), "query")

    user_frame = frame

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.frame(sql, params).rows()

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def _run(self, spark_sql: str, name: str) -> pl.DataFrame:
        try:
            table = self.spark.sql(spark_sql).toArrow()
        except CostlabError:
            raise
        except Exception as ex:  # noqa: BLE001 (Spark's AnalysisException and py4j errors: one QueryError)
            first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
            raise QueryError(f"{name}.sql failed on Spark: {first}") from ex
        return pl.from_arrow(table) if table.num_rows or table.num_columns else pl.DataFrame()

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        if self._own:
            self.spark.stop()

    def __enter__(self) -> "SparkEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
