"""Settings: where they come from and which wins.

| setting          | flag      | environment      | costlab.toml          | default              |
|------------------|-----------|------------------|-----------------------|----------------------|
| store path       | --db      | COSTLAB_DB       | db = "..."            | ./costlab.duckdb     |
| config file      | --config  | COSTLAB_CONFIG   | -                     | ./costlab.toml       |
| price overrides  | -         | -                | [[prices]], [[discounts]] | none             |
| column mappings  | -         | -                | [mappings.NAME]       | none                 |
| ingest fields    | -         | -                | [ingest]              | metadata.feature ... |
| plausible ts     | -         | -                | [ingest] earliest, latest | 2023-01-01, "+1 day" (costlab/plausible.py) |
| DuckDB memory    | -         | COSTLAB_MEMORY_LIMIT | [report] memory_limit (report) | DuckDB's; under ulimit -v, what fits (costlab/memory.py) |
| what-if knobs    | -         | -                | [whatif]              | docs/whatif.md       |
| weekly report    | -         | -                | [report]              | docs/report.md       |
| compare, guardrails | -      | -                | [compare], [compare.guardrails] | costlab/compare/settings.py |

The first column that has a value wins. Unknown top-level keys are an error with a did-you-mean,
so a typo never silently does nothing.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costlab.errors import ConfigError, did_you_mean

DEFAULT_DB = "costlab.duckdb"
DEFAULT_CONFIG = "costlab.toml"
KNOWN_KEYS = ("db", "prices", "discounts", "models", "mappings", "ingest", "tiers", "replay", "report", "signals", "whatif", "compare")


@dataclass(frozen=True)
class Config:
    """The parsed costlab.toml (empty when there is none)."""

    path: Path | None = None
    db: str | None = None
    prices: list[dict[str, Any]] = field(default_factory=list)
    discounts: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    mappings: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)  # [signals]: thresholds (docs/signals.md)
    report: dict[str, Any] = field(default_factory=dict)  # [report]: see costlab/report/settings.py
    replay: dict[str, Any] = field(default_factory=dict)  # [replay]: provider, base_url, rubrics (docs/replay.md)
    whatif: dict[str, Any] = field(default_factory=dict)  # [whatif]: modelling knobs (docs/whatif.md)
    compare: dict[str, Any] = field(default_factory=dict)  # [compare], [compare.guardrails]: costlab/compare/settings.py

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read costlab.toml from `path`, $COSTLAB_CONFIG or the working directory.

    A missing default file is an empty config; a missing file that was named explicitly is an error.
    """
    explicit = path or os.environ.get("COSTLAB_CONFIG")
    candidate = Path(explicit) if explicit else Path.cwd() / DEFAULT_CONFIG
    if not candidate.exists():
        if explicit:
            raise ConfigError(f"config file {candidate} does not exist")
        return Config()
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as ex:
        raise ConfigError(f"{candidate}: not valid TOML: {ex}") from ex
    for key in data:
        if key not in KNOWN_KEYS:
            raise ConfigError(
                f"{candidate}: unknown setting {key!r}.{did_you_mean(key, KNOWN_KEYS)} "
                f"Known settings: {', '.join(KNOWN_KEYS)}."
            )
    return Config(
        path=candidate,
        db=data.get("db"),
        prices=list(data.get("prices", [])),
        discounts=list(data.get("discounts", [])),
        models=list(data.get("models", [])),
        mappings=dict(data.get("mappings", {})),
        ingest=dict(data.get("ingest", {})),
        tiers=dict(data.get("tiers", {})),
        signals=dict(data.get("signals", {})),
        replay=dict(data.get("replay", {})),
        report=dict(data.get("report", {})),
        whatif=dict(data.get("whatif", {})),
        compare=dict(data.get("compare", {})),
    )


def resolve_db_path(flag: str | os.PathLike[str] | None, config: Config) -> Path:
    """The store path: --db, then $COSTLAB_DB, then costlab.toml's `db`, then ./costlab.duckdb."""
    if flag:
        return Path(flag)
    env = os.environ.get("COSTLAB_DB")
    if env:
        return Path(env)
    if config.db:
        # A relative path in costlab.toml is relative to the file, not to wherever costlab runs.
        return (config.base_dir / config.db) if not Path(config.db).is_absolute() else Path(config.db)
    return Path.cwd() / DEFAULT_DB
