"""The machine a benchmark ran on, as one Markdown line, so every recorded figure says where it came from."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    import duckdb
    import polars

    return (f"Machine: {os.cpu_count()} cores ({cpu}){mem}; Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}, polars {polars.__version__}.")
