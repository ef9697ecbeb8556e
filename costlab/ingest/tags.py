"""Tags -> canonical columns for the real-world formats: which key of a source's tags fills
`feature`, `user_id`, `customer_id`, `session_id` and `trace_id` ([ingest.<source>.tags] in costlab.toml)."""

from __future__ import annotations

import json

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.store.sqlquote import literal

TAG_COLUMNS = ("feature", "user_id", "customer_id", "session_id", "trace_id")


def tag_keys(config: Config, source: str, defaults: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Canonical column -> tag key for a source: the column's own name unless `defaults` or
    [ingest.<source>.tags] in costlab.toml say otherwise (an empty string turns a column off)."""
    keys: dict[str, str | None] = {c: c for c in TAG_COLUMNS}
    keys.update(defaults or {})
    section = (config.ingest.get(source) or {})
    if not isinstance(section, dict):
        raise ConfigError(f"[ingest.{source}] must be a table")
    for column, key in (section.get("tags") or {}).items():
        if column not in keys:
            raise ConfigError(
                f"[ingest.{source}.tags] {column!r} is not a column tags can fill.{did_you_mean(column, keys)} "
                f"Columns: {', '.join(keys)}."
            )
        keys[column] = str(key) or None
    return keys


def tag_columns(config: Config, source: str, json_expr: str, defaults: dict[str, str | None] | None = None,
                exclude: tuple[str, ...] = ()) -> str:
    """SELECT items for the tag columns, each read from a JSON object of tags."""
    items = []
    for col, key in tag_keys(config, source, defaults).items():
        if col in exclude:
            continue
        if key is None:
            items.append(f"NULL as {col}")
        else:
            items.append(f"json_extract_string({json_expr}, {literal('$.' + json.dumps(key))}) as {col}")
    return ",\n        ".join(items)
