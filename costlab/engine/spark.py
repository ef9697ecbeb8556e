"""The Spark engine: costlab's query files over a lake, in a SparkSession (the only module importing pyspark).

pyspark is the optional extra `costlab[spark]` (Java 17+ is its one system prerequisite), so it is
imported when a session is made, not when costlab is. The session runs as costlab's queries assume:
time zone UTC, ANSI on (an overflowing cast fails instead of turning NULL) and
spark.sql.decimalOperations.allowPrecisionLoss=false (DECIMAL products keep their scale). Queries
are transpiled by costlab.engine.portable; only files whose header lists spark run.
"""

from __future__ import annotations

import os
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

    def __init__(self, lake: Path | str, master: str = "local[2]", config: Config | None = None, spark: Any = None):
        self.url = lakes.url(lake)  # an s3a:// lake (Hadoop's S3 connector), else None
        self.lake = Path(lake) if self.url is None else self.url
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
        if self.url:
            s3a(self.spark, self.url)
        where = self.url or str(self.lake.resolve())
        requests = self.spark.read.option("basePath", f"{where}/requests").parquet(f"{where}/requests")
        requests.createOrReplaceTempView("lake_requests")
        columns = list(requests.columns)
        body = to_spark(lakes.costed_requests_sql("lake_requests", columns), name="lake view")
        self.spark.sql(f"create or replace temp view costed_requests as {body}")
        self.spark.sql(f"create or replace temp view requests as {body}")
        self.spark.sql(f"create or replace temp view {LAKE_VIEW} as {body}")  # what drop_window restores
        for table in ("price_card", "models", *(t for t in LAKE_TABLES if t not in ("price_card", "models"))):
            if self.url:
                try:
                    self.spark.read.parquet(f"{self.url}/{table}").createOrReplaceTempView(table)
                except Exception:  # noqa: BLE001 (a lake without the table: the queries that need it say so)
                    pass
                continue
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

    def tables(self) -> set[str]:
        """The store tables this engine has (costlab.whatif.pass_sql.tables): none. A lake's store-only
        tables (replays, judgements, ...) are empty stand-in views, as over a lake on DuckDB."""
        return set()

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


# -- s3a:// lakes ------------------------------------------------------------------------------------
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
S3A_MISSING = ("Hadoop's S3 connector is not on Spark's classpath: an s3a:// lake needs the hadoop-aws jar of "
               "Spark's Hadoop version (pyspark 4.3: org.apache.hadoop:hadoop-aws:3.5.0) and the AWS SDK v2 bundle "
               "(software.amazon.awssdk:bundle), e.g. spark.jars.packages on a cluster or --jars; pyspark from PyPI "
               "does not ship them (docs/lake.md, 'S3 with Spark')")


def has_s3a(spark: Any) -> bool:
    """Whether Hadoop's S3A file system can be loaded in this session's JVM (a classic session)."""
    try:
        jvm = spark._jvm
        jvm.java.lang.Class.forName(S3A_CLASS, False, jvm.java.lang.Thread.currentThread().getContextClassLoader())
    except Exception:  # noqa: BLE001 (py4j's ClassNotFoundException)
        return False
    return True


def s3a(spark: Any, url: str) -> None:
    """Make an s3a:// lake readable: the connector checked, and (in a classic session) the endpoint and
    keys taken the AWS way (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL: path-style, for MinIO or a test
    server; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), unless the cluster's own settings give them."""
    if getattr(spark, "_jsc", None) is None:
        return  # Spark Connect: the server's configuration reads S3
    if not has_s3a(spark):
        raise ConfigError(f"--lake {url}: {S3A_MISSING}")
    conf = spark._jsc.hadoopConfiguration()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and conf.get("fs.s3a.endpoint") is None:
        conf.set("fs.s3a.endpoint", endpoint)
        conf.set("fs.s3a.path.style.access", "true")
        conf.set("fs.s3a.connection.ssl.enabled", "true" if endpoint.startswith("https") else "false")
    for env, key in (("AWS_ACCESS_KEY_ID", "fs.s3a.access.key"), ("AWS_SECRET_ACCESS_KEY", "fs.s3a.secret.key"),
                     ("AWS_SESSION_TOKEN", "fs.s3a.session.token")):
        if os.environ.get(env) and conf.get(key) is None:
            conf.set(key, os.environ[env])
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region and conf.get("fs.s3a.endpoint.region") is None:
        conf.set("fs.s3a.endpoint.region", region)


# -- pricing a lake (costlab.engine.lakeprice): small helpers over a session ------------------------------
_SPARK_TYPES = {"VARCHAR": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "INTEGER": "INT"}


def active() -> Any:
    """The SparkSession already running in this process, or None."""
    return _active()


def parquet_view(spark: Any, name: str, files: list[Path], schema: dict[str, str] | None = None,
                 base: Path | None = None) -> None:
    """A temp view `name` over Parquet `files`. With `schema` ({column: DuckDB type}) the files are read
    with exactly those columns (one a file lacks is NULL), and `base` gives the Hive partition columns."""
    reader = spark.read
    if schema is not None:
        ddl = ", ".join(f"`{c}` {_SPARK_TYPES.get(t.replace(' ', ''), t)}" for c, t in schema.items())
        reader = reader.schema(ddl)
    if base is not None:
        reader = reader.option("basePath", str(Path(base).resolve()))
    reader.parquet(*[str(Path(f).resolve()) for f in files]).createOrReplaceTempView(name)


def sql_view(spark: Any, name: str, spark_sql: str) -> None:
    """A temp view `name` (costlab's own name) over Spark SQL already transpiled."""
    _call(lambda: spark.sql(f"create or replace temp view `{name}` as {spark_sql}"), name)


def frame(spark: Any, spark_sql: str) -> pl.DataFrame:
    """Spark SQL already transpiled, as a polars frame."""
    table = _call(lambda: spark.sql(spark_sql).toArrow(), "query")
    return pl.from_arrow(table) if table.num_rows or table.num_columns else pl.DataFrame()


def write_days(spark: Any, spark_sql: str, out: Path) -> None:
    """The rows of `spark_sql` (with a `day` column) as Parquet under `out`/day=YYYY-MM-DD/, one file a day
    (each day's rows in one task), zstd, timestamps as Parquet TIMESTAMP (microseconds, UTC)."""
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    _call(lambda: spark.sql(spark_sql).repartition("day").write.partitionBy("day")
          .option("compression", "zstd").mode("errorifexists").parquet(str(Path(out).resolve())), "write")


def _call(run: Any, name: str) -> Any:
    try:
        return run()
    except CostlabError:
        raise
    except Exception as ex:  # noqa: BLE001 (Spark's AnalysisException and py4j errors: one QueryError)
        first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        raise QueryError(f"{name} failed on Spark: {first}") from ex
