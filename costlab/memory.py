"""Memory: DuckDB's memory_limit for every store connection, the process set up to live inside an
address-space limit (`ulimit -v`), and running out of memory as one clear error.

| setting            | flag | environment           | costlab.toml                 | default                       |
|--------------------|------|-----------------------|------------------------------|-------------------------------|
| DuckDB memory      | -    | COSTLAB_MEMORY_LIMIT  | [report] memory_limit (report only), [ingest] memory_limit (ingest only, 1GB) | DuckDB's (80% of RAM); under `ulimit -v`, half the address space left when the store opens |

COSTLAB_MEMORY_LIMIT ("800MB", "2GB", "none") applies to every command's store connection and wins
over [report] and [ingest] memory_limit (environment over file). Past the limit DuckDB spills sorts, joins and
aggregates to `<store>.tmp`; what cannot spill fails with an OutOfMemoryError naming the settings.

Under an address-space limit (RLIMIT_AS, `ulimit -v`) DuckDB's default (80% of physical RAM) is far
more than the process may map, so its allocations failed outright instead of spilling; and glibc
reserves 64 MB of address space per thread's malloc arena, OpenBLAS starts a thread per core at
import: with a 1.5 GB limit threads could not even start (raw tracebacks, OpenBLAS messages, glibc
aborting with exit 127). `prepare_process` (the CLI runs it first) caps the arenas and OpenBLAS's
threads, and `store_limit` gives DuckDB half the address space still free when the store opens.
"""

from __future__ import annotations

import errno
import os
import re
import sys

from costlab.errors import ConfigError, OutOfMemoryError

ENV = "COSTLAB_MEMORY_LIMIT"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_M_ARENA_MAX = -8  # glibc mallopt parameter


def parse_size(text: str, where: str) -> int:
    """Bytes in "1.5GB", "800MB", "512MiB" (DuckDB's spelling of a memory_limit)."""
    m = _SIZE.match(str(text))
    if not m:
        raise ConfigError(f'{where}: expected a size like "1.5GB" or "800MB", or "none", got {text!r}')
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def address_space_limit() -> int | None:
    """The process's RLIMIT_AS in bytes (`ulimit -v`), or None when there is none."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def _mapped_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def prepare_process() -> None:
    """Before numpy or any worker thread starts: one OpenBLAS thread (costlab's arrays need no
    threaded BLAS, and its per-core threads fail to start under `ulimit -v`, printing to stderr);
    under an address-space limit, one polars thread and at most two glibc malloc arenas (each reserves
    64 MB of it)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if address_space_limit() is None:
        return
    # polars starts its thread pool on first use; under a tight `ulimit -v` a thread whose TLS cannot be
    # allocated aborts the process in glibc ("cannot allocate memory for thread-local data"), before any
    # error costlab could report. One polars thread: DuckDB does the heavy work, polars the small frames.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    # The same for Arrow's CPU pool (its capacity defaults to OMP_NUM_THREADS when set), which the
    # frames' conversions start: `costlab signals` under 300 MB aborted so once in a CI run (1 of 12 commands).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):  # not glibc: its arenas are not the problem there
        pass


def store_limit() -> str | None:
    """DuckDB's memory_limit for a new store connection: COSTLAB_MEMORY_LIMIT ("none": DuckDB's own
    default), else under an address-space limit half of what is left of it, else None (DuckDB's)."""
    value = os.environ.get(ENV, "").strip()
    if value:
        if value.lower() == "none":
            return None
        parse_size(value, f"${ENV}")
        return value
    limit = address_space_limit()
    if limit is None:
        return None
    mapped = _mapped_bytes()
    free = limit - mapped if mapped is not None else limit // 2
    return f"{max(free // 2, 64 << 20) >> 20}MiB"


def fixed_by_environment() -> bool:
    """True when COSTLAB_MEMORY_LIMIT sets DuckDB's limit for the whole process (it wins over [report])."""
    return bool(os.environ.get(ENV, "").strip())


def advice() -> str:
    """What to raise, for the message of an OutOfMemoryError."""
    rlimit = address_space_limit()
    env = os.environ.get(ENV, "").strip()
    now = f" (now {ENV}={env})" if env else ""
    if rlimit:
        raise_it = (f"costlab may map only {rlimit / 2**30:.1f} GiB (ulimit -v): raise that. DuckDB's memory_limit "
                    f"is half of what is free of it when the store opens ({ENV} sets it instead{now}).")
    else:
        raise_it = (f"Raise DuckDB's memory_limit: {ENV}=4GB for any command{now}, or [report] memory_limit in "
                    "costlab.toml for the report ([ingest] memory_limit for ingest); or free memory on this machine.")
    return f"{raise_it} A narrower --since/--until needs less. Nothing from the unfinished step was written."


def as_out_of_memory(ex: BaseException) -> OutOfMemoryError | None:
    """`ex` as an OutOfMemoryError when it means the process ran out of memory (DuckDB's
    OutOfMemoryException, MemoryError and pyarrow's, a thread or a library that could not be mapped,
    a polars worker that could not start), else None."""
    if isinstance(ex, OutOfMemoryError):
        return ex
    full = str(ex)
    text = full.strip().splitlines()[0] if full.strip() else type(ex).__name__
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(ex, duckdb.OutOfMemoryException):
        return OutOfMemoryError(f"DuckDB ran out of memory ({text}). {advice()}")
    if duckdb is not None and isinstance(ex, duckdb.Error) and _starved(full, _DUCKDB_STARVED):
        # e.g. a FatalException: a commit could not allocate, and DuckDB closed the database (the
        # transaction did not commit; the file reopens as it was)
        return OutOfMemoryError(f"DuckDB ran out of memory ({_starved(full, _DUCKDB_STARVED)}). {advice()}")
    if isinstance(ex, MemoryError):
        detail = f"{type(ex).__name__}: {text}" if text != type(ex).__name__ else text
        return OutOfMemoryError(f"out of memory ({detail}). {advice()}")
    if isinstance(ex, OSError) and ex.errno == errno.ENOMEM:
        return OutOfMemoryError(f"out of memory ({text}). {advice()}")
    # A thread (Python's, polars' workers) or a shared library that could not be mapped, an Arrow
    # buffer DuckDB could not fill (an OSError from pyarrow's reader): the address space ran out.
    if isinstance(ex, (RuntimeError, ImportError, OSError)) or type(ex).__name__ == "PanicException":
        line = _starved(full, _STARVED)
        if line:
            return OutOfMemoryError(f"out of memory ({line}). {advice()}")
    return None


_DUCKDB_STARVED = ("bad allocation", "out of memory", "failed to allocate", "allocation failure")
_STARVED = ("can't start new thread", "failed to map segment", "cannot allocate memory",
            "can't spawn worker thread", "out of memory")


def _starved(text: str, marks: tuple[str, ...]) -> str | None:
    """The first line of `text` that says memory ran out, or None."""
    for line in text.splitlines():
        if any(m in line.lower() for m in marks):
            return line.strip().strip('"')
    return None
