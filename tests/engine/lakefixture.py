"""The one place the engine tests make a lake: `costlab export` (costlab.lake.export_lake) of a store.

    <lake>/requests/day=YYYY-MM-DD/part-0.parquet   costed_requests' columns (money DECIMAL(18,9))
    <lake>/price_card/, models/, model_aliases/, prices/, price_discounts/, _costlab/manifest.json
"""

from __future__ import annotations

from pathlib import Path

from costlab.lake import export_lake as _export


def export_lake(store, lake: Path) -> Path:
    """Write `store`'s costed requests and small tables as a lake under `lake` (costlab export); returns it."""
    _export(store, lake)
    return lake
