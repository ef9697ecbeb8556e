"""Large windows on one machine (issue 15, part 1): the report within a tight DuckDB memory limit gives
the figures it gives without one, and its latency percentiles are quantile_cont's up to [report]
exact_percentiles_max measured requests and, past it, the same percentiles from counts of values
(report/latency_histogram.sql: exact, and it spills), labelled so."""

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


def test_latency_percentiles_from_counts_of_values_equal_quantile_cont_whatever_the_bin_width(week):
    window = {"since": "2026-11-09", "until": "2026-11-16"}
    with open_store(week / "store.duckdb", Config(), read_only=True) as s:
        exact = s.run_query("report/latency", **window)
        widths = {w: s.run_query("report/latency_histogram", **window, bin_ms=w) for w in (0.1, 16.0, 1000.0, 1e9)}
        # a group whose requests carry no TTFT at all, and NULL latencies: counted as requests, not values
        s.execute("create temp table costed_requests as select * replace ("
                  "case when feature = 'translate' then null else ttft_ms end as ttft_ms, "
                  "case when hash(request_id) % 7 = 0 then null else latency_ms end as latency_ms) from main.costed_requests")
        gaps = s.run_query("report/latency", **window), s.run_query("report/latency_histogram", **window)
    assert exact.height > 3 and not exact["approximate"].any()
    for got in [*widths.values(), gaps[1]]:
        assert not got["approximate"].any()
    for want, got in [*((exact, w) for w in widths.values()), gaps]:
        assert got.select("dimension", "key", "requests", "with_ttft").equals(want.select("dimension", "key", "requests", "with_ttft"))
        for col in [c for c in want.columns if c.startswith("p")]:
            for a, b in zip(want[col].to_list(), got[col].to_list()):
                # the same ranks and formula; DuckDB's compiled interpolation may fuse its multiply-add
                assert (a is None and b is None) or a == pytest.approx(b, rel=1e-15, abs=0), (col, a, b)
    assert gaps[1].filter(gaps[1]["key"] == "translate")["p95_ttft_ms"][0] is None


def test_latency_percentiles_past_the_stated_size_come_from_counts_of_values_and_say_so(week):
    with open_store(week / "store.duckdb", Config(), read_only=True) as s:
        measured = s.scalar("select count(*) from requests where status = 'ok' and coalesce(service_tier, 'standard') "
                            "<> 'batch' and ts >= '2026-11-09' and ts < '2026-11-16'")
        counted = s.run_query("report/latency_measured", since="2026-11-09", until="2026-11-16")["measured"][0]
        approx = s.run_query("report/latency", since="2026-11-09", until="2026-11-16", approx=True)
        direct = s.scalar("select quantile_cont(latency_ms, 0.95) from costed_requests where status = 'ok' and "
                          "coalesce(service_tier, 'standard') <> 'batch' and ts >= '2026-11-09' and ts < '2026-11-16'")
    assert counted == measured
    # by hand, approx=true is still DuckDB's t-digest: close, not equal
    assert approx["approximate"].all()
    assert approx.filter(approx["dimension"] == "all")["p95_latency_ms"][0] == pytest.approx(direct, rel=0.05)

    at_size = sections(costlab(week, WEEK, config=f"[report]\nexact_percentiles_max = {measured}\n"))
    past = sections(costlab(week, WEEK, config=f"[report]\nexact_percentiles_max = {measured - 1}\n"))
    assert not any("counts of values" in n or "approximate" in n for n in at_size["reliability"]["notes"])
    label = [n for n in past["reliability"]["notes"] if "counts of values" in n]
    assert len(label) == 1 and f"{measured:,} measured requests" in label[0] and f"({measured - 1:,})" in label[0]
    assert not any("approximate" in n for n in past["reliability"]["notes"])
    tables = {t["key"]: t["rows"] for t in at_size["reliability"]["tables"]}
    for t in past["reliability"]["tables"]:
        for want, got in zip(tables[t["key"]], t["rows"]):
            assert want.keys() == got.keys()
            for k, v in want.items():
                assert got[k] == (pytest.approx(v, rel=1e-15, abs=0) if isinstance(v, float) else v), (t["key"], k)
    # only the reliability section's latency rows can change
    assert {k: v for k, v in past.items() if k != "reliability"} == {k: v for k, v in at_size.items() if k != "reliability"}


def test_the_model_switch_reads_the_cubes_daily_counts_only_where_they_equal_its_own_query(week):
    from costlab.report.context import ReportContext
    from costlab.report.sections import model_switch
    from costlab.report.settings import parse
    from costlab.report.window import week as iso_week

    with open_store(week / "store.duckdb", Config(), read_only=True) as s:
        w = iso_week("2026-W46")
        own = s.run_query("compare/model_share", since=w.prev_since, until=w.until)
        daily = model_switch._daily(ReportContext(s, w, parse({})))
        assert daily is not None and daily.equals(own)
        # days in another time zone are not UTC days: the query runs
        assert model_switch._daily(ReportContext(s, iso_week("2026-W46", tz="Europe/Berlin"), parse({}))) is None
        # a sampled log: the cube's weighted counts are rounded per cell, so the query runs
        s.execute("create temp table requests as select * replace (case when hash(request_id) % 3 = 0 then 2.5 "
                  "else sample_weight end as sample_weight) from main.requests")
        assert model_switch._daily(ReportContext(s, w, parse({}))) is None
