"""Large windows on one machine (issue 15, part 1): the report within a tight DuckDB memory limit gives
the figures it gives without one, and its latency percentiles are exact up to [report]
exact_percentiles_max measured requests and DuckDB's approx_quantile past it, labelled so."""

from __future__ import annotations

import json

import pytest

from costlab.config import Config
from costlab.generate import generate_into
from costlab.open import open_store
from helpers import costlab_on_store as costlab

WEEK = ["report", "--week", "2026-W46", "--format", "json"]


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """A store of 60,000 generated requests over two weeks (W45 and W46), made in parts."""
    root = tmp_path_factory.mktemp("large")
    with open_store(root / "store.duckdb", Config()) as s:
        generate_into(s, 60_000, seed=5, start="2026-11-02", days=14, part_rows=25_000)
    return root




def sections(result) -> dict:
    return json.loads(result.stdout)["sections"]


def test_the_report_under_a_tight_memory_limit_equals_the_report_without_one(week):
    tight = sections(costlab(week, WEEK, limit="200MB"))
    free = sections(costlab(week, WEEK, limit="none"))
    assert tight == free
    assert "approximate" not in json.dumps(tight["reliability"]["notes"])


def test_latency_percentiles_are_exact_up_to_the_stated_size_and_labelled_approximate_past_it(week):
    with open_store(week / "store.duckdb", Config(), read_only=True) as s:
        measured = s.scalar("select count(*) from requests where status = 'ok' and coalesce(service_tier, 'standard') "
                            "<> 'batch' and ts >= '2026-11-09' and ts < '2026-11-16'")
        exact = s.run_query("report/latency", since="2026-11-09", until="2026-11-16")
        approx = s.run_query("report/latency", since="2026-11-09", until="2026-11-16", approx=True)
        counted = s.run_query("report/latency_measured", since="2026-11-09", until="2026-11-16")["measured"][0]
        direct = s.scalar("select quantile_cont(latency_ms, 0.95) from costed_requests where status = 'ok' and "
                          "coalesce(service_tier, 'standard') <> 'batch' and ts >= '2026-11-09' and ts < '2026-11-16'")
    assert counted == measured
    assert not exact["approximate"].any() and approx["approximate"].all()
    assert exact.filter(exact["dimension"] == "all")["p95_latency_ms"][0] == direct
    # the t-digest is close, not equal
    assert approx.filter(approx["dimension"] == "all")["p95_latency_ms"][0] == pytest.approx(direct, rel=0.05)

    at_size = sections(costlab(week, WEEK, config=f"[report]\nexact_percentiles_max = {measured}\n"))
    past = sections(costlab(week, WEEK, config=f"[report]\nexact_percentiles_max = {measured - 1}\n"))
    assert not any("approximate" in n for n in at_size["reliability"]["notes"])
    label = [n for n in past["reliability"]["notes"] if "approximate" in n]
    assert len(label) == 1 and f"{measured:,} measured requests" in label[0] and f"({measured - 1:,})" in label[0]
    # only the latency percentiles change
    assert {k: v for k, v in past.items() if k != "reliability"} == {k: v for k, v in at_size.items() if k != "reliability"}
