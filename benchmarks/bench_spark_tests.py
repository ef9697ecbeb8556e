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
TICK = os.sysconf("SC_CLK_TCK")


def _snapshot() -> tuple[dict[int, int], dict[int, float]]:
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    return parents, cpu


def run(cmd: list[str], every: float = 0.5) -> dict:
    """Run `cmd`; wall seconds, CPU seconds of its process tree, exit code, load average before/after."""
    seen: dict[int, float] = {}
    load_before = os.getloadavg()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    done = threading.Event()

    def sample() -> None:
        below = {proc.pid}
        while not done.is_set():
            parents, cpu = _snapshot()
            changed = True
            while changed:  # every live descendant (a JVM's parent can be a bash launcher that exec'd)
                changed = False
                for pid, parent in parents.items():
                    if parent in below and pid not in below:
                        below.add(pid)
                        changed = True
            for pid in below:
                if pid in cpu:
                    seen[pid] = max(seen.get(pid, 0.0), cpu[pid])
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
