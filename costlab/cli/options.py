"""The options several commands share, defined once: each is an Annotated type a command's parameter
takes (`db: DbOption = None`), so the flag, its short form and its help read the same everywhere.

The format lists in the help text name `costlab.frames.FORMATS` (tests/cli/test_frames.py checks they
agree); frames is not imported here, so `costlab --help` loads no polars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DbOption = Annotated[Optional[Path], typer.Option("--db", help="Store file. [env: COSTLAB_DB; costlab.toml db; default ./costlab.duckdb]", show_default=False)]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="Config file. [env: COSTLAB_CONFIG; default ./costlab.toml]", show_default=False)]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, csv, json, jsonl, markdown or parquet (parquet needs --out).")]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout.")]
SinceDayOption = Annotated[Optional[str], typer.Option("--since", help="First day, inclusive (YYYY-MM-DD).")]
UntilDayOption = Annotated[Optional[str], typer.Option("--until", help="Last day, exclusive (YYYY-MM-DD).")]
TiersOption = Annotated[Optional[str], typer.Option("--tiers", help="TIER=MODEL,... instead of costlab.toml [tiers].")]
TzOption = Annotated[Optional[str], typer.Option("--tz", help="Time zone for day boundaries and the times shown, e.g. Europe/Berlin. [default: costlab.toml [report] timezone, else UTC]", show_default=False)]

# -- tables (issue 16, "Tables") -------------------------------------------------------------------
LimitOption = Annotated[Optional[int], typer.Option(
    "--limit", min=0, show_default=False,
    help="At most N rows (0 for all). Default: 50 in a table on a terminal (a line under it gives the total), all otherwise.")]

# -- engines (issue 15, Part 2: costlab.engine) ------------------------------------------------------
EngineOption = Annotated[Optional[str], typer.Option(
    "--engine", show_default=False,
    help="duckdb (the store, or --lake) or spark (a lake; needs costlab[spark] and Java 17+). [default: costlab.toml [engine] kind, else duckdb]")]
LakeOption = Annotated[Optional[Path], typer.Option(
    "--lake", show_default=False, help="Read a lake (a folder written by `costlab export`) instead of the store. [default: costlab.toml [engine] lake]")]
MasterOption = Annotated[Optional[str], typer.Option(
    "--master", show_default=False,
    help="Spark master: local[N], spark://host:7077 or sc://host:15002. [default: costlab.toml [engine] master, else local[2]]")]
