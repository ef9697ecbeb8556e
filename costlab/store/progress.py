"""DuckDB's own progress of a running statement, for bars that move while one statement does the work
(an ingest's read of a 270 MB file, `generate`'s COPY, the what-if pass, a re-price).

DuckDB tracks a statement's progress only with `enable_progress_bar` on, and would then print its own
bar to stdout (which is data) unless `enable_progress_bar_print` is off: `watch` turns the first on
and the second off for its block, and puts them back after. A thread polls the connection's
`query_progress()` (a percentage, -1 when nothing runs) while the caller's thread runs statements.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import duckdb

POLL_SECONDS = 0.1


@contextmanager
def watch(con: duckdb.DuckDBPyConnection, on_progress: Callable[[float], None] | None,
          interval: float = POLL_SECONDS) -> Iterator[None]:
    """While the block runs, call `on_progress(fraction)` (0 to 1, from a polling thread, only when it
    changed) with the progress of whichever statement is running on `con`: each statement goes from 0
    to 1 on its own. No callback: the block runs as it would without."""
    if on_progress is None:
        yield
        return
    con.execute("set enable_progress_bar = true; set enable_progress_bar_print = false")
    stop = threading.Event()

    def poll() -> None:
        last = None
        while not stop.wait(interval):
            try:
                percent = con.query_progress()
            except duckdb.Error:
                continue
            if percent is None or percent < 0 or percent == last:
                continue
            last = percent
            try:
                on_progress(min(max(percent / 100.0, 0.0), 1.0))
            except Exception:  # a bar that cannot draw never stops the work
                pass

    thread = threading.Thread(target=poll, name="costlab-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        try:
            con.execute("set enable_progress_bar = false; reset enable_progress_bar_print")
        except duckdb.Error:
            pass  # the connection failed with the block's statement; its error is the one to see
