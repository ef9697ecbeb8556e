"""The test server's books: what it charged each API key, known by a fingerprint, never by the key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal


@dataclass
class Books:
    """What the server charged one API key: paid calls and dollars, judge calls apart."""

    calls: int = 0
    usd: Decimal = Decimal(0)
    judge_calls: int = 0
    judge_usd: Decimal = Decimal(0)


def fingerprint(key: str | None) -> str:
    """How the server names a key in its books (never the key itself)."""
    return hashlib.sha256((key or "").encode()).hexdigest()[:16]
