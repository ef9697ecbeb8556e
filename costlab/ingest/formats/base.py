"""What every ingest format is: a `Format` (how it is named, found and read) and the `Adapter` it
builds (the SQL that maps its fields to the canonical columns).

A format module builds one `Format` named FORMAT and is listed once in formats/__init__.py (the
registry). Detection (detect.py), `--format` and its help, and the pipeline all read the registry:
nothing else lists formats.

An adapter's SELECT reads a relation `src` and yields: each canonical column (NULL when the format
has no such field), `model_raw`, `_attrs` (a JSON object of extras for `attributes`),
`_ttl_assumed` (cache writes billed as 5-minute without a full split), `_note` (what the adapter
repaired in the row, one fixed sentence, for the ingest summary; NULL when nothing),
`_request_json`, `_response_text` (payloads), and passes `_line`, `_raw`, `_parse_error` and `_row`
(the whole source row, hashed into an id only for rows that have none). canonical.py validates and
casts the result, the same way for every format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from costlab.config import Config
from costlab.store.sqlquote import ident

if TYPE_CHECKING:
    from costlab.ingest.results import FileResult
    from costlab.store import Store

V = "VARCHAR"

# How sure a sniff is. Detection asks every format about each record (or header) in turn and takes
# the most specific answer; formats equally specific are asked in registry order.
SIGNATURE = 3  # a field or value only this format writes (schemaType, resourceSpans, custom_id + result)
SHAPE = 2  # the keys of this format's records, which other formats' records may also have
FALLBACK = 1  # a few canonical column names: costlab's own schema, when nothing else fits

# The file kinds the readers know: JSON lines, CSV, Parquet.
KINDS = ("json", "csv", "parquet")


@dataclass(frozen=True)
class Adapter:
    """How one format is read (`kind`: json, csv or parquet, with a JSON `spec`) and mapped (`select`)."""

    name: str
    kind: str
    select: str
    spec: dict = field(default_factory=dict)
    needs_mtime: bool = False
    # The SELECT never looks at _line (only passes it through): the fast path may then read the file
    # in parallel without numbering lines, since any reject sends the file to the line-exact path.
    # OTel groups spans by _line, so it keeps the numbered (serial) fast path.
    parallel: bool = False


def _nothing(*_args: object) -> None:
    return None


@dataclass(frozen=True)
class Format:
    """One ingest format. `names` are what it stores in `ingests.format`, one per file kind it reads
    (litellm-csv, litellm-jsonl); `kinds` maps each to its reader (json, csv or parquet).

    Sniffs (each returns one of `names`, or None) are asked by detect.py in this order: `sniff_file`
    (before the content: a [mappings.NAME] `match` on the file name), then per JSON record
    `sniff_record` (a parsed line) or `sniff_line` (a line too long for the sniffed head: its
    opening), `sniff_text` (the head as text, when no record answered: a pretty-printed document),
    `sniff_header` (a CSV's lower-cased column names) and `sniff_parquet` (a Parquet file's).

    `choose(flag, path, config)` turns a `--format` value naming this format into one of its names
    for this file (litellm -> litellm-csv or litellm-jsonl by content), or None when it has none
    for such a file. `adapter(name, config,
    columns)` builds the Adapter for one of its names, given the file's own columns (CSV, Parquet).
    A format whose rows are not requests has `load` instead (the Admin API reports: usage_buckets).
    """

    flag: str  # the --format value ("litellm"); "mapping:NAME" for the mapping format
    describes: str  # what it reads, for --format's help and detection's errors
    docs: str  # the heading of docs/formats.md that documents it
    names: tuple[str, ...]
    kinds: Mapping[str, str]
    choose: Callable[[str, Path, Config], str | None]
    adapter: Callable[[str, Config, list[str]], Adapter] | None = None
    load: Callable[[Store, Path, int, str, str | None], FileResult] | None = None
    specificity: int = SIGNATURE
    prefix: str | None = None  # names made from config ("mapping:NAME") rather than listed in `names`
    kind_of: Callable[[str, Config], str] | None = None  # the file kind, when config decides it
    # Its CSV columns are canonical columns: the fast path lets DuckDB's reader type them (staging.py).
    typed_csv: bool = False
    # Its CSV is an export of a known tool, plain RFC 4180: read with that dialect named, so a short
    # row cannot confuse DuckDB's sniffer.
    plain_csv: bool = False
    sniff_file: Callable[[Path, Config], str | None] = _nothing
    sniff_record: Callable[[dict], str | None] = _nothing
    sniff_line: Callable[[str], str | None] = _nothing
    sniff_text: Callable[[str], str | None] = _nothing
    sniff_header: Callable[[set[str]], str | None] = _nothing
    sniff_parquet: Callable[[set[str]], str | None] = _nothing

    def owns(self, name: str) -> bool:
        """`name` (as stored in ingests.format) is one of this format's."""
        return name in self.names or bool(self.prefix and name.startswith(self.prefix))

    def takes(self, flag: str) -> bool:
        """`flag` (a --format value) names this format: its flag, or one of its names."""
        return flag == self.flag or self.owns(flag)

    def file_kind(self, name: str, config: Config) -> str:
        return self.kind_of(name, config) if self.kind_of else self.kinds[name]


def only(name: str) -> Callable[[str, Path, Config], str]:
    """`choose` for a format with one name: --format FLAG is that name whatever the file holds."""
    return lambda _flag, _path, _config: name


def struct_type(spec: object) -> str:
    """A spec as a DuckDB type, for read_json(columns=...)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return struct_type(spec[0]) + "[]"
    assert isinstance(spec, dict)
    return "STRUCT(" + ", ".join(f"{ident(k)} {struct_type(v)}" for k, v in spec.items()) + ")"


def json_structure(spec: object) -> str:
    """A spec as a json_transform structure."""
    return json.dumps(spec)
