"""The report's tables as data files: `costlab report --format csv --out DIR` (or jsonl, parquet).

A finance reader opens each table on its own in a spreadsheet, so every table goes to its own file in
the folder --out names, with the exact values the JSON report carries (money to the nano-dollar, never
a binary float), and one more file, `tables.csv` (or .jsonl, .parquet), that lists them:

    DIR/tables.csv                 file, section, table, title, period, since, until: what each file holds
    DIR/headline_metrics.csv       a section's figures: key, label, kind, current, previous, change, change_kind
    DIR/spend_by_tier.csv          each table, named SECTION_TABLE: its columns by their keys, one row a row

Column types follow the report's value kinds (costlab.report.document): usd as DECIMAL(38,9), count as
a whole number, ratio, change and points as fractions (0.05 is 5%), ms and number as floats, text as
text. Metrics mix kinds in one column, so their values are written as text, read by their `kind`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from costlab import frames
from costlab.errors import ConfigError

FORMATS = ("csv", "jsonl", "parquet")  # the frames formats the report's tables are written in (json is the whole report)
USD = pl.Decimal(38, 9)
_DTYPES = {"text": pl.String, "count": pl.Int64, "usd": USD, "ratio": pl.Float64, "change": pl.Float64,
           "points": pl.Float64, "ms": pl.Float64, "number": pl.Float64}
METRIC_COLUMNS = ("key", "label", "kind", "current", "previous", "change", "change_kind")


def _name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p).strip("-") for p in parts)


def _table_frame(table: dict[str, Any]) -> pl.DataFrame:
    series = []
    for c in table["columns"]:
        values = [row.get(c["key"]) for row in table["rows"]]
        if c["kind"] == "usd":  # exact strings ("12.345678900"): cast from text, never through a float
            series.append(pl.Series(c["key"], values, dtype=pl.String).cast(USD))
        else:
            series.append(pl.Series(c["key"], values, dtype=_DTYPES[c["kind"]], strict=False))
    return pl.DataFrame(series)


def _metrics_frame(metrics: list[dict[str, Any]]) -> pl.DataFrame:
    text = lambda v: None if v is None else str(v)  # noqa: E731
    return pl.DataFrame({k: [text(m.get(k)) for m in metrics] for k in METRIC_COLUMNS},
                        schema={k: pl.String for k in METRIC_COLUMNS})


def report_frames(report: dict[str, Any]) -> dict[str, tuple[str, str, str, pl.DataFrame]]:
    """Every table of `report` (the report object), detail tables too, and each section's metrics:
    file stem -> (section, table key, title, frame), in report order."""
    out: dict[str, tuple[str, str, str, pl.DataFrame]] = {}
    for section, body in report["sections"].items():
        if body.get("metrics"):
            out[_name(section, "metrics")] = (section, "metrics", f"{body.get('title', section)}: figures",
                                              _metrics_frame(body["metrics"]))
        for table in body.get("tables", []):
            out[_name(section, table["key"])] = (section, table["key"], table.get("title", table["key"]), _table_frame(table))
    return out


def check_folder(folder: str | Path, fmt: str) -> Path:
    """`folder` as a Path, when the tables in `fmt` can go there; a ConfigError when it is an existing
    file or names a file of the format (report.csv) rather than a folder."""
    folder = Path(folder)
    if fmt not in FORMATS:
        raise ConfigError(f"the report's tables are written as {', '.join(FORMATS)}, not {fmt!r}")
    if folder.is_file() or folder.suffix.lower() == f".{fmt}":
        raise ConfigError(f"--format {fmt} writes one file per table of the report: give --out a folder "
                          f"(e.g. --out report/), not the file {folder}")
    return folder


def write_tables(report: dict[str, Any], fmt: str, folder: str | Path) -> list[Path]:
    """Write each table of `report` to `folder` (created) in `fmt` (one of FORMATS), and the index file
    `tables.<fmt>`; returns the paths written, the index first.

    Raises:
        ConfigError: `folder` is an existing file, or names a file of the format (report.csv) rather than a folder.
    """
    folder = check_folder(folder, fmt)
    folder.mkdir(parents=True, exist_ok=True)
    tables = report_frames(report)
    window = report["window"]
    index = pl.DataFrame({
        "file": [f"{stem}.{fmt}" for stem in tables],
        "section": [t[0] for t in tables.values()],
        "table": [t[1] for t in tables.values()],
        "title": [t[2] for t in tables.values()],
        "period": [window["label"]] * len(tables),
        "since": [window["since"]] * len(tables),
        "until": [window["until"]] * len(tables),
    }, schema={k: pl.String for k in ("file", "section", "table", "title", "period", "since", "until")})
    written = [folder / f"tables.{fmt}"]
    frames.write(index, fmt, written[0])
    for stem, (_, _, _, frame) in tables.items():
        path = folder / f"{stem}.{fmt}"
        frames.write(frame, fmt, path)
        written.append(path)
    return written
