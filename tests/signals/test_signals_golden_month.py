"""Every detector's findings on a generated month with every wrong-model pattern are pinned (issue 15):
the detectors' SQL is rewritten for speed at 100M requests (one pass where two were, rows filtered
before a join), and a rewrite must not move a finding, a figure in the evidence or a cent.

The golden file was made with the detectors' SQL before those rewrites (and checked against it with
benchmarks/compare_signals.py at 10M requests). Thresholds are lowered so most detectors find
something, and the run is repeated in a time zone whose offset is not a whole hour (Asia/Kathmandu,
+05:45), where the days and the 10-minute steps are cut at local midnights.

To re-pin after a change meant to change findings: COSTLAB_UPDATE_GOLDEN=1 pytest this file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from costlab import pricing, signals
from costlab.config import Config
from costlab.generate import generate_sql
from costlab.signals.findings import COLUMNS

from helpers import copy_store

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "signals_generated_month.json"
PATTERNS = ("over-modeling", "rate-limited-top-tier", "cost-per-user-growth", "escalation-spike", "nightly-batch")
SETTINGS = {
    # every detector does its full work (as benchmarks/bench_signals.py sets them up)
    "batch_features": ["no-such-feature"],
    "latency_slo_ms": {"chat-assistant": 500, "support-bot": 20000},
    "ttft_slo_ms": {"chat-assistant": 300},
    "pin_versions": True,
    # low enough that the generated month yields findings of most detectors
    "min_impact_usd": 0, "min_spend_share": 0, "min_requests": 5,
    "under_modeling": {"long_prompt_tokens": 8000, "min_ratio": 1.1, "min_z": 0.5, "min_troubles": 5},
}
TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


@pytest.fixture(scope="module")
def month(tmp_path_factory, store_template):
    """60,000 generated requests over four weeks (19 October to 16 November 2026) with every
    pattern, priced into the stored columns as ingest prices them."""
    s = copy_store(store_template, tmp_path_factory.mktemp("golden") / "month.duckdb")
    s.execute("insert into requests by name " + generate_sql(60_000, seed=5, start="2026-10-19", days=28, patterns=PATTERNS))
    pricing.reprice(s)
    yield s
    s.close()


def rows(store, tz: str) -> list[dict]:
    config = Config(signals=SETTINGS, tiers=TIERS)
    notes: list[str] = []
    found = signals.run_signals(store, config=config, tz=tz, notes=notes)
    out = [{c: (None if r[c] is None else float(r[c]) if isinstance(r[c], float) else str(r[c])) for c in COLUMNS}
           for r in found.iter_rows(named=True)]
    return out + [{"note": n} for n in notes]


def same(a, b) -> bool:
    """Strings and DECIMALs exactly; a DOUBLE to 1e-9 relative (a float sum's last bits depend on
    the order threads add the rows in)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kathmandu"])
def test_every_finding_on_a_generated_month_is_unchanged(month, tz):
    got = rows(month, tz)
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("COSTLAB_UPDATE_GOLDEN"):
        golden[tz] = got
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    want = golden[tz]
    assert len({r.get("signal") for r in want if "signal" in r}) >= 6  # most detectors find something
    assert len(got) == len(want), [(r.get("signal"), r.get("segment")) for r in got]
    for g, w in zip(got, want):
        assert g.keys() == w.keys() and all(same(g[k], w[k]) for k in g), (g, w)
