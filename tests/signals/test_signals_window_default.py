"""The detectors' window follows the data (issue 13, item 10: checked): it ends with the day of the last
plausible request, whatever the clock says; a window that holds none of the data names the days the
data runs instead of calling the timestamps implausible, and the report of a week before the data
gets no findings rather than an error."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from costlab import signals
from costlab.config import Config

from helpers import inject


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_the_default_window_ends_with_the_data_not_the_clock(store):
    inject(store, 200, utc(2026, 9, 1), utc(2026, 9, 15))  # months before the clock of any test run
    assert signals.window(store) == (utc(2026, 9, 1), utc(2026, 9, 15))


def test_an_until_before_the_data_names_the_days_the_data_runs(store):
    inject(store, 200, utc(2026, 11, 2), utc(2026, 11, 16))
    with pytest.raises(signals.EmptyWindow, match="no request falls before --until 2026-10-05: "
                                                  "the store's requests run 2026-11-02 to 2026-11-15"):
        signals.window(store, until=utc(2026, 10, 5))
    notes: list[str] = []
    found = signals.run_signals(store, until=utc(2026, 10, 5), config=Config(), notes=notes)
    assert found.height == 0 and notes == ["no request falls before --until 2026-10-05: "
                                           "the store's requests run 2026-11-02 to 2026-11-15"]
