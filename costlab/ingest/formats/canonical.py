"""`canonical`: costlab's own schema, as CSV, JSON lines or Parquet (canonical-csv, canonical-jsonl,
canonical-parquet): columns named as in costlab/schema.py, any subset, in any order. The fallback
format: a file whose records or header name a few canonical columns and nothing more specific."""

from __future__ import annotations

from pathlib import Path

from costlab.config import Config
from costlab.ingest.files import content_kind
from costlab.ingest.formats.base import FALLBACK, V, Adapter, Format
from costlab.schema import COLUMN_NAMES
from costlab.store.sqlquote import ident, literal

CANONICAL_JSON = {name: ("JSON" if name == "attributes" else V) for name in COLUMN_NAMES}
_KEYS = {"request_id", "ts", "input_tokens", "output_tokens", "model"}  # any two of them say "canonical"
_KINDS = {"canonical-csv": "csv", "canonical-jsonl": "json", "canonical-parquet": "parquet"}


def canonical(kind: str, columns: list[str]) -> Adapter:
    """The canonical schema from CSV, JSONL or Parquet: the columns it has, NULL for the rest.
    The file's column names are data: each one is quoted (sqlquote.ident, sqlquote.literal)."""
    have = {c.lower(): c for c in columns}
    picks = []
    for name in COLUMN_NAMES:
        if name in ("model", "attributes", "ingest_id"):
            continue
        if name == "source":
            picks.append(f"coalesce({ident(have[name])}, 'canonical') as source" if name in have else "'canonical' as source")
        else:
            picks.append(f"{ident(have[name])} as {name}" if name in have else f"NULL as {name}")
    extras = [c for c in columns if c.lower() not in COLUMN_NAMES and not c.startswith("_")]
    attrs = ident(have["attributes"]) if "attributes" in have else "NULL"
    extra_obj = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in extras) + ")" if extras else "NULL"
    select = f"""
    select _line, _raw, _parse_error, _row,
        {', '.join(picks)},
        {ident(have["model"]) if "model" in have else 'NULL'} as model_raw,
        NULL as _ttl_assumed, NULL as _note,
        json_object('attributes', try_cast({attrs} as JSON), 'extra', {extra_obj}) as _attrs,
        NULL as _request_json, NULL as _response_text
    from src"""
    return Adapter(f"canonical-{kind}", kind, select, CANONICAL_JSON, parallel=True)


def _adapter(name: str, _config: Config, columns: list[str]) -> Adapter:
    if name == "canonical-jsonl":
        return canonical("json", list(CANONICAL_JSON))
    return canonical(_KINDS[name], columns)


def _sniff_record(record: dict) -> str | None:
    return "canonical-jsonl" if len(_KEYS & set(record)) >= 2 else None


def _sniff_header(header: set[str]) -> str | None:
    return "canonical-csv" if len(header) > 1 and _KEYS & header and "ts" in header else None


def _sniff_parquet(_columns: set[str]) -> str | None:
    return "canonical-parquet"  # any Parquet file no other format claims


def _choose(_flag: str, path: Path, _config: Config) -> str:
    return f"canonical-{content_kind(path)}"


FORMAT = Format(
    flag="canonical",
    describes="costlab's canonical schema (CSV, JSONL, Parquet)",
    docs="`canonical`",
    names=tuple(_KINDS),
    kinds=_KINDS,
    choose=_choose,
    adapter=_adapter,
    specificity=FALLBACK,
    typed_csv=True,
    sniff_record=_sniff_record,
    sniff_header=_sniff_header,
    sniff_parquet=_sniff_parquet,
)
