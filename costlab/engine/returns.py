"""A result frame shaped as its query file's header declares (the types the DuckDB result has)."""

from __future__ import annotations

import polars as pl

from costlab.store.queries import QueryFile

_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(), "BIGINT": pl.Int64(), "INTEGER": pl.Int32(), "SMALLINT": pl.Int16(),
    "DOUBLE": pl.Float64(), "BOOLEAN": pl.Boolean(), "DATE": pl.Date(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


def cast_to_returns(frame: pl.DataFrame, q: QueryFile) -> pl.DataFrame:
    """`frame` with each column cast (strictly: a value that does not fit fails) to the type its query
    file's `returns:` header declares; columns the header does not type are left as they are."""
    casts = []
    for name, sql_type in q.returns:
        if name not in frame.columns:
            continue
        t = sql_type.replace(" ", "").upper()
        if t.startswith("DECIMAL("):
            p, s = (int(x) for x in t[len("DECIMAL("):-1].split(","))
            target: pl.DataType = pl.Decimal(p, s)
        elif t in _TYPES:
            target = _TYPES[t]
        else:
            continue
        if frame.schema[name] != target:
            casts.append(pl.col(name).cast(target, strict=True))
    return frame.with_columns(casts) if casts else frame
