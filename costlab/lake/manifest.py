"""The lake's manifest (`_costlab/manifest.json`) and its in-progress marker (`_costlab/in_progress.json`).

The manifest says what the last finished export wrote: per UTC day its file, row count, checksum
(queries/lake/day_checksums.sql) and price_version; per small table its file, rows and checksum.
It is written last, whole (a rename on a local disk, one PUT on S3). The marker is written before an
export changes the first file and removed after the manifest: while it is there, the lake's days may
come from two exports (each day whole), and the next export writes every day it names again.
Numbers that can pass 2^53 (checksums, price versions) are JSON strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from costlab.errors import InputError

FORMAT = "costlab-lake"
FORMAT_VERSION = 1
MANIFEST = "_costlab/manifest.json"
MARKER = "_costlab/in_progress.json"
TABLES = ("price_card", "models", "model_aliases", "prices", "price_discounts")


def day_file(day: str) -> str:
    """A day's one Parquet file, relative to the lake. `day` is YYYY-MM-DD (a date's isoformat)."""
    return f"requests/day={day}/part-0.parquet"


def table_file(name: str) -> str:
    return f"{name}/part-0.parquet"


@dataclass
class Manifest:
    checksum_method: str = ""
    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # what else the file held (exported_at, versions, ...)

    def to_json(self, **top: Any) -> str:
        versions = sorted({d["price_version"] for d in self.days.values() if d.get("price_version")})
        doc = {
            "format": FORMAT, "format_version": FORMAT_VERSION, **top,
            "checksum_method": self.checksum_method,
            "price_versions": versions,
            "days": dict(sorted(self.days.items())),
            "tables": dict(sorted(self.tables.items())),
        }
        return json.dumps(doc, indent=2) + "\n"


def parse(text: str | None, where: str) -> Manifest | None:
    """The manifest in `text` (None when there is none); an InputError for a file that is not one."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as ex:
        raise InputError(f"{where}: the lake's manifest is not JSON ({ex}); if this folder is not a costlab "
                         "lake, export somewhere else") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where}: not a costlab lake manifest (its format is not {FORMAT!r}): export somewhere else")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{where}: lake format version {doc.get('format_version')!r}; this costlab writes and "
                         f"reads version {FORMAT_VERSION}: export to a new folder or prefix")
    known = {"format", "format_version", "checksum_method", "days", "tables", "price_versions"}
    return Manifest(str(doc.get("checksum_method", "")), dict(doc.get("days") or {}), dict(doc.get("tables") or {}),
                    {k: v for k, v in doc.items() if k not in known})


def parse_marker(text: str | None) -> dict[str, Any] | None:
    """The in-progress marker (what an unfinished export meant to write), or None."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return {"days": [], "tables": list(TABLES), "unreadable": True}  # cut short: take every table as touched
    return doc if isinstance(doc, dict) else {"days": [], "tables": list(TABLES)}
