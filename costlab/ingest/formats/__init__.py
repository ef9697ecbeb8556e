"""THE registry of ingest formats: one line per format module, in the order `--format`'s help and
detection's error list them. Detection asks each format's sniffs (formats/base.py), `--format` takes
each one's flag, and the pipeline reads with each one's adapter: nothing else lists formats.

Adding a format is one module in this folder (building a `base.Format` named FORMAT) and one line
here, plus its section in docs/formats.md and its tests (docs/architecture.md, "Adding an ingest format").
"""

from __future__ import annotations

from costlab.ingest.formats import admin, anthropic, batch, bedrock, canonical, langfuse, litellm, mapping, otel
from costlab.ingest.formats.base import Format

FORMATS: tuple[Format, ...] = (
    anthropic.FORMAT,
    batch.FORMAT,
    bedrock.FORMAT,
    otel.FORMAT,
    litellm.FORMAT,
    langfuse.FORMAT,
    admin.FORMAT,
    canonical.FORMAT,
    mapping.FORMAT,
)


def flags() -> list[str]:
    """The --format values, in registry order."""
    return [f.flag for f in FORMATS]


def flag_help() -> str:
    """--format's help in the CLI."""
    *rest, last = flags()
    return f"{', '.join(rest)} or {last} (default: detected)."


def help_text() -> str:
    """What costlab reads, for detection's errors."""
    *rest, last = [f.describes for f in FORMATS]
    return f"costlab reads: {', '.join(rest)}, and {last}. See docs/formats.md."


def owner(name: str) -> Format | None:
    """The format a stored format name (ingests.format: litellm-csv, mapping:NAME) belongs to."""
    return next((f for f in FORMATS if f.owns(name)), None)


def named(flag: str) -> Format | None:
    """The format a --format value names."""
    return next((f for f in FORMATS if f.takes(flag)), None)
