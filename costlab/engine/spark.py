"""The Spark engine: costlab's query files over a lake, in a SparkSession (the only module importing pyspark).

pyspark is the optional extra `costlab[spark]` (Java 17+ is its one system prerequisite), so it is
imported when a session is made, not when costlab is. The session runs as costlab's queries assume:
time zone UTC, ANSI on (an overflowing cast fails instead of turning NULL) and
spark.sql.decimalOperations.allowPrecisionLoss=false (DECIMAL products keep their scale). Queries
are transpiled by costlab.engine.portable; only files whose header lists spark run.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from costlab.config import Config
from costlab.engine import lake as lakes
from costlab.engine.portable import engines, to_spark
from costlab.engine.returns import cast_to_returns
from costlab.errors import ConfigError, CostlabError, QueryError
from costlab.keys import check_env_keys
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
        local = {"spark.pyspark.python": sys.executable} if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON") else {}
        for key, value in {**LOCAL_SETTINGS, **local, **(extra or {})}.items():
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
        if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            # Spark's Python workers (the S3 data source's readers) run this interpreter, whose packages
            # (pyarrow) costlab has, not whatever `python3` is first on PATH. A cluster's executors take
            # PYSPARK_PYTHON or spark.pyspark.python from their own configuration.
            spark.sparkContext.pythonExec = sys.executable
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
        # An s3:// lake: Hadoop's S3A connector where the cluster has it (or Spark Connect, whose server
        # reads S3 its own way), else costlab's Python data source over pyarrow's S3 client (s3_parquet).
        self.reader = "parquet"
        if self.url and getattr(self.spark, "_jsc", None) is not None and not has_s3a(self.spark):
            self.reader = S3_SOURCE
        if self.url and self.reader == "parquet":
            s3a(self.spark, self.url)
        where = self.url or str(self.lake.resolve())
        if self.reader == S3_SOURCE:
            requests = s3_parquet(self.spark, f"{self.url}/requests")
        else:
            requests = self.spark.read.option("basePath", f"{where}/requests").parquet(f"{where}/requests")
        requests.createOrReplaceTempView("lake_requests")
        columns = list(requests.columns)
        body = to_spark(lakes.costed_requests_sql("lake_requests", columns), name="lake view")
        self.spark.sql(f"create or replace temp view costed_requests as {body}")
        self.spark.sql(f"create or replace temp view requests as {body}")
        self.spark.sql(f"create or replace temp view {LAKE_VIEW} as {body}")  # what drop_window restores
        for table in ("price_card", "models", *(t for t in LAKE_TABLES if t not in ("price_card", "models"))):
            if self.reader == S3_SOURCE:
                try:
                    s3_parquet(self.spark, f"{self.url}/{table}").createOrReplaceTempView(table)
                except ConfigError:  # a lake without the table: the queries that need it say so
                    pass
                continue
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


# -- s3:// lakes without Hadoop's connector: a Python data source over pyarrow's S3 client -------------
# pyspark 4's Python Data Source API (pyspark.sql.datasource): the driver lists the objects under a
# prefix and derives the Spark schema Spark's own Parquet reader would give (s3_schema); each object is one
# input partition, read in an executor's Python worker with pyarrow.fs.S3FileSystem and handed to Spark
# as Arrow record batches. The executors need pyspark and pyarrow (pyspark's own Arrow requirement),
# not costlab: the source's classes are made in a function, so they travel by value with the plan.
S3_SOURCE = "costlab_s3_parquet"


def s3_filesystem_args() -> dict[str, str]:
    """pyarrow.fs.S3FileSystem's arguments from the AWS environment variables (the driver's), the way
    costlab's S3 ingest and export take them: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (path-style, for
    MinIO or a test server), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_REGION or
    AWS_DEFAULT_REGION. Unset ones are left to pyarrow's own AWS chain (config files, instance role)."""
    check_env_keys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    args: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        args["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        args["scheme"] = parts.scheme or "https"
    for env, key in (("AWS_ACCESS_KEY_ID", "access_key"), ("AWS_SECRET_ACCESS_KEY", "secret_key"),
                     ("AWS_SESSION_TOKEN", "session_token")):
        if os.environ.get(env):
            args[key] = os.environ[env]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        args["region"] = region
    return args


def _s3(args: dict[str, str]) -> Any:
    import pyarrow.fs as pafs  # noqa: PLC0415 (pyarrow maps ~100 MB: only when an S3 lake is read)

    return pafs.S3FileSystem(**args)


_HIDDEN = ("_", ".")  # Spark's file listing skips files and folders whose names start with these


def s3_files(fs: Any, url: str) -> list[tuple[str, dict[str, str]]]:
    """[(bucket/key, {partition column: value})] of the data objects under `url` (s3:// or s3a://),
    listed as Spark's Parquet reader lists a folder: recursively, names starting with _ or . skipped,
    `name=value` folders as Hive partitions."""
    import pyarrow.fs as pafs  # noqa: PLC0415 (only when an S3 lake is read)

    root = re.sub(r"(?i)^s3a?://", "", url).rstrip("/")
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as ex:
        raise ConfigError(f"s3://{root}: cannot list it: {str(ex).splitlines()[0]}") from ex
    out = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(root):].strip("/").split("/")
        if any(part.startswith(_HIDDEN) for part in rel):
            continue
        out.append((info.path, dict(part.split("=", 1) for part in rel[:-1] if "=" in part)))
    return sorted(out)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _partition_type(values: list[str]) -> str:
    """The type Spark's partition inference gives these folder values (the ones a lake has: an
    integer, a date, else a string)."""
    if values and all(re.fullmatch(r"-?\d{1,9}", v) for v in values):
        return "int"
    if values and all(_DAY.match(v) for v in values):
        try:
            for v in values:
                date.fromisoformat(v)
            return "date"
        except ValueError:
            pass
    return "string"


def _spark_type(arrow_type: Any, name: str, ntz: bool) -> str:
    """The Spark type (DDL) Spark's Parquet reader gives a column pyarrow reads as `arrow_type`: the
    mapping of Spark's ParquetToSparkSchemaConverter for the flat types a lake holds (unsigned 64-bit as
    DECIMAL(20,0), a timestamp adjusted to UTC as TIMESTAMP, a local one as TIMESTAMP_NTZ)."""
    import pyarrow as pa  # noqa: PLC0415 (only when an S3 lake is read)

    t = pa.types
    if isinstance(arrow_type, pa.ExtensionType):  # JSON and UUID extension types: their storage
        arrow_type = arrow_type.storage_type
    simple = [(t.is_boolean, "boolean"), (t.is_int8, "tinyint"), (t.is_int16, "smallint"), (t.is_int32, "int"),
              (t.is_int64, "bigint"), (t.is_uint8, "smallint"), (t.is_uint16, "int"), (t.is_uint32, "bigint"),
              (t.is_uint64, "decimal(20,0)"), (t.is_float32, "float"), (t.is_float64, "double"),
              (t.is_date32, "date"), (t.is_date64, "date")]
    for test, ddl in simple:
        if test(arrow_type):
            return ddl
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return "string"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type) or t.is_fixed_size_binary(arrow_type):
        return "binary"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if t.is_timestamp(arrow_type):
        return "timestamp" if arrow_type.tz is not None or not ntz else "timestamp_ntz"
    raise ConfigError(f"column {name!r} of the S3 lake has type {arrow_type}, which costlab's S3 reader for Spark "
                      "does not read (flat columns only)")


def s3_parquet(spark: Any, url: str) -> Any:
    """A DataFrame over the Parquet objects under `url` (s3:// or s3a://) without Hadoop's S3 connector:
    the same columns and types `spark.read.parquet` gives a local copy of the folder (the files' columns in
    the first file's order, then the Hive partition columns; every column nullable), read by the Python data
    source S3_SOURCE, one input partition per object. A ConfigError when there is no object under `url`."""
    import pyarrow.parquet as pq  # noqa: PLC0415 (only when an S3 lake is read)

    args = s3_filesystem_args()
    fs = _s3(args)
    files = s3_files(fs, url)
    if not files:
        raise ConfigError(f"{url}: no Parquet objects under it (write a lake with `costlab export`)")
    try:
        arrow = pq.read_schema(files[0][0], filesystem=fs)
    except (OSError, ValueError) as ex:  # pyarrow's IO errors, ArrowInvalid (not Parquet)
        raise ConfigError(f"s3://{files[0][0]}: cannot read its Parquet schema: {str(ex).splitlines()[0]}") from ex
    ntz = str(spark.conf.get("spark.sql.parquet.inferTimestampNTZ.enabled", "true")).lower() == "true"
    keys = list(dict.fromkeys(k for _, parts in files for k in parts))
    if any(set(parts) != set(keys) for _, parts in files):
        raise ConfigError(f"{url}: its objects are not all under the same partition folders ({', '.join(keys)})")
    columns = [(f.name, _spark_type(f.type, f.name, ntz)) for f in arrow if f.name not in keys]
    columns += [(k, _partition_type(sorted({parts[k] for _, parts in files}))) for k in keys]
    ddl = ", ".join(f"`{name.replace('`', '``')}` {kind}" for name, kind in columns)
    spark.dataSource.register(_s3_source(args))
    return spark.read.format(S3_SOURCE).schema(ddl).option("files", json.dumps(files)).load()


def _s3_source(fs_args: dict[str, str]) -> type:
    """The data source class, made here so that pyspark is imported only when an S3 lake is read and
    the class (with the S3 settings it closes over: sent with the plan, never shown in it as an option
    would be) is pickled by value for the executors."""
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition  # noqa: PLC0415 (the optional extra)

    class CostlabS3Parquet(DataSource):
        @classmethod
        def name(cls) -> str:
            return "costlab_s3_parquet"

        def reader(self, schema: Any) -> DataSourceReader:
            import json as _json  # noqa: PLC0415 (runs in Spark's Python workers)

            return CostlabS3ParquetReader(_json.loads(self.options["files"]), schema)

    class CostlabS3ParquetReader(DataSourceReader):
        def __init__(self, files: list, schema: Any):
            self.files = files
            self.schema = schema

        def partitions(self) -> list:
            return [InputPartition(i) for i in range(len(self.files))]

        def read(self, partition: Any) -> Any:
            # Runs in an executor's Python worker: pyarrow reads the object, every column is cast to the
            # type Spark was told (uint64 -> DECIMAL(20,0), ...), a column the object lacks is NULL, the
            # partition values are repeated from the object's folder names.
            import pyarrow as pa  # noqa: PLC0415
            import pyarrow.fs as pafs  # noqa: PLC0415
            import pyarrow.parquet as pq  # noqa: PLC0415
            from pyspark.sql.pandas.types import to_arrow_schema  # noqa: PLC0415

            path, parts = self.files[partition.value]
            target = to_arrow_schema(self.schema, timezone="UTC")
            fs = pafs.S3FileSystem(**fs_args)
            with fs.open_input_file(path) as handle:
                reader = pq.ParquetFile(handle)
                have = set(reader.schema_arrow.names)
                wanted = [f.name for f in target if f.name in have and f.name not in parts]
                for batch in reader.iter_batches(batch_size=65536, columns=wanted):
                    n = batch.num_rows
                    arrays = []
                    for field in target:
                        if field.name in parts:
                            arrays.append(pa.repeat(pa.scalar(parts[field.name]).cast(field.type), n))
                        elif field.name in have:
                            column = batch.column(field.name)
                            if isinstance(column.type, pa.ExtensionType):
                                column = column.storage
                            arrays.append(column if column.type == field.type else column.cast(field.type))
                        else:
                            arrays.append(pa.nulls(n, field.type))
                    yield pa.RecordBatch.from_arrays(arrays, schema=target)

    return CostlabS3Parquet


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
