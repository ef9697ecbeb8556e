"""`mapping:NAME`: any CSV, Parquet or JSON lines file through a [mappings.NAME] section of costlab.toml:
canonical column = SQL expression over the file's own columns. Named with --format mapping:NAME, or
claimed by file name when the section has `match = "pattern"`."""

from __future__ import annotations

from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.ingest.files import name_matches
from costlab.ingest.formats.base import Adapter, Format
from costlab.schema import COLUMN_NAMES
from costlab.store.sqlquote import expression, ident, literal

PREFIX = "mapping:"


def mapping(name: str, config: Config, columns: list[str]) -> Adapter:
    """A [mappings.NAME] section: canonical column = SQL expression over the file's own columns.

    The expressions are the user's own SQL (costlab.toml is trusted like code): each must be one
    expression (sqlquote.expression), never a statement. The file's column names are data, quoted."""
    spec = config.mappings[name]
    exprs = {k.lower(): v for k, v in spec.get("columns", {}).items()}
    unknown = [k for k in exprs if k not in COLUMN_NAMES]
    if unknown:
        raise ConfigError(
            f"[mappings.{name}.columns] {unknown[0]!r} is not a canonical column."
            f"{did_you_mean(unknown[0], COLUMN_NAMES)}"
        )
    if "ts" not in exprs:
        raise ConfigError(f"[mappings.{name}.columns] needs `ts`: every request needs a time")
    exprs = {k: expression(v, f"[mappings.{name}.columns] {k}") for k, v in exprs.items()}
    picks = []
    for col in COLUMN_NAMES:
        if col in ("model", "attributes", "ingest_id"):
            continue
        if col == "source":
            picks.append(f"{exprs.get('source', literal(spec.get('source', name)))} as source")
        else:
            picks.append(f"({exprs[col]}) as {col}" if col in exprs else f"NULL as {col}")
    row = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in columns) + ")"
    select = f"""
    select _line, _raw, _parse_error, _row,
        {', '.join(picks)},
        {exprs.get('model', 'NULL')} as model_raw,
        NULL as _ttl_assumed, NULL as _note,
        json_object('mapping', {literal(name)}, 'row', {row}) as _attrs,
        NULL as _request_json, NULL as _response_text
    from src"""
    kind = spec.get("format", "csv")
    if kind not in ("csv", "parquet", "jsonl"):
        raise ConfigError(f"[mappings.{name}] format must be csv, parquet or jsonl, not {kind!r}")
    return Adapter(f"mapping:{name}", kind, select)


def _adapter(name: str, config: Config, columns: list[str]) -> Adapter:
    return mapping(name.removeprefix(PREFIX), config, columns)


def _kind(name: str, config: Config) -> str:
    kind = config.mappings[name.removeprefix(PREFIX)].get("format", "csv")
    return "json" if kind == "jsonl" else kind  # JSON lines are read by the JSON reader


def _choose(flag: str, _path: Path, config: Config) -> str:
    name = flag.removeprefix(PREFIX)
    if name not in config.mappings:
        raise ConfigError(f"--format {flag}: no [mappings.{name}] in costlab.toml.{did_you_mean(name, config.mappings)}")
    return flag


def _sniff_file(path: Path, config: Config) -> str | None:
    """A section whose `match` pattern fits the file's name claims the file, whatever it holds."""
    for name, spec in config.mappings.items():
        pattern = spec.get("match")
        if pattern and name_matches(path, pattern):
            return PREFIX + name
    return None


FORMAT = Format(
    flag="mapping:NAME",
    describes="any CSV or Parquet through a [mappings.NAME] column mapping in costlab.toml (--format mapping:NAME)",
    docs="`mapping:NAME`",
    names=(),
    kinds={},
    choose=_choose,
    adapter=_adapter,
    prefix=PREFIX,
    kind_of=_kind,
    sniff_file=_sniff_file,
)
