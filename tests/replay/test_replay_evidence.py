"""Replays against a test server never feed production figures: a run sent anywhere but the
platform's own API is marked 'test' when it is planned (and when it is sent); any run can be
excluded (kept, ignored), included again, or deleted (logged requests untouched); a dry run is
shown as dry, with no pairs missing. The one filter is the view replay_runs_ignored, which what-if's
evidence SQL reads."""

from __future__ import annotations

import numpy as np
import pytest

from costlab import replay
from costlab.config import Config
from costlab.open import open_store
from costlab.replay.journal import journal_path
from costlab.replay.plan import is_production_url
from costlab.testing import TestServer
from costlab.whatif import reduce
from costlab.whatif.daily_totals import reduce_daily_totals, tier_quality
from helpers import SECRET, ingest_log, invoke

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


@pytest.fixture
def rstore(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    s = open_store(tmp_path / "r.duckdb", Config(tiers=TIERS))
    ingest_log(s, tmp_path, 30)
    yield s
    s.close()


def _judged_run(store, name: str) -> None:
    with TestServer() as server:
        run, _ = replay.plan(store, replay.ReplaySpec(sample=6, tiers=["haiku", "opus"], judge="opus", run=name,
                                                      base_url=server.url, concurrency=4))
        assert replay.status(store, run)["evidence"][0] == "test"  # marked when created
        replay.execute(store, run, base_url=server.url)


def _judged_quality(store) -> int:
    """Requests x tiers with a judged quality in the per-request what-if pass."""
    red = reduce(store, tiers=TIERS)
    return int(np.isfinite(red.quality).sum())


def test_the_production_api_is_production_and_any_other_host_is_a_test():
    assert is_production_url(None) and is_production_url("https://api.anthropic.com")
    assert is_production_url("https://bedrock-runtime.us-east-1.amazonaws.com", "bedrock")
    assert is_production_url("https://us-east5-aiplatform.googleapis.com", "vertex")
    for url in ("http://127.0.0.1:8080", "http://localhost:8080", "https://api.anthropic.com.example.net",
                "https://llm-gateway.internal"):
        assert not is_production_url(url)


def test_a_test_server_run_feeds_no_whatif_until_included_and_an_excluded_run_none_again(rstore):
    baseline = _judged_quality(rstore)
    _judged_run(rstore, "t")
    assert rstore.scalar("select count(*) from judgements where run = 't'") > 0
    assert _judged_quality(rstore) == baseline  # what-if's evidence leaves the test run out
    assert baseline == 0 and tier_quality(reduce_daily_totals(rstore, tiers=TIERS)) is None  # the report's pass too
    replay.include(rstore, "t")
    assert replay.status(rstore, "t")["evidence"][0] == "production"
    assert _judged_quality(rstore) > 0
    assert tier_quality(reduce_daily_totals(rstore, tiers=TIERS)) is not None
    replay.exclude(rstore, "t")
    assert replay.status(rstore, "t")["evidence"][0] == "excluded"
    assert _judged_quality(rstore) == baseline
    assert rstore.scalar("select count(*) from judgements where run = 't'") > 0  # kept


def test_delete_removes_the_run_and_its_records_and_never_a_logged_request(rstore):
    _judged_run(rstore, "t")
    before = rstore.rows("select count(*), sum(cost_usd) from requests")[0], rstore.scalar("select count(*) from payloads")
    path = journal_path(rstore, "t")
    assert path.exists()
    counts = replay.delete(rstore, "t")
    assert counts["replays"] == 12 and counts["replay_sample"] == 6 and counts["judgements"] > 0
    for table in ("replay_runs", "replay_sample", "replays", "judgements", "replay_run_evidence"):
        assert rstore.scalar(f"select count(*) from {table} where run = 't'") == 0
    assert (rstore.rows("select count(*), sum(cost_usd) from requests")[0],
            rstore.scalar("select count(*) from payloads")) == before
    assert not path.exists() and replay.status(rstore).height == 0
    with pytest.raises(Exception, match="no replay run 't'"):
        replay.delete(rstore, "t")


def test_a_dry_run_is_shown_as_dry_with_no_pairs_missing(rstore):
    run, _ = replay.plan(rstore, replay.ReplaySpec(sample=6, tiers=["haiku", "sonnet"], run="d"))
    replay.mark_dry_run(rstore, run)
    row = replay.status(rstore, "d").row(0, named=True)
    assert (row["status"], row["pairs"], row["missing"], row["evidence"]) == ("dry-run", 12, 0, "production")


def test_exclude_include_and_delete_on_the_command_line(env):
    with TestServer() as server:
        r = invoke("--sample", "3", "--tiers", "haiku", "--run", "c", "--base-url", server.url, "--format", "csv")
    assert r.exit_code == 0, r.output
    assert "run c is a test run" in r.stderr and "costlab replay include c" in r.stderr
    status = invoke("status", "--format", "json")
    assert '"evidence": "test"' in status.stdout or '"evidence":"test"' in status.stdout
    r = invoke("exclude", "c")
    assert r.exit_code == 0 and "run c excluded" in r.stderr
    r = invoke("include", "c")
    assert r.exit_code == 0 and "run c included" in r.stderr
    r = invoke("results", "c")
    assert r.exit_code == 0 and "n = judged" in r.stderr
    r = invoke("delete", "c")
    assert r.exit_code == 0 and "run c deleted: 3 replays" in r.stderr and "the logged requests stay" in r.stderr
    assert invoke("delete", "c").exit_code == 2


def test_the_reports_whatif_shows_quality_with_its_n_and_interval_and_no_test_run_moves_it(rstore):
    from datetime import date

    from costlab.report.build import build_report
    from costlab.report.settings import ReportSettings
    from costlab.report.window import date_range

    settings = ReportSettings(whatif_splits=("haiku=50,opus=50",))
    window = date_range(date(2026, 11, 9), date(2026, 11, 16))
    before = build_report(rstore, window, settings)["sections"]["whatif"]
    _judged_run(rstore, "t")
    after_test = build_report(rstore, window, settings)["sections"]["whatif"]
    assert after_test["tables"] == before["tables"]  # a test run moves no figure and draws no frontier
    replay.include(rstore, "t")
    doc = build_report(rstore, window, settings)["sections"]["whatif"]
    keys = [c["key"] for c in doc["tables"][0]["columns"]]
    assert {"quality", "quality_low", "quality_high", "quality_n"} <= set(keys)
    row = next(r for r in doc["tables"][0]["rows"] if r["scenario"] == "haiku=50,opus=50")
    assert row["quality_n"] > 0 and row["quality_low"] <= row["quality"] <= row["quality_high"]
