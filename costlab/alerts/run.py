"""run_alerts: every source's findings, then each destination told what changed since it last heard.

    outcomes = run_alerts(store)                   # one Outcome per destination, in config order
    failed = [o for o in outcomes if o.error]      # the CLI exits 7 (ExitCode.ALERT_FAILED) if any

A destination that fails (after its retries) does not stop the others; its memory is not written,
so the same changes are tried again on the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import polars as pl

from costlab.alerts import memory, payloads
from costlab.alerts.post import Failed, post_json
from costlab.alerts.settings import Destination, destinations
from costlab.alerts.sources import SOURCES, Window
from costlab.config import Config, pick_named
from costlab.errors import ConfigError, CostlabError, did_you_mean
from costlab.signals.findings import COLUMNS


@dataclass
class Outcome:
    destination: str
    kind: str
    changes: pl.DataFrame  # what it was (or would be) told: memory.CHANGE_COLUMNS
    body: str | None = None  # the message as sent (JSON or Markdown), for --dry-run and Markdown on stdout
    to_stdout: bool = False  # a Markdown destination without a path
    attempts: int = 0
    error: str | None = None  # why it failed (never the URL)
    recorded: bool = False

    def counts(self) -> dict[str, int]:
        got = dict(self.changes.group_by("change").len().iter_rows()) if self.changes.height else {}
        return {k: int(got.get(k, 0)) for k in ("new", "escalated", "de-escalated", "cleared")}


@dataclass
class Collected:
    findings: pl.DataFrame  # COLUMNS plus `source`
    sources_run: list[str]
    notes: list[str] = field(default_factory=list)


def configured(config: Config) -> list[Destination]:
    """The [[alerts]] destinations (ConfigError when there is none or one is bad)."""
    found = destinations(config.alerts, config.base_dir, tuple(SOURCES))
    if not found:
        raise ConfigError("costlab.toml has no [[alerts]]: add a destination, e.g.\n"
                          '[[alerts]]\nname = "team-slack"\nkind = "slack"\nurl_env = "SLACK_WEBHOOK"')
    return found


def collect(store: Any, config: Config, names: Iterable[str], window: Window) -> Collected:
    """Run the named sources; their findings with a `source` column."""
    notes: list[str] = []
    frames = []
    names = list(names)
    for name in names:
        frame = SOURCES[name].findings(store, config, window, notes)
        frames.append(frame.select(list(COLUMNS)).with_columns(pl.lit(name).alias("source")))
    empty = pl.DataFrame(schema={**COLUMNS, "source": pl.String})
    return Collected(pl.concat([empty, *frames], how="vertical"), names, notes)


def run_alerts(store: Any, config: Config | None = None, *, only: Iterable[str] | None = None,
               sources: Iterable[str] | None = None, window: Window | None = None, dry_run: bool = False,
               sleep: Callable[[float], None] = time.sleep, now: datetime | None = None,
               notes: list[str] | None = None) -> list[Outcome]:
    """Tell every destination (or `only` these) what changed; see the module docstring.

    Args:
        only: destination names. sources: source names (default: every source some destination reads).
        dry_run: build the messages, send and remember nothing. sleep: the back-off's wait (tests pass a fast one).
        notes: filled with the sources' notes (a detector that could not judge, unpriced requests).

    Raises:
        ConfigError: no or bad [[alerts]], an unknown destination or source.
    """
    config = config if config is not None else store.config
    chosen = configured(config)
    chosen = pick_named(chosen, list(only or []), "[[alerts]] destination")
    if sources is not None:
        asked = list(sources)
        for name in asked:
            if name not in SOURCES:
                raise ConfigError(f"no finding source {name!r}.{did_you_mean(name, SOURCES)} Sources: {', '.join(SOURCES)}.")
    else:
        asked = list(SOURCES)
    needed = [s for s in asked if any(d.sources is None or s in d.sources for d in chosen)]
    found = collect(store, config, needed, window or Window())
    if notes is not None:
        notes.extend(found.notes)
    now = now or datetime.now(timezone.utc)
    return [_deliver(store, d, found, dry_run, sleep, now) for d in chosen]


def _deliver(store: Any, d: Destination, found: Collected, dry_run: bool, sleep: Callable[[float], None],
             now: datetime) -> Outcome:
    ran = [s for s in found.sources_run if d.sources is None or s in d.sources]
    mine = found.findings.filter(pl.col("source").is_in(ran))
    todo = memory.changes(mine, memory.open_rows(store, d.name), ran, d.min_severity)
    told = todo if d.announce_clears else todo.filter(pl.col("change") != "cleared")
    out = Outcome(d.name, d.kind, told, to_stdout=(d.kind == "markdown" and d.path is None))
    if told.height:
        if d.kind == "slack":
            out.body = payloads.encode(payloads.slack(told, d.max_findings, now)).decode("utf-8")
        elif d.kind == "webhook":
            out.body = payloads.encode(payloads.webhook(told, d.name, now)).decode("utf-8")
        else:
            out.body = payloads.markdown(told, now)
    if dry_run:
        return out
    if told.height:
        try:
            out.attempts = _send(d, out.body, sleep)
        except _DeliveryFailed as ex:
            out.error, out.attempts = ex.reason, ex.attempts
            return out
    memory.record(store, d.name, todo, now)  # silent clears too: the destination need not hear of them again
    out.recorded = True
    return out


class _DeliveryFailed(Exception):
    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


def _send(d: Destination, body: str, sleep: Callable[[float], None]) -> int:
    """Deliver `body`: the number of attempts it took, or _DeliveryFailed (never holding the URL)."""
    if d.kind == "markdown":
        if d.path is None:
            return 1  # the CLI writes it to stdout
        try:
            d.path.parent.mkdir(parents=True, exist_ok=True)
            with d.path.open("a" if d.append else "w", encoding="utf-8") as f:
                f.write(body + ("\n" if d.append else ""))
        except OSError as ex:
            raise _DeliveryFailed(f"cannot write {d.path} ({ex.strerror or type(ex).__name__})", 1) from None
        return 1
    try:
        url = d.url()
    except CostlabError as ex:
        raise _DeliveryFailed(str(ex), 0) from None
    try:
        return post_json(url, body.encode("utf-8"), timeout=d.timeout_s, retries=d.retries, backoff=d.backoff_s,
                         sleep=sleep).attempts
    except Failed as ex:
        raise _DeliveryFailed(ex.reason.replace(url, "[redacted]"), ex.attempts) from None
