"""Wrong-model signals: detectors that say where traffic is on the wrong model and what it costs.

Each detector is one SQL file in queries/signals/ (the same file an engineer runs by hand to drill
down, `costlab sql -F queries/signals/over_modeling.sql`); the package's modules:

    detectors.py   the detectors, listed from the query files' headers (id, purpose, rank, needs)
    params.py      their thresholds: header defaults, overridden by [signals] in costlab.toml
    window.py      the window they share and the priced table they read in it
    run.py         run_signals: every enabled detector over the window
    findings.py    the findings frame: order, severity counts, the text beside the table

    findings = signals.run_signals(store, since="8w")   # a polars frame, worst first
    signals.exceeds(findings, "high")                    # True when a weekly job should alert

See docs/signals.md.
"""

from costlab.signals.detectors import BY_ID, DETECTORS, Detector
from costlab.signals.findings import (
    COLUMNS, FINDINGS_EXIT, NOTE, SEVERITIES, counts, details, empty, exceeds, order, summary,
)
from costlab.signals.params import resolve_params
from costlab.signals.run import run_signals
from costlab.signals.window import (
    DEFAULT_SINCE, EmptyWindow, drop_window, has_link_keys, materialize, outside_note, parse_since, window,
    window_select,
)

__all__ = [
    "BY_ID", "COLUMNS", "DEFAULT_SINCE", "DETECTORS", "Detector", "EmptyWindow", "FINDINGS_EXIT", "NOTE",
    "SEVERITIES", "counts",
    "details", "drop_window", "empty", "exceeds", "materialize", "order", "outside_note", "parse_since",
    "resolve_params", "run_signals", "summary", "window", "window_select", "has_link_keys",
]
