"""Settings: where they come from and which wins.

| setting          | flag      | environment      | costlab.toml          | default              |
|------------------|-----------|------------------|-----------------------|----------------------|
| store path       | --db      | COSTLAB_DB       | db = "..."            | ./costlab.duckdb     |
| config file      | --config  | COSTLAB_CONFIG   | -                     | ./costlab.toml       |
| price overrides  | -         | -                | [[prices]], [[discounts]] | none             |
| column mappings  | -         | -                | [mappings.NAME]       | none                 |
| ingest fields    | -         | -                | [ingest]              | metadata.feature ... |
| plausible ts     | -         | -                | [ingest] earliest, latest | 2023-01-01, "+1 day" (costlab/plausible.py) |
| DuckDB memory    | -         | COSTLAB_MEMORY_LIMIT | [report] memory_limit (report), [ingest] memory_limit (ingest, 1GB) | DuckDB's; under ulimit -v, what fits (costlab/memory.py) |
| what-if knobs    | -         | -                | [whatif]              | docs/whatif.md       |
| weekly report    | -         | -                | [report]              | docs/report.md       |
| alert targets    | -         | url_env names one| [[alerts]]            | none (docs/playbook.md) |
| budgets          | -         | -                | [[budgets]]           | none (docs/playbook.md) |
| time zone        | --tz      | -                | [report] timezone     | UTC                  |
| compare, guardrails | -      | -                | [compare], [compare.guardrails] | costlab/compare/settings.py |
| routing policy   | -         | -                | [routing] policy      | none (docs/routing.md) |

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
DEFAULT_TIMEZONE = "UTC"
DEFAULT_CONFIG = "costlab.toml"
KNOWN_KEYS = ("db", "prices", "discounts", "models", "mappings", "ingest", "tiers", "replay", "report", "signals", "whatif",
              "alerts", "budgets", "compare", "routing", "engine")
ROUTING_KEYS = ("policy",)


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
    alerts: list[dict[str, Any]] = field(default_factory=list)  # [[alerts]]: destinations (costlab/alerts/settings.py)
    budgets: list[dict[str, Any]] = field(default_factory=list)  # [[budgets]]: costlab/budgets/settings.py
    compare: dict[str, Any] = field(default_factory=dict)  # [compare], [compare.guardrails]: costlab/compare/settings.py
    routing: dict[str, Any] = field(default_factory=dict)  # [routing] policy: a fitted policy file (docs/routing.md)
    engine: dict[str, Any] = field(default_factory=dict)  # [engine]: kind, master, lake (costlab/engine, docs/scale.md)

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
        alerts=_tables(candidate, data, "alerts"),
        budgets=_tables(candidate, data, "budgets"),
        compare=dict(data.get("compare", {})),
        routing=_routing(candidate, data.get("routing", {})),
        engine=dict(data.get("engine", {})),
    )


def _routing(path: Path, value: Any) -> dict[str, Any]:
    """[routing]: `policy`, a fitted policy file (`costlab route fit`), relative to costlab.toml. Checked
    for its form here; the file itself is read (and refused if it is no policy) where it is used."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: routing must be a table: [routing]")
    for key in value:
        if key not in ROUTING_KEYS:
            raise ConfigError(f"{path} [routing]: unknown setting {key!r}.{did_you_mean(key, ROUTING_KEYS)} "
                              f"Known settings: {', '.join(ROUTING_KEYS)}.")
    policy = value.get("policy")
    if policy is None:
        return {}
    if not isinstance(policy, str) or not policy.strip() or "\x00" in policy:
        raise ConfigError(f'{path} [routing] policy: expected the path of a policy file, e.g. policy = "policy.json", '
                          f"got {policy!r}")
    return {"policy": policy}


def routing_policy(config: Config | None) -> Path | None:
    """The [routing] policy file's path (relative paths are relative to costlab.toml), or None."""
    policy = (config.routing if config else {}).get("policy")
    if not policy:
        return None
    return Path(policy) if Path(policy).is_absolute() else config.base_dir / policy


def _tables(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """An array of tables ([[alerts]], [[budgets]]): a list of dicts, or a ConfigError naming the form."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{path}: {key} must be an array of tables: [[{key}]]")
    return [dict(v) for v in value]


def named_tables(tables: list[dict[str, Any]], section: str, keys: tuple[str, ...], example: str):
    """Each table of an array of tables (`[[alerts]]`, `[[budgets]]`) as (where, name, table): `where`
    names it in errors ("[[budgets]] #2 ('org-monthly')"); an unknown key, a missing name or a name
    used twice is a ConfigError. `example` is the name suggested when one is missing."""
    seen: set[str] = set()
    for i, table in enumerate(tables, start=1):
        where = f"[[{section}]] #{i}" + (f" ({table['name']!r})" if isinstance(table.get("name"), str) else "")
        for key in table:
            if key not in keys:
                raise ConfigError(f"{where}: unknown key {key!r}.{did_you_mean(key, keys)} Keys: {', '.join(keys)}.")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f'{where}: name is required (e.g. name = {example!r})')
        if name in seen:
            raise ConfigError(f"{where}: {name!r} is already defined")
        seen.add(name)
        yield where, name, table


def pick_named(items: list, wanted, what: str) -> list:
    """The items (anything with a `.name`) whose names are in `wanted` (None: all); a name that is not
    there is a ConfigError with a did-you-mean, `what` naming the kind ("[[alerts]] destination")."""
    if not wanted:
        return list(items)
    names = [item.name for item in items]
    for name in wanted:
        if name not in names:
            raise ConfigError(f"no {what} {name!r}.{did_you_mean(name, names)} Known: {', '.join(names)}.")
    return [item for item in items if item.name in set(wanted)]


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


def resolve_timezone(flag: str | None, config: Config | None = None) -> str:
    """The time zone for day boundaries and times shown: --tz, then costlab.toml [report] timezone, then UTC.

    Raises:
        ConfigError: a name that is not an IANA time zone, naming where it came from and suggesting one.
    """
    if flag is not None:
        return check_timezone(flag, "--tz")
    configured = (config.report if config else {}).get("timezone")
    if configured is None:
        return DEFAULT_TIMEZONE
    where = f"{config.path or DEFAULT_CONFIG} [report] timezone" if config else "[report] timezone"
    return check_timezone(configured, where)


def check_timezone(name: object, where: str) -> str:
    """`name` when it is an IANA time zone ("Europe/Berlin", "UTC"); a ConfigError naming `where` otherwise."""
    import zoneinfo

    if isinstance(name, str) and name.strip() and "\x00" not in name:
        try:
            zoneinfo.ZoneInfo(name.strip())
            return name.strip()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    known = sorted(zoneinfo.available_timezones())
    if isinstance(name, str):  # "utc", "europe/berlin": the zone's own spelling
        same = [zone for zone in known if zone.lower() == name.strip().lower()]
        if same:
            return same[0]
    hint = did_you_mean(str(name), known) if isinstance(name, str) else ""
    raise ConfigError(f"{where} {name!r}: not a time zone.{hint} Give an IANA name such as "
                      f'"Europe/Berlin", "America/New_York" or "UTC".')
