"""The driver of the standalone-cluster smoke test (tests/engine/test_spark_standalone.py), run as its
own process (one SparkContext per process, and the test run's own local[2] session lives in pytest):

    python standalone_job.py spark://127.0.0.1:PORT LAKE OUT.parquet

Waits for both executors, runs cost_by_tier_model_day over the lake, writes the frame to OUT.parquet
and prints {"executors": {id: tasks run}} as JSON from the application's REST status API."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from costlab.engine.spark import SparkEngine, session
from sparkenv import JVM_QUICK

master, lake, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

spark = session(master, app_name="costlab-standalone-smoke", extra={
    "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2",
    "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.port": "0",
    "spark.driver.extraJavaOptions": JVM_QUICK, "spark.executor.extraJavaOptions": JVM_QUICK,
    "spark.sql.shuffle.partitions": "2",
})
sc = spark.sparkContext
deadline = time.monotonic() + 180
while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.monotonic() < deadline:  # the driver + 2
    time.sleep(1)
engine = SparkEngine(lake, spark=spark)
frame = engine.run_query("cost_by_tier_model_day")
engine.run_query("cost_by_feature")
frame.write_parquet(out)
with urllib.request.urlopen(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/allexecutors", timeout=30) as r:
    executors = json.load(r)
print(json.dumps({"executors": {e["id"]: e["totalTasks"] for e in executors if e["id"] != "driver"}}))
spark.stop()
