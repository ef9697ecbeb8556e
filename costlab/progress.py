"""Progress on stderr (stdout is data): a rich bar over bytes or rows when stderr is a terminal, nothing otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeRemainingColumn)

from costlab.display import console

stderr = console(stderr=True, soft_wrap=True)  # never markup, and no control character from data


@contextmanager
def bytes_bar(total: int, label: str, enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Yield advance(n_bytes). Shown only when stderr is a terminal, so logs and CI stay clean."""
    with _bar(total, label, DownloadColumn(), enabled) as advance:
        yield advance


@contextmanager
def rows_bar(total: int, label: str, enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Yield advance(n_rows), shown as done/total. Only when stderr is a terminal."""
    with _bar(total, label, MofNCompleteColumn(), enabled) as advance:
        yield advance


@contextmanager
def _bar(total: int, label: str, count: ProgressColumn, enabled: bool | None) -> Iterator[Callable[[int], None]]:
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda n: None
        return
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), count, TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
