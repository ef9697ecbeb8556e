"""The shipped example carries a wrong-model pattern for five detectors (issue 13, item 13): ingested as
`make demo` does (examples/ with examples/costlab.toml), each expected detector fires on its segment
and nothing else does, in `costlab signals` and in the report's default week; the same log generated
without patterns stays silent at the default thresholds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from costlab import signals
from costlab.config import Config, load_config
from costlab.generate import generate_sql
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.report import build_report, window
from costlab.report.sections import SECTIONS

from helpers import EXAMPLES, copy_store

UNTIL = datetime(2026, 11, 16, tzinfo=timezone.utc)  # the generated logs' two weeks (the report's W46)
EXPECTED = {
    ("over_modeling", "feature=ticket-tagger model=claude-opus-5-5 tier=opus"),
    ("rate_limit_headroom", "tier=opus fallback=sonnet"),
    ("cost_per_user", "customer=acme"),
    ("escalation_spike", "feature=doc-summarize"),
    ("batch_eligible", "feature=catalog-enrich"),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    s = open_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", load_config(EXAMPLES / "costlab.toml"))
    assert not ingest_paths(s, [str(EXAMPLES)]).failed
    yield s
    s.close()


def found(frame) -> set[tuple[str, str]]:
    return set(zip(frame["signal"].to_list(), frame["segment"].to_list()))


def test_each_pattern_of_the_shipped_example_is_found_and_nothing_else(demo):
    findings = signals.run_signals(demo, until=UNTIL)
    assert found(findings) == EXPECTED, findings.select("signal", "segment", "evidence").to_dicts()
    dollars = findings.filter(findings["weekly_impact_usd"].is_not_null())
    assert (dollars["weekly_impact_usd"].cast(float) >= 25).all()  # the default thresholds, not loosened


def test_the_reports_default_week_is_the_examples_last_full_week_and_shows_the_findings(demo):
    span = window.resolve(store=demo, today=datetime(2026, 12, 7).date())
    assert span.label == "2026-W46"
    report = build_report(demo, span, sections=[s for s in SECTIONS if s.name == "findings"])
    section = report["sections"]["findings"]
    rows = section["tables"][0]["rows"]
    assert {(r["signal"], r["segment"]) for r in rows} == EXPECTED
    assert section["notes"][0].startswith("5 findings, worst first")


def test_the_same_log_without_patterns_stays_silent(store_template, tmp_path):
    with copy_store(store_template, tmp_path / "clean.duckdb") as s:
        s.execute("insert into requests by name "
                  + generate_sql(80_000, seed=13, start="2026-11-02", days=14, mix=(0.45, 0.40, 0.15)))
        findings = signals.run_signals(s, config=Config())
        assert findings.height == 0, findings.select("signal", "segment", "evidence").to_dicts()
