"""The one place the engine tests make a lake: until `costlab export` (costlab.lake) is merged, a small
stand-in that writes the LAKE CONTRACT from a store; at merge this becomes a call to costlab.lake.export.

    <lake>/requests/day=YYYY-MM-DD/part-*.parquet   costed_requests' columns, money as <name>_nano BIGINT
    <lake>/price_card/part-0.parquet, <lake>/models/part-0.parquet, <lake>/_costlab/manifest.json
"""

from __future__ import annotations

import json
from pathlib import Path

from costlab.engine.lake import NANO_SUFFIX
from costlab.store.sqlquote import ident, literal


def export_lake(store, lake: Path) -> Path:
    """Write `store`'s costed requests, price card and models as a lake under `lake`; returns it."""
    lake.mkdir(parents=True, exist_ok=True)
    columns = store.rows("select column_name, column_type from (describe costed_requests)")
    select = []
    for name, sql_type in columns:
        if sql_type == "DECIMAL(18,9)":  # money (and the price multiplier): integer units of 1e-9
            select.append(f"cast(cast({ident(name)} as DECIMAL(38, 9)) * 1000000000 as BIGINT) as {ident(name + NANO_SUFFIX)}")
        elif sql_type == "JSON":
            select.append(f"cast({ident(name)} as VARCHAR) as {ident(name)}")
        else:
            select.append(ident(name))
    store.execute(f"copy (select {', '.join(select)}, cast(ts as DATE) as day from costed_requests) "
                  f"to {literal(str(lake / 'requests'))} (format parquet, partition_by (day), overwrite_or_ignore true)")
    for table in ("price_card", "models"):
        (lake / table).mkdir(exist_ok=True)
        store.execute(f"copy (select * from {ident(table)}) to {literal(str(lake / table / 'part-0.parquet'))} (format parquet)")
    (lake / "_costlab").mkdir(exist_ok=True)
    (lake / "_costlab" / "manifest.json").write_text(json.dumps({"writer": "tests/engine/lakefixture.py"}))
    return lake
