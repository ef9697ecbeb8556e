"""`costlab alert`: new findings to where people look, each sent once until it changes or clears.

    settings.py   [[alerts]]: destinations (slack, webhook, markdown), secrets from env or file
    sources.py    THE registry of finding sources (signals, budgets; compare's verdicts plug in here)
    memory.py     alert_state (migration m011): what each destination was told; the changes to send
    payloads.py   Slack blocks, the generic JSON body, Markdown
    post.py       one JSON POST: timeout, retries with exponential back-off, no redirects, no URL in errors
    run.py        run_alerts: the sources once, then every destination, a failure stopping none

    outcomes = run_alerts(store)          # one Outcome per destination; .error when it failed

See docs/playbook.md ("Alerts").
"""

from costlab.alerts.memory import CHANGE_COLUMNS, changes, open_rows, record
from costlab.alerts.run import Outcome, collect, configured, run_alerts
from costlab.alerts.settings import KINDS, Destination, destinations
from costlab.alerts.sources import SOURCES, Source, Window

__all__ = ["CHANGE_COLUMNS", "KINDS", "SOURCES", "Destination", "Outcome", "Source", "Window", "changes", "collect",
           "configured", "destinations", "open_rows", "record", "run_alerts"]
