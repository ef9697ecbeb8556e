"""The files themselves: which files a list of paths names (`expand`: folders, globs, symbolic
links), and what their first bytes say (text through gzip, Parquet or not, gzip or not), for
detection and the readers. Nothing here knows a log format."""

from __future__ import annotations

import fnmatch
import glob
import gzip
import shutil
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from costlab.errors import InputError

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".log")


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


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


@contextmanager
def decompressed(path: Path) -> Iterator[Path]:
    """A .gz file decompressed into a temporary file, for the line-exact read. DuckDB's line reader
    holds a compressed file's whole read buffer in memory (16 x the line size: 16 GiB), and with a
    smaller buffer it drops a line longer than the buffer without a word; the plain copy is read
    exactly as the same file uncompressed is: same memory, every line numbered, too-long lines rejected."""
    with tempfile.TemporaryDirectory(prefix="costlab-") as tmp:
        plain = Path(tmp) / path.name.removesuffix(".gz")
        try:
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError, zlib.error) as ex:
            if isinstance(ex, OSError) and ex.errno is not None:  # disk full: not the file's fault
                raise InputError(f"{path}: cannot decompress it to a temporary file ({ex}). Free space in the "
                                 "temporary folder (TMPDIR), or decompress the file yourself.") from ex
            raise InputError(f"{path}: a damaged or truncated gzip file ({ex}). Re-copy or re-export it.") from ex
        yield plain


EXCERPT_CHARS = 40


def excerpt(text: str) -> str:
    """At most EXCERPT_CHARS characters of a file's text for an error message, escaped (repr: quotes,
    control characters and escape sequences shown as \\x.. codes), so an error shows what the file
    looks like without copying more of it than that to a terminal or a log."""
    return repr(text[:EXCERPT_CHARS]) + ("…" if len(text) > EXCERPT_CHARS else "")


def content_kind(path: Path) -> str:
    """parquet, jsonl or csv, by the file's first bytes (for a --format naming a format of several kinds)."""
    if is_parquet(path):
        return "parquet"
    return "jsonl" if head_text(path, 4096).lstrip().startswith("{") else "csv"


def name_matches(path: Path, pattern: str) -> bool:
    """The file's name matches a shell pattern ([mappings.NAME] match)."""
    return fnmatch.fnmatch(path.name, pattern)
