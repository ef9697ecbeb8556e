"""Adaptive concurrency: how many paid calls may be in flight, halved when the API says it is busy."""

from __future__ import annotations

import threading
import time
from typing import Any


class Limiter:
    """AIMD concurrency: halve on 429/529 and pause for retry-after; +1 slot per `limit` successes."""

    def __init__(self, maximum: int):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.lowest = self.maximum
        self.pause_until = 0.0
        self.streak = 0
        self.throttles = 0
        self.lock = threading.Lock()

    def can_start(self, inflight: int) -> bool:
        with self.lock:
            return inflight < self.limit and time.monotonic() >= self.pause_until

    def on_response(self, status: int, headers: Any) -> None:
        if status in (429, 529):
            wait = retry_after(headers)
            with self.lock:
                self.throttles += 1
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self.streak = 0
                if wait:
                    self.pause_until = max(self.pause_until, time.monotonic() + wait)
        elif status < 400:
            with self.lock:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self.streak = 0


def retry_after(headers: Any) -> float:
    """Seconds the server asked to wait (retry-after-ms, else retry-after), 0 when it gave none."""
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except (TypeError, ValueError):
        pass
    return 0.0
