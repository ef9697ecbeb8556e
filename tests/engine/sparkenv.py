"""Whether Spark can run here (pyspark and Java 17+), for the engine tests' skips."""

from __future__ import annotations

import shutil
import subprocess

# The tests' JVMs are short-lived and run each query a few times on small data: the serial GC (one
# thread, small heaps). Not the C1 compiler alone (-XX:TieredStopAtLevel=1, measured in
# benchmarks/RESULTS.md, "Spark tests"): it shrinks the code cache to 48 MB, which the whole Spark suite
# filled in a full run ("CodeCache is full. Compiler has been disabled", then the JVM failed).
# Only the tests' JVMs: costlab's own sessions keep Java's defaults.
JVM_QUICK = "-XX:+UseSerialGC"


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'costlab[spark]'; make test installs it)"
    java = shutil.which("java")
    if java is None:
        return "no Java on PATH: Spark needs Java 17+ (apt-get install openjdk-17-jre-headless)"
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    if '"1.' in out or any(f'"{v}.' in out or f'"{v}"' in out for v in range(9, 17)):
        return f"Spark 4 needs Java 17+, found: {out.splitlines()[0] if out else '?'}"
    return None
