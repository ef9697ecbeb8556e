"""The lake: the store's costed requests as Hive-partitioned Parquet that any engine reads (docs/lake.md).

- manifest.py: `_costlab/manifest.json` (what the last finished export wrote) and the in-progress marker
- target.py: a local folder or an s3:// prefix, and the few writes an export makes (each file whole)
- export.py: `export_lake` (`costlab export`): only the days whose rows or prices changed are written
- read.py: `open_lake` (a local lake as DuckDB views, for the same queries), `verify` (files vs manifest)
"""

from costlab.lake.export import ExportResult, export_lake
from costlab.lake.manifest import FORMAT_VERSION, MANIFEST, MARKER, TABLES, day_file
from costlab.lake.read import Check, open_lake, verify

__all__ = ["Check", "ExportResult", "FORMAT_VERSION", "MANIFEST", "MARKER", "TABLES", "day_file", "export_lake",
           "open_lake", "verify"]
