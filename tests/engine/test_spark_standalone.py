"""A real standalone Spark cluster on 127.0.0.1 (a master and two workers, each its own JVM started from
pyspark's bundled spark-class): a summary query over the lake runs on it, both executors run tasks
(the application's REST status API says how many), and the rows are DuckDB's, exactly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from costlab.config import Config
from costlab.open import open_store
from sparkenv import JVM_QUICK, spark_missing

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_workers(web: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/json/", timeout=5) as r:
            return sum(1 for w in json.load(r).get("workers", []) if w.get("state") == "ALIVE")
    except OSError:
        return 0


def test_a_standalone_cluster_with_two_workers_runs_the_summary_on_both_exactly(lake_store, tmp_path):
    why = spark_missing()
    if why:
        pytest.skip(why)
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    spark_class = home / "bin" / "spark-class"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m",
           "SPARK_LOG_DIR": str(tmp_path), "SPARK_WORKER_DIR": str(tmp_path / "work"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_DAEMON_JAVA_OPTS": JVM_QUICK}
    port, web = _port(), _port()
    master = f"spark://127.0.0.1:{port}"
    logs = []
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed in finally)
        logs.append(log)
        procs.append(subprocess.Popen([str(spark_class), *args], env=env, stdout=log, stderr=subprocess.STDOUT))

    db, lake = lake_store
    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(web))
        for i in (1, 2):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
                  "--cores", "1", "--memory", "768m", "--webui-port", str(_port()), "--work-dir", str(tmp_path / f"w{i}"))
        deadline = time.monotonic() + 240
        while _alive_workers(web) < 2:
            assert time.monotonic() < deadline, "the two workers did not register: " + (tmp_path / "worker1.log").read_text()[-2000:]
            assert all(p.poll() is None for p in procs), "a Spark daemon exited: " + (tmp_path / "master.log").read_text()[-2000:]
            time.sleep(2)
        out = tmp_path / "out.parquet"
        job = subprocess.run([sys.executable, str(HERE / "standalone_job.py"), master, str(lake), str(out)],
                             env={**env, "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), env.get("PYTHONPATH", "")])},
                             capture_output=True, text=True, timeout=600)
        assert job.returncode == 0, job.stderr[-4000:]
        executors = json.loads(job.stdout.strip().splitlines()[-1])["executors"]
        assert len(executors) == 2, executors
        assert all(tasks > 0 for tasks in executors.values()), executors
        with open_store(db, Config(), read_only=True) as store:
            expected = store.run_query("cost_by_tier_model_day")
        assert_frame_equal(pl.read_parquet(out), expected, check_exact=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
