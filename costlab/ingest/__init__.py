"""Ingest: log files in, canonical priced-ready rows out, each file all or nothing.

paths.py (what the paths name) -> pipeline.py (one file: hash, detect, stage, load) -> staging.py
(DuckDB's readers, the format's adapter, canonical.py's validation); the formats are registered in
formats/__init__.py.

This module only re-exports the public names, and loads them on first use: the CLI imports the
format registry (costlab.ingest.formats) at startup for --format's help, which must not import
DuckDB and polars before the CLI has set up the process (see costlab/__init__.py).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from costlab.ingest.files import expand
    from costlab.ingest.paths import ingest_paths
    from costlab.ingest.pipeline import ingest_file
    from costlab.ingest.results import FileResult, IngestSummary

__all__ = ["FileResult", "IngestSummary", "expand", "ingest_file", "ingest_paths"]

_HOMES = {"expand": "costlab.ingest.files", "ingest_paths": "costlab.ingest.paths",
          "ingest_file": "costlab.ingest.pipeline", "FileResult": "costlab.ingest.results",
          "IngestSummary": "costlab.ingest.results"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'costlab.ingest' has no attribute {name!r}")
