"""Deterministic checks of a run's answers, before any judge: the SQL checks (queries/replay/checks.sql:
refusals, truncation, JSON, [replay.regex]) and check:schema (JSON Schema, [replay.schemas]), one
judgements row per answer and check (judge `check:...`, no cost)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from costlab.errors import ConfigError

if TYPE_CHECKING:
    from costlab.store import Store


def run_checks(store: "Store", run: str) -> int:
    """Insert the deterministic checks for every answer not checked yet; return how many rows were added."""
    store.execute("create or replace temp table _replay_regex (feature VARCHAR, pattern VARCHAR)")
    for feature, pattern in (store.config.replay.get("regex") or {}).items():
        store.execute("insert into _replay_regex values (?, ?)", [feature, str(pattern)])
    frame = store.run_query("replay/checks", run=run)
    done = {tuple(r) for r in store.rows(
        "select source, request_id, tier, judge from judgements where run = ? and judge like 'check:%'", [run])}
    rows = [(run, s, rid, tier, judge, verdict, score, good, None, 0, details)
            for s, rid, tier, judge, verdict, score, good, details in frame.iter_rows() if (s, rid, tier, judge) not in done]
    rows += [(run, *row) for row in schema_checks(store, run) if (*row[:3], "check:schema") not in done]
    with store.transaction():
        store.insert_rows("judgements", ("run", "source", "request_id", "tier", "judge", "verdict", "score", "good",
                                         "order_consistent", "judge_cost_usd", "details"), rows)
    return len(rows)


def load_schemas(store: "Store") -> dict[str, dict[str, Any]]:
    """[replay.schemas]: per feature, a JSON Schema inline (a TOML table) or the path of a .json file
    (relative to costlab.toml); each checked against its metaschema, so a typo fails before anything is sent."""
    from jsonschema import SchemaError  # loaded when a run checks answers (referencing, rpds...), not at start
    from jsonschema.validators import validator_for

    out = {}
    for feature, given in (store.config.replay.get("schemas") or {}).items():
        where = f"costlab.toml [replay.schemas] {feature}"
        if isinstance(given, str):
            path = store.config.base_dir / given
            try:
                given = json.loads(path.read_text(encoding="utf-8"))
            except OSError as ex:
                raise ConfigError(f"{where}: cannot read {path}: {ex.strerror}. Give a JSON Schema file or an inline table.") from None
            except ValueError as ex:
                raise ConfigError(f"{where}: {path} is not JSON ({ex}). Give a JSON Schema file or an inline table.") from None
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: expected a JSON Schema (a table, or the path of a .json file), got {given!r}")
        try:
            validator_for(given).check_schema(given)
        except SchemaError as ex:
            raise ConfigError(f"{where}: not a valid JSON Schema: {ex.message} (at {'/'.join(map(str, ex.path)) or 'the top'})") from None
        out[str(feature)] = given
    return out


def schema_checks(store: "Store", run: str) -> list[tuple]:
    """check:schema rows (source, request_id, tier, judge, verdict, score, good, order_consistent,
    judge_cost_usd, details) for the answers with a schema (queries/replay/schema_targets.sql).

    Validation is jsonschema's, in Python (DuckDB has no JSON Schema validator), over the run's
    answers, not over log rows. A request whose own schema is invalid is not checked (the answer is
    not at fault); the configured ones were checked when loaded.
    """
    from jsonschema import SchemaError  # loaded when a run checks answers: see load_schemas
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    schemas = load_schemas(store)
    store.execute("create or replace temp table _replay_schemas (feature VARCHAR, schema VARCHAR)")
    store.insert_rows("_replay_schemas", ("feature", "schema"), [(f, json.dumps(sc)) for f, sc in schemas.items()])
    validators: dict[str, Any] = {}
    rows = []
    for source, rid, tier, answer, schema_text, origin in store.run_query("replay/schema_targets", run=run).iter_rows():
        if schema_text not in validators:
            try:
                schema = json.loads(schema_text)
                cls = validator_for(schema)
                cls.check_schema(schema)
                validators[schema_text] = cls(schema)
            except (ValueError, SchemaError):
                validators[schema_text] = None
        validator = validators[schema_text]
        if validator is None:
            continue
        details: dict[str, Any] = {"schema": origin}
        try:
            value = json.loads(answer or "")
        except ValueError as ex:
            details["error"] = f"not JSON: {ex.msg} at character {ex.pos}"
        else:
            error = best_match(validator.iter_errors(value))
            if error is not None:
                details["error"] = error.message[:300]
                details["path"] = "/" + "/".join(map(str, error.absolute_path))
        good = "error" not in details
        rows.append((source, rid, tier, "check:schema", "pass" if good else "fail", 1.0 if good else 0.0, good, None, 0,
                     json.dumps(details)))
    return rows
