"""Ctrl-C and SIGTERM while a run executes: stop new calls at once, then stop waiting, then raise."""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable


class Stopper:
    """Ctrl-C and SIGTERM while a run executes (installed for the whole of execute, sending and judging).

    The handler never raises in the middle of a store write. The first signal sets `aborted`: no new
    call starts (nor a pairwise judge's second order); the calls in flight finish (each bounded by
    the client timeout) and are written. A second sets `abandoned`: stop waiting for the calls in
    flight; whatever has been answered is still written, the rest stays in the journal (in doubt on
    resume). A third raises KeyboardInterrupt. `abort()` is the same first step for a reason that is
    not a signal (the API refused the key).
    """

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.aborted = threading.Event()
        self.abandoned = threading.Event()
        self.signals = 0
        self.on_signal = on_signal  # told each signal's number (1, 2): to say what happens now
        self._previous: dict[int, Any] | None = None

    def __enter__(self) -> "Stopper":
        self._previous = _install(self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        _restore(self._previous)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.signals > 2:
            raise KeyboardInterrupt
        if self.signals == 2:
            self.abandoned.set()
        self.aborted.set()
        if self.on_signal is not None:
            self.on_signal(self.signals)

    def abort(self) -> None:
        self.aborted.set()

    @property
    def interrupted(self) -> bool:
        return self.signals > 0


def _install(handler: Callable[[int, Any], None]) -> dict[int, Any] | None:
    """Route SIGINT and SIGTERM to `handler` while sending (main thread only); return the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict[int, Any] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)
