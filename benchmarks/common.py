"""Helpers every benchmark script shares: what machine it ran on, timing, peak memory, and writing a
section of benchmarks/RESULTS.md.

    from common import Timer, describe, peak_rss_bytes, record_section
    with Timer() as t:
        work()
    record_section("Pricing", body_markdown)      # replaces an earlier "## Pricing" section, or appends

Scripts run from the repository root (`.venv/bin/python benchmarks/bench_x.py`) and put this folder on
sys.path themselves. Heavy work belongs in a subprocess when its peak memory is reported, because
ru_maxrss is a high-water mark for the whole process.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """Cores, memory, CPU, versions, date and load: enough to tell whether two figures compare."""
    import duckdb
    import polars

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 0
    mem = _mem_total_bytes()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cores": cores,
        "memory_gib": round(mem / 2**30, 1) if mem else None,
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_1m": round(load[0], 2) if load else None,
    }


def describe(info: dict | None = None) -> str:
    """The machine as one Markdown line."""
    i = info or machine_info()
    load = f"; 1-minute load average {i['load_avg_1m']} at start" if i.get("load_avg_1m") is not None else ""
    return (f"Machine: {i['cores']} cores ({i['cpu']}), {i['memory_gib']} GiB, {i['os']}; Python {i['python']}, "
            f"duckdb {i['duckdb']}, polars {i['polars']}; {i['date']}{load}.")


class Timer:
    """Wall and CPU seconds of a block (CPU counts every thread of this process, DuckDB's included)."""

    def __enter__(self) -> "Timer":
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux: its own VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


def processes() -> dict[int, tuple[int, float, int]]:
    """Every live process (Linux /proc): pid -> (parent pid, CPU seconds user + system, resident bytes).
    For the benchmarks that count a process tree (a Spark driver's JVM, its executors, pytest's workers)."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    table: dict[int, tuple[int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, int(fields[21]) * page)
    return table


def below(root: int, table: dict[int, tuple[int, float, int]]) -> set[int]:
    """`root` and every live process under it in `table` (processes())."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


# The same for the child scripts the benchmarks run with `python -c` (each child's own peak, as
# `peak_bytes()`): they import it from here. ru_maxrss is not that on Linux: it survives exec, so a
# child of a big parent reports the parent's peak.
PEAK = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from common import peak_rss_bytes as peak_bytes
"""


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def rate(rows: float, seconds: float) -> str:
    """Rows per second, human-sized."""
    r = rows / seconds if seconds else float("inf")
    return f"{r / 1e6:.2f}M/s" if r >= 1e6 else f"{r / 1e3:.1f}k/s" if r >= 1e3 else f"{r:.0f}/s"


PREAMBLE = """# Benchmark results

Figures recorded by the scripts in this folder (see README.md for how to run each). Every section
names the command that produced it and the machine it ran on, and is written by the script itself:
`bench_pricing.py --record` rewrites the "Pricing" section, the other scripts (ingest, report,
replay) append theirs with `--record`.

The reference machine is a 2-core cloud VM (AMD EPYC, 24 GB, no swap) that is shared with other
work: wall-clock figures can be inflated by neighbours, so the scripts report the best of several
runs and, where it matters, the CPU time next to the wall time.
"""


def record_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Write `## {title}` followed by `body` into RESULTS.md, replacing that section if present.

    A section runs from its `## ` heading to the next `## ` heading. Sections other scripts appended
    are kept in place.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else PREAMBLE
    lines = text.splitlines()
    heading = f"## {title}"
    start = next((i for i, line in enumerate(lines) if line == heading or line.startswith(heading + " ")), None)
    new = [heading, "", *body.strip("\n").splitlines()]
    if start is None:
        lines += ["", *new]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = new + ([""] if end < len(lines) else [])
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def side_by_side(name: str, rows: int, path: Path, raw: list[tuple], ours: list[tuple]) -> dict:
    """One result row of a raw-DuckDB-vs-costlab comparison; each run is (seconds, rows, peak bytes)."""
    best_raw, best_ours = min(raw), min(ours)
    return {
        "format": name, "rows": rows, "file_mb": round(path.stat().st_size / 1e6, 1),
        "raw_s": round(best_raw[0], 2), "raw_rows_per_s": round(rows / best_raw[0]),
        "costlab_s": round(best_ours[0], 2), "costlab_rows_per_s": round(rows / best_ours[0]),
        "ratio": round(best_raw[0] / best_ours[0], 2),
        "raw_peak_gb": round(max(r[2] for r in raw) / 2**30, 2),
        "costlab_peak_gb": round(max(r[2] for r in ours) / 2**30, 2),
        "all_runs_s": {"raw": [round(r[0], 2) for r in raw], "costlab": [round(r[0], 2) for r in ours]},
    }


def side_by_side_table(results: list[dict]) -> list[str]:
    """The Markdown table RESULTS.md shows for side_by_side rows."""
    lines = ["| format | rows | file | raw DuckDB | costlab | costlab / raw | peak memory (raw, costlab) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['format']} | {r['rows']:,} | {r['file_mb']} MB | {r['raw_s']} s ({r['raw_rows_per_s']:,}/s) | "
                     f"{r['costlab_s']} s ({r['costlab_rows_per_s']:,}/s) | {r['ratio']} | "
                     f"{r['raw_peak_gb']} GB, {r['costlab_peak_gb']} GB |")
    return lines
