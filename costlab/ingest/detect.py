"""What format a file is: sniffed from its first records (or its header, or its Parquet schema) by
asking every registered format (formats/__init__.py), never guessed from the extension alone; and
what format a `--format` value names for a given file."""

from __future__ import annotations

import json
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError, InputError
from costlab.ingest import formats
from costlab.ingest.files import excerpt, head_text, is_parquet

# Most specific first; equally specific formats in registry order (sorted() is stable).
_ASKED = sorted(formats.FORMATS, key=lambda f: -f.specificity)


def _first(sniff: str, *args: object) -> str | None:
    """The first answer of the formats, most specific first, to one of their sniffs (`Format.<sniff>(*args)`)."""
    return next((name for f in _ASKED if (name := getattr(f, sniff)(*args))), None)


def _parquet_columns(path: Path) -> set[str]:
    # pyarrow is imported here, not at the top: only Parquet files need it, and it is heavy to import.
    try:
        import pyarrow.parquet as pq

        return {n.lower() for n in pq.read_schema(path).names}
    except Exception:  # noqa: BLE001 - an unreadable footer is reported by the reader, with the file name
        return set()


def detect(path: Path, config: Config) -> str:
    """The format name of a file, or an InputError that names the file and what costlab reads."""
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty. {formats.help_text()}")
    claimed = _first("sniff_file", path, config)  # [mappings.NAME] match = "pattern"
    if is_parquet(path):
        if claimed:
            return claimed
        columns = _parquet_columns(path)
        found = _first("sniff_parquet", columns)
        assert found, "the canonical format reads any Parquet file"
        return found
    text = head_text(path)
    if "\x00" in text[:4096]:
        raise InputError(f"{path}: a binary file, not a log. {formats.help_text()}")
    if claimed:
        return claimed
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        raise InputError(f"{path}: no records in the file. {formats.help_text()}")
    if lines[0].lstrip().startswith(("{", "[")):
        return _detect_json(path, text, lines)
    header = {h.strip().strip('"').lower() for h in lines[0].split(",")}
    found = _first("sniff_header", header)
    if found:
        return found
    raise InputError(
        f"{path}: not a format costlab recognises (first line: {excerpt(lines[0])}). {formats.help_text()} "
        "For a CSV of your own, add a [mappings.NAME] section to costlab.toml."
    )


def _detect_json(path: Path, text: str, lines: list[str]) -> str:
    """The first record (line) some format recognises decides; then the head as one document."""
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            # A record longer than the sniffed head (big bodies, OTLP batches): its opening says enough.
            found = _first("sniff_line", line)
        else:
            found = _first("sniff_record", record) if isinstance(record, dict) else None
        if found:
            return found
    found = _first("sniff_text", text)  # a pretty-printed document (an Admin API page)
    if found:
        return found
    raise InputError(f"{path}: JSON, but no record looks like a log costlab knows. {formats.help_text()}")


def normalise_format(fmt: str, path: Path, config: Config) -> str:
    """A --format value as a format name for this file (`canonical` picks CSV, JSONL or Parquet by content)."""
    found = formats.named(fmt)
    # The flag picks one of the format's names for this file; one of its names is taken as it is.
    name = (found.choose(fmt, path, config) if fmt == found.flag or fmt not in found.names else fmt) if found else None
    if not name:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(formats.flags())}")
    return name
