"""What the Spark tests cost: wall seconds and the CPU seconds of every process of the run.

The pytest process starts a JVM (the run's one SparkSession), a standalone master and two workers and
their executors, and Python workers below them; none of those is waited for by pytest, so `time` and
getrusage miss most of the CPU. This samples /proc every half second and keeps, per process, the last
user + system time seen below the root: the sum is the run's CPU (a process that lives under half a
second is missed: Spark's are long-lived). Load average before and after, since the machine is shared.

    .venv/bin/python benchmarks/bench_spark_tests.py                      # tests/engine tests/lake
    .venv/bin/python benchmarks/bench_spark_tests.py -- tests/engine/test_spark_signals.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import below, processes  # noqa: E402


def run(cmd: list[str], every: float = 0.5) -> dict:
    """Run `cmd`; wall seconds, CPU seconds of its process tree, exit code, load average before/after."""
    seen: dict[int, float] = {}
    load_before = os.getloadavg()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            table = processes()  # every live descendant (a JVM's parent can be a bash launcher that exec'd)
            for pid in below(proc.pid, table):
                if pid in table:
                    seen[pid] = max(seen.get(pid, 0.0), table[pid][1])
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    done.set()
    sampler.join()
    return {"command": " ".join(cmd[1:]), "exit": code, "wall_s": round(time.monotonic() - start, 1),
            "cpu_s": round(sum(seen.values()), 1), "processes": len(seen),
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", default=["tests/engine", "tests/lake"])
    args = parser.parse_args()
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=15", *args.pytest_args])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
