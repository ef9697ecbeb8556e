"""Fixtures of the engine tests: one generated store, its lake, and ONE SparkSession for the run.

Spark takes 25-40 s to start (more under load), so every test that needs it is marked
`xdist_group("spark")` (run with `pytest -n auto --dist loadgroup`, as `make test` does: they all
land on one worker, which starts the session once). Without Java or pyspark they skip, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakefixture import export_lake
from sparkenv import JVM_QUICK, spark_missing

ROWS = 30_000  # "a few tens of thousands of generated rows" (issue 15)

# The test session's footprint, on top of costlab's own settings (costlab.engine.spark: UTC, ANSI, no
# DECIMAL precision loss, which the tests keep as they are): Spark's cost here is per query and stage, not
# per row, so fewer tasks per shuffle (2, one a core, not 8), no web UI (nothing here reads it; the
# standalone smoke's own driver keeps one for its REST API) and quick JVM flags (sparkenv.JVM_QUICK).
# Measured before and after in benchmarks/RESULTS.md, "Spark tests".
TEST_SETTINGS = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.driver.extraJavaOptions": JVM_QUICK,
}


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
    """The run's one SparkSession (local[2], 1 GB driver, TEST_SETTINGS), stopped at the end."""
    why = spark_missing()
    if why:
        pytest.skip(why)
    from costlab.engine.spark import session

    s = session("local[2]", app_name="costlab-tests", extra=TEST_SETTINGS)
    yield s
    s.stop()


# The shipped example's wrong-model patterns (examples/wrong_model_patterns.parquet), half of its rows,
# with thresholds loosened so that most detector families find something to compare (issue 15, part 2).
LOOSE_SIGNALS = '''
[signals]
min_impact_usd = 0
min_spend_share = 0
latency_slo_ms = { "ticket-tagger" = 900, "doc-summarize" = 2000 }
[signals.spend_anomaly]
min_rise = 0.05
mad_k = 1
[signals.cost_per_user]
min_growth = 0.05
mad_k = 1
[compare]
share_change_pp = 1
'''


@pytest.fixture(scope="session")
def signals_lake(tmp_path_factory):
    """(store path, lake path, config): the example's patterns (about 40k requests), priced, exported."""
    from costlab import pricing
    from costlab.config import load_config
    from costlab.ingest import ingest_paths
    from costlab.open import open_store

    examples = Path(__file__).resolve().parents[2] / "examples"
    root = tmp_path_factory.mktemp("signals_lake")
    (root / "costlab.toml").write_text((examples / "costlab.toml").read_text() + LOOSE_SIGNALS)
    config = load_config(root / "costlab.toml")
    db = root / "store.duckdb"
    with open_store(db, config) as store:
        assert not ingest_paths(store, [str(examples / "wrong_model_patterns.parquet")]).failed
        store.execute("delete from requests where hash(request_id) % 2 = 0")
        # unpriced traffic: data_quality's finding, and unpriced rows must stay unpriced on Spark
        store.execute("update requests set model = 'acme-llm-9', price_version = null where hash(request_id) % 97 = 0")
        # a gateway's own cost on some rows (a little off costlab's): the report's reconciliation section
        store.execute("update requests set reported_cost_usd = 0.0001 * (hash(request_id) % 300) where hash(request_id) % 3 = 0")
        pricing.reprice(store)
        export_lake(store, root / "lake")
    return db, root / "lake", config
