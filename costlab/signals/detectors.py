"""The detectors: one SQL file each in queries/signals/, listed from the files themselves.

A detector is its query file. The header's first line names it and says what it looks for; two
more header lines place it:

    -- over_modeling: downgrade candidates: traffic on a tier whose shape ... says the next cheaper tier suffices
    -- rank: 1                                 its place in order of value (docs/signals.md numbers them the same)
    -- needs: latency_slo_ms or ttft_slo_ms    optional: runs only when one of these settings is given
    -- period: own                             optional: it judges the period asked about, not a trend
                                               against a baseline, so the report runs it on its own
                                               period, not on the detectors' look-back (data_quality)

Adding a detector is adding its file (plus its section in docs/signals.md and its tests); there is
no second list to keep (docs/architecture.md, "Adding a detector").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from costlab.errors import ConfigError
from costlab.store import queries

_RANK = re.compile(r"^--\s*rank:\s*(\d+)\b")
_NEEDS = re.compile(r"^--\s*needs:\s*(.+?)\s*$")
_PERIOD = re.compile(r"^--\s*period:\s*own\s*$")


@dataclass(frozen=True)
class Detector:
    """One detector: its id (the query file queries/signals/ID.sql) and what it looks for."""

    id: str
    title: str  # the header's purpose line
    rank: int  # in order of value: where the money and the risk usually are
    needs: tuple[str, ...] = ()  # settings of which at least one must be given, else it has nothing to look at
    own_period: bool = False  # judges only the period asked about (run_signals' `period_since`), no look-back

    @property
    def query(self) -> str:
        return f"signals/{self.id}"

    @property
    def path(self) -> str:
        return f"queries/signals/{self.id}.sql"


def _detector(name: str) -> Detector:
    q = queries.load(f"signals/{name}")
    rank, needs, own_period = None, (), False
    for line in q.text.splitlines():
        if not line.startswith("--"):
            break
        if m := _RANK.match(line):
            rank = int(m.group(1))
        elif m := _NEEDS.match(line):
            needs = tuple(s.strip() for s in m.group(1).split(" or "))
        elif _PERIOD.match(line):
            own_period = True
    if rank is None:
        raise ConfigError(f"{q.path}: the header has no '-- rank: N' line (its place among the detectors)")
    return Detector(name, q.purpose, rank, needs, own_period)


@cache
def detectors() -> tuple[Detector, ...]:
    """Every file in queries/signals/, by rank.

    Raises:
        ConfigError: a file without a rank, or two files with the same rank."""
    found = sorted((_detector(p.stem) for p in (queries.queries_dir() / "signals").glob("*.sql")),
                   key=lambda d: d.rank)
    ranks = [d.rank for d in found]
    if len(set(ranks)) != len(ranks):
        twice = sorted({r for r in ranks if ranks.count(r) > 1})
        raise ConfigError(f"queries/signals/: two detectors share rank {twice[0]}: "
                          + ", ".join(d.id for d in found if d.rank == twice[0]))
    return tuple(found)


# In order of value: where the money and the risk usually are.
DETECTORS: tuple[Detector, ...] = detectors()
BY_ID = {d.id: d for d in DETECTORS}
