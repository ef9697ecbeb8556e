"""Which files to read, and what format each one is: sniffed from the first records, never guessed
from the extension alone."""

from __future__ import annotations

import fnmatch
import glob
import gzip
import json
import zlib
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError, InputError, did_you_mean

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".log")
FORMATS = ("anthropic", "batch", "canonical", "bedrock", "otel", "litellm", "langfuse", "admin", "mapping:NAME")
FORMATS_HELP = (
    "costlab reads: Anthropic Messages logs (one Message or one request/response envelope per line), "
    "Message Batches results (JSONL), Amazon Bedrock invocation logs, OpenTelemetry GenAI spans (OTLP JSON), "
    "LiteLLM SpendLogs (CSV, JSON), Langfuse observations (CSV, JSONL, Parquet), "
    "costlab's canonical schema (CSV, JSONL, Parquet), and any CSV or "
    "Parquet through a [mappings.NAME] column mapping in costlab.toml (--format mapping:NAME). "
    "See docs/formats.md."
)
_CANONICAL_KEYS = {"request_id", "ts", "input_tokens", "output_tokens", "model"}


def expand(paths: list[str], refused: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files named directly, log files under folders (recursively), and glob matches; in order, once.

    A path that exists is read as it is named: `export[2026].jsonl` or `a*.jsonl` is that one file,
    never a pattern; only a path that names no file or folder is expanded as a glob. A symbolic link
    named on the command line is followed (you named it). One found by walking a folder or matching
    a glob is followed only when its target lies inside that folder (the glob's fixed leading part):
    a log folder cannot make costlab read /etc/passwd. Those are left out and, when `refused` is
    given, listed there with the reason.
    """
    seen: dict[Path, None] = {}

    def found(f: Path, root: Path) -> None:
        if not _inside(f, root):
            if refused is not None:
                refused.append((f, f"{f}: a symbolic link to a file outside {root}: not followed. "
                                   "Name the file itself on the command line to read it."))
            return
        seen.setdefault(f, None)

    for raw in paths:
        p = Path(raw)
        if p.is_file():
            seen.setdefault(p, None)
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.name.startswith(".") and _looks_like_log(f):
                    found(f, p)
        elif raw.lower().startswith("s3://"):
            raise InputError(f"{raw}: an S3 URL is not a local path; pass it to ingest_paths, which reads S3 itself")
        elif glob.has_magic(raw):
            matches = sorted(Path(m) for m in glob.glob(raw, recursive=True))
            if not matches:
                raise InputError(f"{raw}: no files match this pattern")
            root = _glob_root(raw)
            for m in matches:
                if m.is_file():
                    found(m, root)
        else:
            raise InputError(f"{raw}: no such file or folder")
    return list(seen)


def _glob_root(pattern: str) -> Path:
    """The folder a glob searches: its leading components without wildcards."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _inside(path: Path, folder: Path) -> bool:
    """True when `path`, with every symbolic link resolved, lies inside `folder` (resolved too)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _looks_like_log(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(LOG_SUFFIXES)


def head_text(path: Path, limit: int = 1 << 16) -> str:
    """The first bytes of a file as text, through gzip when compressed, without a UTF-8 byte order
    mark (editors on Windows write one; DuckDB's readers skip it, so detection must too)."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read(limit)
        except (OSError, EOFError, zlib.error) as ex:
            raise InputError(f"{path}: a damaged or truncated gzip file ({ex}). Re-copy or re-export it.") from ex
    else:
        with path.open("rb") as fh:
            data = fh.read(limit)
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def detect(path: Path, config: Config) -> str:
    """The format name of a file, or an InputError that names the file and what costlab reads."""
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty. {FORMATS_HELP}")
    mapping = _mapping_for(path, config)
    if is_parquet(path):
        if mapping:
            return mapping
        try:
            import pyarrow.parquet as pq

            names = {n.lower() for n in pq.read_schema(path).names}
        except Exception:  # noqa: BLE001 - an unreadable footer is reported by the reader, with the file name
            names = set()
        if {"start_time", "starttime"} & names and {"usage_details", "usagedetails"} & names:
            return "langfuse-parquet"
        return "canonical-parquet"
    text = head_text(path)
    if "\x00" in text[:4096]:
        raise InputError(f"{path}: a binary file, not a log. {FORMATS_HELP}")
    if mapping:
        return mapping
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        raise InputError(f"{path}: no records in the file. {FORMATS_HELP}")
    if lines[0].lstrip().startswith(("{", "[")):
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A record longer than the sniffed head (big bodies, OTLP batches): its opening says enough.
                fmt = _json_prefix_format(line)
                if fmt:
                    return fmt
                continue
            if isinstance(record, dict):
                fmt = _json_format(record)
                if fmt:
                    return fmt
        from costlab.ingest.admin import FORMAT, looks_like_report

        if looks_like_report(text):  # a pretty-printed Admin API page
            return FORMAT
        raise InputError(f"{path}: JSON, but no record looks like a log costlab knows. {FORMATS_HELP}")
    header = {h.strip().strip('"').lower() for h in lines[0].split(",")}
    if "starttime" in header and ("spend" in header or "exception_type" in header):
        return "litellm-csv"
    if {"start_time", "starttime"} & header and {"usage_details", "usagedetails"} & header:
        return "langfuse-csv"
    if len(header) > 1 and _CANONICAL_KEYS & header and "ts" in header:
        return "canonical-csv"
    raise InputError(
        f"{path}: not a format costlab recognises (first line: {excerpt(lines[0])}). {FORMATS_HELP} "
        "For a CSV of your own, add a [mappings.NAME] section to costlab.toml."
    )


EXCERPT_CHARS = 40


def excerpt(text: str) -> str:
    """At most EXCERPT_CHARS characters of a file's text for an error message, escaped (repr: quotes,
    control characters and escape sequences shown as \\x.. codes), so an error shows what the file
    looks like without copying more of it than that to a terminal or a log."""
    return repr(text[:EXCERPT_CHARS]) + ("…" if len(text) > EXCERPT_CHARS else "")


def _json_format(record: dict) -> str | None:
    if record.get("schemaType") == "ModelInvocationLog":
        return "bedrock"
    if "resourceSpans" in record:
        return "otel"
    if isinstance(record.get("data"), list) and ("has_more" in record or "next_page" in record):
        return "admin-report"
    if "startTime" in record and ("spend" in record or "exception_type" in record):
        return "litellm-jsonl"
    if {"start_time", "startTime"} & set(record) and {"usage_details", "usageDetails"} & set(record):
        return "langfuse-jsonl"
    if "custom_id" in record and "result" in record:
        return "batch"
    if record.get("type") == "message" and "usage" in record:
        return "anthropic-message"
    if {"response", "request", "error"} & set(record) and ("timestamp" in record or "response" in record):
        return "anthropic"
    if len(_CANONICAL_KEYS & set(record)) >= 2:
        return "canonical-jsonl"
    return None


def _json_prefix_format(line: str) -> str | None:
    import re

    if re.match(r'\s*\{\s*"resourceSpans"\s*:', line):
        return "otel"
    if re.search(r'"schemaType"\s*:\s*"ModelInvocationLog"', line[:4096]):
        return "bedrock"
    return None


def _mapping_for(path: Path, config: Config) -> str | None:
    for name, spec in config.mappings.items():
        pattern = spec.get("match")
        if pattern and fnmatch.fnmatch(path.name, pattern):
            return f"mapping:{name}"
    return None


def normalise_format(fmt: str, path: Path, config: Config) -> str:
    """A --format value as an internal format name ('canonical' picks CSV/JSONL/Parquet by content)."""
    if fmt.startswith("mapping:"):
        name = fmt.split(":", 1)[1]
        if name not in config.mappings:
            raise ConfigError(
                f"--format {fmt}: no [mappings.{name}] in costlab.toml.{did_you_mean(name, config.mappings)}"
            )
        return fmt
    if fmt == "canonical":
        if is_parquet(path):
            return "canonical-parquet"
        return "canonical-jsonl" if head_text(path, 4096).lstrip().startswith("{") else "canonical-csv"
    if fmt == "anthropic":
        first = next((ln for ln in head_text(path).splitlines() if ln.strip()), "")
        try:
            if json.loads(first).get("type") == "message":
                return "anthropic-message"
        except (json.JSONDecodeError, AttributeError):
            pass
        return "anthropic"
    if fmt == "batch":
        return "batch"
    if fmt in ("admin-report", "admin"):
        return "admin-report"
    from costlab.ingest import sources

    if fmt in sources.SOURCES:
        return fmt
    for name in sources.SOURCES:  # litellm -> litellm-csv or litellm-jsonl by content
        if name.startswith(fmt + "-"):
            kind = "parquet" if is_parquet(path) else ("jsonl" if head_text(path, 4096).lstrip().startswith("{") else "csv")
            if f"{fmt}-{kind}" in sources.SOURCES:
                return f"{fmt}-{kind}"
    raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
