"""Fixtures of the engine tests: one generated store, its lake, and ONE SparkSession for the run.

Spark takes 25-40 s to start (more under load), so every test that needs it is marked
`xdist_group("spark")` (run with `pytest -n auto --dist loadgroup`, as `make test` does: they all
land on one worker, which starts the session once). Without Java or pyspark they skip, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakefixture import export_lake
from sparkenv import spark_missing

ROWS = 30_000  # "a few tens of thousands of generated rows" (issue 15)


@pytest.fixture(scope="session")
def lake_store(tmp_path_factory):
    """(store path, lake path): ROWS generated requests over two weeks, priced, and exported."""
    from costlab import pricing
    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.open import open_store

    root = tmp_path_factory.mktemp("lake")
    db = root / "store.duckdb"
    with open_store(db, Config()) as store:
        store.execute("insert into requests by name " + generate_sql(ROWS, seed=15, start="2026-11-02", days=14))
        # a sampled slice (each row stands for 20 requests) so weighted sums are exercised
        store.execute("update requests set sample_weight = 20 where hash(request_id) % 10 = 0")
        # a model with no price: unpriced rows must stay unpriced on both engines
        store.execute("update requests set model = 'claude-unknown-9' where hash(request_id) % 97 = 0")
        pricing.reprice(store)
        export_lake(store, root / "lake")
    return db, root / "lake"


@pytest.fixture(scope="session")
def spark():
    """The run's one SparkSession (local[2], 1 GB driver), stopped at the end."""
    why = spark_missing()
    if why:
        pytest.skip(why)
    from costlab.engine.spark import session

    s = session("local[2]", app_name="costlab-tests")
    yield s
    s.stop()
