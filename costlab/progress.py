"""Progress on stderr (stdout is data): a rich bar over bytes or rows when stderr is a terminal, nothing otherwise.

Each bar yields an `Advance`: call it with an amount done since the last call, or `.to(done)` with the
amount done so far (as a bar driven by DuckDB's progress of a statement reports: costlab.store's
`Store.progress`); either may be called from another thread, and the bar never moves backwards."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskProgressColumn,
                           TextColumn, TimeRemainingColumn)

from costlab.display import console

stderr = console(stderr=True, soft_wrap=True)  # never markup, and no control character from data


class Advance:
    """Moves one bar: `advance(n)` adds n, `advance.to(done)` sets the amount done (never lower than
    it is). `done` is what the bar shows; `reported` every position it was moved to, in order."""

    def __init__(self, move: Callable[[float], None] | None = None):
        self._move = move
        self._lock = threading.Lock()
        self.done = 0.0
        self.reported: list[float] = []

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn: callers hand DuckDB's progress (a polling thread) only to a shown bar."""
        return self._move is not None

    def __call__(self, n: float) -> None:
        with self._lock:
            self._set(self.done + n)

    def to(self, done: float) -> None:
        with self._lock:
            if done > self.done:
                self._set(done)

    def _set(self, done: float) -> None:
        self.done = done
        self.reported.append(done)
        if self._move is not None:
            self._move(done)


@contextmanager
def bytes_bar(total: int, label: str, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield advance(n_bytes). Shown only when stderr is a terminal, so logs and CI stay clean."""
    with _bar(total, label, DownloadColumn(), enabled) as advance:
        yield advance


@contextmanager
def rows_bar(total: int, label: str, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield advance(n_rows), shown as done/total. Only when stderr is a terminal."""
    with _bar(total, label, MofNCompleteColumn(), enabled) as advance:
        yield advance


@contextmanager
def fraction_bar(label: str, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield an Advance over the fraction done (0 to 1), shown as a percentage. Only when stderr is a terminal."""
    with _bar(1, label, TaskProgressColumn(), enabled) as advance:
        yield advance


@contextmanager
def _bar(total: int, label: str, count: ProgressColumn, enabled: bool | None) -> Iterator[Advance]:
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield Advance()
        return
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), count, TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield Advance(lambda done: bar.update(task, completed=done))
