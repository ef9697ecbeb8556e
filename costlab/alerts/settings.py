"""`[[alerts]]` in costlab.toml: where `costlab alert` sends findings, checked whole before anything runs.

    [[alerts]]
    name = "team-slack"            # unique; what messages, errors and the store's memory call it
    kind = "slack"                 # slack (incoming webhook), webhook (generic JSON POST) or markdown
    url_env = "SLACK_WEBHOOK"      # the URL is a secret: from this environment variable ...
    # url_file = "/run/secrets/slack-webhook"   # ... or from this file (relative to costlab.toml)
    min_severity = "medium"        # high, medium or low (default: low, every finding)
    sources = ["signals", "budgets"]  # default: every registered source (costlab/alerts/sources.py)
    announce_clears = true         # say once when a sent finding is gone (default false: forget it quietly)
    timeout_s = 10                 # per request (default 10)
    retries = 3                    # tries after the first on a timeout, a connection error, 429 or 5xx (default 3)
    backoff_s = 1.0                # the first wait; doubled each retry (default 1)
    max_findings = 20              # per message; the rest are counted (default 20)

    [[alerts]]
    name = "weekly-notes"
    kind = "markdown"
    path = "alerts.md"             # relative to costlab.toml; "-" or no path: stdout
    append = true                  # add to the file (default false: replace it)

A webhook URL is never printed, logged or put in an error: errors name the destination and the
variable or file it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from costlab.config import named_tables
from costlab.errors import ConfigError, did_you_mean
from costlab.keys import check_key

KINDS = ("slack", "webhook", "markdown")
SEVERITIES = ("high", "medium", "low")
KEYS = ("name", "kind", "url_env", "url_file", "path", "append", "min_severity", "sources", "announce_clears",
        "timeout_s", "retries", "backoff_s", "max_findings")


@dataclass(frozen=True)
class Destination:
    name: str
    kind: str
    url_env: str | None = None
    url_file: Path | None = None
    path: Path | None = None  # markdown: a file, or None for stdout
    append: bool = False
    min_severity: str = "low"
    sources: tuple[str, ...] | None = None  # None: every source
    announce_clears: bool = False
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0
    max_findings: int = 20

    @property
    def secret_from(self) -> str:
        """Where the URL comes from, for messages: `$SLACK_WEBHOOK` or `the file /run/...`."""
        return f"${self.url_env}" if self.url_env else f"the file {self.url_file}"

    def url(self) -> str:
        """The webhook URL, read now (never stored on the object, never printed).

        Raises:
            ConfigError: the variable or file is missing or empty, or holds no http(s) URL; the
                message names the destination and where the URL comes from, never the value.
        """
        where = f"[[alerts]] {self.name}: {self.secret_from}"
        if self.url_env:
            value = os.environ.get(self.url_env)
            if value is None or not value.strip():
                raise ConfigError(f"{where} is not set: set it to the webhook URL")
        else:
            try:
                value = self.url_file.read_text(encoding="utf-8")
            except OSError as ex:
                raise ConfigError(f"{where} cannot be read ({ex.strerror or type(ex).__name__})") from None
        url = check_key(value, where)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{where} does not hold an http(s) URL (the value is not shown)")
        return url


def destinations(tables: list[dict[str, Any]], base_dir: Path, known_sources: tuple[str, ...]) -> list[Destination]:
    """The destinations of `[[alerts]]`, in file order.

    Raises:
        ConfigError: an unknown key or source, a missing or bad value, two destinations with one name.
    """
    found: list[Destination] = []
    for where, name, table in named_tables(tables, "alerts", KEYS, "team-slack"):
        kind = table.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        url_env, url_file, path = table.get("url_env"), table.get("url_file"), table.get("path")
        if kind == "markdown":
            if url_env or url_file:
                raise ConfigError(f"{where}: a markdown destination writes a file (path), it takes no url_env or url_file")
            if path is not None and not isinstance(path, str):
                raise ConfigError(f"{where}: path must be a file name, or \"-\" for stdout")
            target = None if path in (None, "-") else (base_dir / path if not Path(path).is_absolute() else Path(path))
        else:
            if path is not None:
                raise ConfigError(f"{where}: a {kind} destination posts to a URL (url_env or url_file), it takes no path")
            if bool(url_env) == bool(url_file):
                raise ConfigError(f"{where}: give the webhook URL with exactly one of url_env (an environment variable) "
                                  "or url_file (a file holding it): it is a secret, never written in costlab.toml")
            if url_env is not None and not isinstance(url_env, str):
                raise ConfigError(f"{where}: url_env must name an environment variable")
            if url_file is not None and not isinstance(url_file, str):
                raise ConfigError(f"{where}: url_file must name a file")
            target = None
        severity = table.get("min_severity", "low")
        if severity not in SEVERITIES:
            raise ConfigError(f"{where}: min_severity must be high, medium or low, got {severity!r}")
        sources = table.get("sources")
        if sources is not None:
            sources = [sources] if isinstance(sources, str) else sources
            if not isinstance(sources, list) or not sources:
                raise ConfigError(f"{where}: sources must be a list of: {', '.join(known_sources)}")
            for s in sources:
                if s not in known_sources:
                    raise ConfigError(f"{where}: no finding source {s!r}.{did_you_mean(str(s), known_sources)} "
                                      f"Sources: {', '.join(known_sources)}.")
            sources = tuple(sources)
        found.append(Destination(
            name=name.strip(), kind=kind, url_env=url_env,
            url_file=None if url_file is None else (base_dir / url_file if not Path(url_file).is_absolute() else Path(url_file)),
            path=target, append=_bool(where, table, "append", False), min_severity=severity, sources=sources,
            announce_clears=_bool(where, table, "announce_clears", False),
            timeout_s=_number(where, table, "timeout_s", 10.0, low=0.001), retries=int(_number(where, table, "retries", 3, low=0, whole=True)),
            backoff_s=_number(where, table, "backoff_s", 1.0, low=0.0),
            max_findings=int(_number(where, table, "max_findings", 20, low=1, whole=True))))
    return found


def _bool(where: str, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _number(where: str, table: dict[str, Any], key: str, default: float, low: float, whole: bool = False) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: {key} must be {kind} of at least {low:g}, got {value!r}")
    return float(value)
