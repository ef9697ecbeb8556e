"""The weekly report (issue 5): windows, settings, every section's figures, the section hook, the
formats, golden Markdown and JSON on the example store, and the `report` command."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from costlab.config import load_config
from costlab.errors import ConfigError
from costlab.ingest import ingest_paths
from costlab.report import FORMATS, SECTIONS, Section, build_report, render, window
from costlab.report.sections import headline
from costlab.report.settings import parse
from costlab.open import open_store
from costlab.store import Store

from helpers import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = bool(os.environ.get("COSTLAB_UPDATE_GOLDEN"))
# The report's own sections: the golden files must not change when another issue's section lands.
CORE = [s for s in SECTIONS if not s.optional]
REPORT_TOML = """
[report]
top_n = 5
[report.target_split]
haiku = 70
sonnet = 25
opus = 5
[report.slo.default]
p95_latency_ms = 30000
p95_ttft_ms = 2500
[report.slo.chat-assistant]
p95_latency_ms = 15000
p95_ttft_ms = 1000
"""


def app() -> typer.Typer:
    from costlab.cli.report import register

    a = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(a)

    @a.callback()
    def _root() -> None:  # keeps `report` a subcommand, as in the real CLI
        pass

    return a


def run(*args: str):
    return CliRunner().invoke(app(), ["report", *args], env={"COLUMNS": "100", "TZ": "UTC"})


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The shipped examples ingested with examples/costlab.toml plus a [report] section."""
    base = tmp_path_factory.mktemp("example")
    toml = base / "costlab.toml"
    # The examples' own [report] section (the demo's) is replaced by this test's, which the goldens pin.
    base_toml = (EXAMPLES / "costlab.toml").read_text(encoding="utf-8").split("\n[report]")[0]
    toml.write_text(base_toml + REPORT_TOML, encoding="utf-8")
    db = base / "example.duckdb"
    config = load_config(toml)
    with open_store(db, config) as store:
        result = ingest_paths(store, [str(EXAMPLES)])
        assert not result.failed
    return db, toml


@pytest.fixture(scope="module")
def w46(example):
    db, toml = example
    with open_store(db, load_config(toml), read_only=True) as store:
        yield build_report(store, window.week("2026-W46"), sections=CORE)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: create it with COSTLAB_UPDATE_GOLDEN=1 and read it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: rerun with COSTLAB_UPDATE_GOLDEN=1 and read the diff"


def metric(report: dict, section: str, key: str) -> dict:
    return next(m for m in report["sections"][section]["metrics"] if m["key"] == key)


def rows(report: dict, section: str, table: str) -> list[dict]:
    return next(t for t in report["sections"][section]["tables"] if t["key"] == table)["rows"]


# -- windows ---------------------------------------------------------------------------------------
def test_default_window_is_the_last_full_iso_week_against_the_one_before():
    w = window.resolve(today=date(2026, 11, 23))  # a Monday: last week is done
    assert (w.label, w.prev_label) == ("2026-W47", "2026-W46")
    assert w.since == datetime(2026, 11, 16, tzinfo=timezone.utc) and w.until == datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert window.resolve(today=date(2026, 11, 29)).label == "2026-W47"  # Sunday: W48 is not over yet


def test_week_label_crosses_the_year_like_iso_does():
    w = window.week("2027-W01")
    assert w.since.date() == date(2027, 1, 4) and w.prev_label == "2026-W53"


@pytest.mark.parametrize("bad", ["2026-47", "W47", "2026-W54", "last week"])
def test_bad_week_is_a_config_error_naming_the_format(bad):
    with pytest.raises(ConfigError, match="--week"):
        window.week(bad)


def test_date_range_compares_with_the_same_number_of_days_before():
    w = window.resolve(since=date(2026, 11, 1), until=date(2026, 12, 1))
    assert w.label == "2026-11-01 to 2026-11-30"
    assert w.prev_since == datetime(2026, 10, 2, tzinfo=timezone.utc)
    assert window.resolve(since=date(2026, 11, 9), until=date(2026, 11, 16)).label == "2026-W46"


def test_empty_or_conflicting_window_is_refused():
    with pytest.raises(ConfigError, match="must be after"):
        window.resolve(since=date(2026, 11, 9), until=date(2026, 11, 9))
    with pytest.raises(ConfigError, match="not both"):
        window.resolve("2026-W46", since=date(2026, 11, 9))


# -- settings --------------------------------------------------------------------------------------
def test_settings_normalise_the_target_split_and_fall_back_to_the_default_slo():
    s = parse({"top_n": 3, "target_split": {"haiku": 70, "sonnet": 25, "opus": 5},
               "slo": {"default": {"p95_latency_ms": 100}, "chat": {"p95_ttft_ms": 5}}})
    assert s.target_split == pytest.approx({"haiku": 0.7, "sonnet": 0.25, "opus": 0.05})
    assert s.slo_for("chat") == {"p95_ttft_ms": 5.0} and s.slo_for("other") == {"p95_latency_ms": 100.0}


@pytest.mark.parametrize("section, message", [
    ({"top": 3}, "Did you mean 'top_n'"),
    ({"top_n": 0}, "at least 1"),
    ({"slo": {"chat": {"p95_latency": 3}}}, "Did you mean 'p95_latency_ms'"),
    ({"target_split": {"haiku": "most"}}, "non-negative number"),
    ({"memory_limit": "lots"}, "a size like"),
    ({"memory_limit": 2}, "a size like"),
])
def test_bad_report_settings_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        parse(section)


def test_a_target_split_or_whatif_split_that_does_not_add_up_is_refused_naming_the_file_key_and_sum():
    with pytest.raises(ConfigError, match=r"team/costlab.toml \[report.target_split\] .*opus = 50.*add up to 145;"):
        parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 50}}, file="team/costlab.toml")
    with pytest.raises(ConfigError, match=r"costlab.toml \[report\] whatif_splits: .*add up to 105;"):
        parse({"whatif_splits": ["haiku=70,sonnet=25,opus=10"]})
    # shares that add up to 1 are the same split as percent adding up to 100
    assert parse({"target_split": {"haiku": 0.7, "sonnet": 0.25, "opus": 0.05}}).target_split == pytest.approx(
        parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}}).target_split)


def test_the_report_names_the_config_file_of_a_bad_target_split(store, tmp_path):
    toml = tmp_path / "costlab.toml"
    toml.write_text("[report.target_split]\nhaiku = 70\nsonnet = 25\nopus = 50\n", encoding="utf-8")
    store.config = load_config(toml)
    with pytest.raises(ConfigError, match=f"{toml} \\[report.target_split\\].*145"):
        build_report(store, window.resolve(week_label="2026-W46"))


def test_config_file_accepts_a_report_section(tmp_path):
    toml = tmp_path / "costlab.toml"
    toml.write_text("[report]\ntop_n = 4\n", encoding="utf-8")
    assert load_config(toml).report == {"top_n": 4}


# -- figures on the example store ------------------------------------------------------------------
def test_headline_spend_is_the_exact_sum_of_the_priced_requests(example, w46):
    db, toml = example
    with open_store(db, load_config(toml), read_only=True) as store:
        spend, requests = store.rows(
            "select sum(cost_usd) filter (where priced), count(*) from costed_requests "
            "where ts >= '2026-11-09' and ts < '2026-11-16'")[0]
    assert metric(w46, "headline", "spend_usd")["current"] == f"{spend:.9f}"
    assert metric(w46, "headline", "requests")["current"] == requests


def test_every_spend_breakdown_adds_up_to_the_headline(w46):
    total = Decimal(metric(w46, "headline", "spend_usd")["current"])
    for table in ("by_tier", "by_model", "by_feature", "by_customer"):
        assert sum(Decimal(r["cost_usd"]) for r in rows(w46, "spend", table)) == total, table


def test_top_n_folds_the_rest_into_one_row(w46):
    features = rows(w46, "spend", "by_feature")
    assert len(features) == 6 and features[-1]["feature"] == "(9 others)"  # top_n = 5 in REPORT_TOML; 14 features with the patterns example


def test_week_over_week_change_is_relative_for_money_and_in_points_for_rates(w46):
    spend = metric(w46, "headline", "spend_usd")
    assert spend["change"] == pytest.approx(float(Decimal(spend["current"]) / Decimal(spend["previous"]) - 1), abs=1e-6)
    err = metric(w46, "headline", "error_rate")
    assert err["change_kind"] == "points" and err["change"] == pytest.approx(err["current"] - err["previous"], abs=2e-6)


def test_tier_mix_reports_the_actual_split_against_the_configured_target(w46):
    mix = w46["sections"]["tier_mix"]
    assert mix["split"] == "49/37/14" and mix["target_split"] == "70/25/5" and mix["tiers"] == "haiku/sonnet/opus"
    haiku = rows(w46, "tier_mix", "mix")[0]
    assert haiku["gap"] == pytest.approx(haiku["share"] - 0.70, abs=1e-6)


def test_efficiency_reuses_cache_savings_and_prices_batch_at_half(example, w46):
    db, toml = example
    with open_store(db, load_config(toml), read_only=True) as store:
        net = store.run_query("cache_savings", since="2026-11-09", until="2026-11-16")["net_savings_usd"].sum()
        batch_cost = store.scalar("select sum(cost_usd) from costed_requests where service_tier = 'batch' "
                                  "and ts >= '2026-11-09' and ts < '2026-11-16'")
    assert Decimal(metric(w46, "efficiency", "cache_net_savings_usd")["current"]) == net
    # Batch halves every rate, so a batch request's standard price is twice its cost: it saved its cost.
    assert Decimal(metric(w46, "efficiency", "batch_saved_usd")["current"]) == batch_cost
    movable = rows(w46, "efficiency", "batch_by_feature")
    assert {r["feature"] for r in movable} == {"doc-summarize", "nightly-digest", "translate", "invoice-extract"}


def test_reliability_flags_features_over_their_slo(w46):
    by_feature = {r["feature"]: r for r in rows(w46, "reliability", "latency_by_feature")}
    chat = by_feature["chat-assistant"]
    assert chat["slo_p95_latency_ms"] == 15000 and chat["p95_latency_ms"] > 15000 and chat["slo"] == "BREACH"
    assert by_feature["intent-router"]["slo"] == "ok"
    assert any("chat-assistant" in n for n in w46["sections"]["reliability"]["notes"])
    tiers = {r["tier"] for r in rows(w46, "reliability", "errors_by_tier")}
    assert tiers == {"haiku", "sonnet", "opus"}


def test_daily_trend_covers_each_day_of_the_week(w46):
    days = [r["day"] for r in rows(w46, "trends", "daily")]
    assert days == [(date(2026, 11, 9) + timedelta(days=i)).isoformat() for i in range(7)]


# -- unpriced, empty and hostile data --------------------------------------------------------------
def insert(store: Store, rows_: list[tuple]) -> None:
    cols = "request_id, ts, source, model, service_tier, input_tokens, output_tokens, status, feature, user_id, customer_id, latency_ms"
    for r in rows_:
        store.execute(f"insert into requests ({cols}) values (?, ?, 'canonical', ?, ?, ?, ?, 'ok', ?, ?, ?, ?)", list(r))


def test_unpriced_requests_are_counted_and_never_priced_at_zero(store):
    t = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    insert(store, [("a", t, "claude-haiku-5-5", "standard", 1_000_000, 0, "chat", "u1", "c1", 100.0),
                   ("b", t, "claude-nova-9", "standard", 1000, 10, "chat", "u2", "c1", 100.0)])
    report = build_report(store, window.week("2026-W46"), sections=CORE)
    assert metric(report, "headline", "unpriced_share")["current"] == 0.5
    assert any("1 of 2 requests (50.0%) have no price" in n for n in report["sections"]["headline"]["notes"])
    by_model = {r["model"]: r for r in rows(report, "spend", "by_model")}
    assert by_model["claude-nova-9"]["cost_usd"] is None and by_model["claude-nova-9"]["unpriced_requests"] == 1
    assert "| claude-nova-9 | 1 | — |" in render(report, "markdown")


def test_an_empty_week_still_reports_with_zero_spend_and_says_so(store):
    report = build_report(store, window.week("2026-W46"), sections=CORE)
    assert metric(report, "headline", "spend_usd")["current"] == "0.000000000"
    assert report["sections"]["headline"]["notes"] == ["No requests in 2026-W46: the store has no requests (inside the plausible window)."]
    assert "trends" not in report["sections"] and "reliability" not in report["sections"]
    assert render(report, "terminal") and render(report, "markdown") and json.loads(render(report, "json"))


def test_user_strings_are_escaped_in_markdown_and_html(store):
    t = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    evil = "<script>alert('x')</script>|*bold*"
    insert(store, [("a", t, "claude-haiku-5-5", "standard", 1000, 10, evil, "u1", "c<1>", 100.0)])
    report = build_report(store, window.week("2026-W46"), sections=CORE)
    md = render(report, "markdown")
    assert "\\<script\\>alert('x')\\</script\\>\\|\\*bold\\*" in md and "<script>" not in md
    page = render(report, "html")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "c&lt;1&gt;" in page


# -- the section hook ------------------------------------------------------------------------------
def custom_section(ctx):
    n = ctx.store.scalar("select count(*) from requests where ts >= ? and ts < ?", [ctx.since, ctx.until])
    return {"title": "Custom", "notes": [f"{n} requests seen by a plugged-in section"],
            "tables": [{"key": "t", "title": "Custom table", "detail": False,
                        "columns": [{"key": "k", "label": "k", "kind": "text"}, {"key": "v", "label": "v", "kind": "usd"}],
                        "rows": [{"k": "x", "v": "1.500000000"}]}]}


def nothing(ctx):
    return None


def test_a_section_without_data_is_absent_and_a_new_one_is_drawn_by_every_format(store):
    sections = [headline.SECTION, Section("nodata", "No data", nothing), Section("custom", "Custom", custom_section)]
    report = build_report(store, window.week("2026-W46"), sections=sections)
    assert list(report["sections"]) == ["headline", "custom"]
    for text in (render(report, "terminal"), render(report, "markdown"), render(report, "html")):
        assert "Custom table" in text and "$1.50" in text and "plugged-in section" in text


def test_the_title_comes_from_the_section_and_leads_its_json(store):
    report = build_report(store, window.week("2026-W46"), sections=[headline.SECTION])
    assert list(report["sections"]["headline"])[0] == "title" and report["sections"]["headline"]["title"] == "Headline"


# -- the registries and their docs ----------------------------------------------------------------
def test_every_registered_section_is_a_section_with_its_own_name_and_is_documented():
    names = [s.name for s in SECTIONS]
    assert len(set(names)) == len(names) and all(isinstance(s, Section) for s in SECTIONS)
    doc = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    json_table = doc.split("## The JSON", 1)[1]
    for s in SECTIONS:
        assert f"| `{s.name}`" in json_table, f"section {s.name!r} has no row in docs/report.md's JSON table"


def test_every_report_format_is_in_the_command_help_and_the_docs():
    help_text = " ".join(run("--help").output.split())
    doc = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    formats_doc = doc.split("## The formats", 1)[1].split("\n## ", 1)[0]
    for name in FORMATS:
        assert re.search(rf"\b{name}\b", help_text.split("--format", 1)[1].split("--out", 1)[0]), f"{name} not in --format's help"
        assert f"* **{name}**" in formats_doc, f"format {name!r} is not described in docs/report.md"
        assert name in doc.split("`--format ", 1)[1].split("`", 1)[0], f"{name} not in docs/report.md's --format row"


# -- formats and golden files ----------------------------------------------------------------------
def test_golden_markdown_on_the_example_store(w46):
    check_golden("report_2026-W46.md", render(w46, "markdown"))


def test_golden_json_on_the_example_store(w46):
    text = render(w46, "json")
    check_golden("report_2026-W46.json", text)
    data = json.loads(text)
    assert list(data) == ["report", "version", "window", "sections"]
    assert list(data["sections"]) == ["headline", "spend", "tier_mix", "efficiency", "reliability", "trends"]


def test_json_money_is_exact_strings_and_every_table_row_has_its_columns(w46):
    for section in w46["sections"].values():
        for t in section.get("tables", []):
            keys = [c["key"] for c in t["columns"]]
            for r in t["rows"]:
                assert list(r) == keys
                for c in t["columns"]:
                    if c["kind"] == "usd" and r[c["key"]] is not None:
                        assert re.fullmatch(r"-?\d+\.\d{9}", r[c["key"]])


def test_terminal_report_fits_100_columns_and_shows_every_text_table(w46):
    text = render(w46, "terminal", width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    for section in w46["sections"].values():
        for t in section.get("tables", []):
            assert (t["title"] in text) != t["detail"]
    assert "…" not in "".join(l for l in text.splitlines() if re.search(r"\d…", l))  # no number is cut


# -- the command -----------------------------------------------------------------------------------
def test_command_writes_the_same_markdown_as_the_library(example, w46, monkeypatch):
    db, toml = example
    monkeypatch.setattr("costlab.report.build.SECTIONS", CORE)
    result = run("--db", str(db), "--config", str(toml), "--week", "2026-W46", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout == render(w46, "markdown") and result.stderr == ""


def test_out_with_html_extension_writes_a_self_contained_page(example, tmp_path, monkeypatch):
    db, toml = example
    monkeypatch.setattr("costlab.report.build.SECTIONS", CORE)
    out = tmp_path / "report.html"
    result = run("--db", str(db), "--config", str(toml), "--week", "2026-W46", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote the 2026-W46 report (html) to {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert "window.vegaEmbed" in page and not re.search(r"<script[^>]+src=", page)
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page


@pytest.mark.parametrize("args, message", [
    (["--format", "pdf"], "unknown report format 'pdf'"),
    (["--week", "2026-W46", "--since", "2026-11-01"], "not both"),
    (["--since", "yesterday"], "expected a date like 2026-11-16"),
    (["--fail-on", "low"], "expected high or medium"),
])
def test_bad_options_are_usage_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_fail_on_exits_5_when_findings_reach_the_level(store, tmp_path, monkeypatch):
    store.close()

    def findings(ctx):
        return {"title": "Wrong-model findings", "notes": ["1 finding"], "severity_counts": {"high": 0, "medium": 1, "low": 0}}

    monkeypatch.setattr("costlab.report.build.SECTIONS", [Section("findings", "Wrong-model findings", findings)])
    db = str(store.path)
    assert run("--db", db, "--week", "2026-W46", "--fail-on", "high").exit_code == 0
    result = run("--db", db, "--week", "2026-W46", "--fail-on", "medium")
    assert result.exit_code == 5 and "1 finding at medium severity or worse" in result.stderr


def test_fail_on_without_findings_says_what_is_missing(store, monkeypatch):
    store.close()
    monkeypatch.setattr("costlab.report.build.SECTIONS", CORE)
    result = run("--db", str(store.path), "--week", "2026-W46", "--fail-on", "high")
    assert result.exit_code == 2 and "--fail-on needs the wrong-model findings" in result.stderr


def test_the_priced_window_is_dropped_and_settings_restored_after_the_report(store, tmp_path, monkeypatch):
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spill))
    limit = store.scalar("select current_setting('memory_limit')")
    order = store.scalar("select current_setting('preserve_insertion_order')")
    build_report(store, window.week("2026-W46"), sections=CORE)
    build_report(store, window.week("2026-W46"), sections=CORE)  # twice on one connection
    assert store.scalar("select count(*) from duckdb_tables() where temporary") == 0
    assert store.scalar("select count(*) from duckdb_views() where temporary and view_name = 'costed_requests'") == 0
    assert store.scalar("select table_type from information_schema.tables where table_name = 'costed_requests'") == "VIEW"
    assert store.scalar("select current_setting('memory_limit')") == limit
    assert store.scalar("select current_setting('preserve_insertion_order')") == order
    assert list(spill.iterdir()) == []  # the Parquet folder is gone


@pytest.fixture(scope="module")
def stale_example(example, tmp_path_factory):
    """The example store as a read-only reader sees it after a price change: no current stored price.

    (Made by nulling price_version after the read-write open, which would otherwise re-price them.)"""
    db, toml = example
    copy = tmp_path_factory.mktemp("stale") / "example.duckdb"
    shutil.copy(db, copy)
    with open_store(copy, load_config(toml)) as store:
        store.execute("update requests set price_version = null")
    return copy, toml


def test_the_window_reads_stored_prices_when_they_are_current(example):
    from costlab.report.build import priced_once

    db, toml = example
    w = window.week("2026-W46")
    with open_store(db, load_config(toml), read_only=True) as store:
        params = {"since": w.prev_since, "until": w.until}
        assert store.scalar("select count(*) from stale_requests") == 0
        view = store.rows("describe select * from costed_requests")
        with priced_once(store, w.prev_since, w.until, detectors=True):
            shadow = store.rows("describe select * from costed_requests")
            n = store.scalar("select count(*) from costed_requests")
            # a temp view over requests, not a priced copy
            assert store.scalar("select count(*) from duckdb_views() where temporary and view_name = 'costed_requests'") == 1
        assert n == store.scalar("select count(*) from requests where ts >= $since and ts < $until", params)
        assert not store.scalar("select count(*) from duckdb_views() where temporary and view_name = 'costed_requests'")
    assert [(c[0], c[1]) for c in shadow] == [(c[0], c[1]) for c in view]


def test_a_window_with_stale_prices_is_priced_once_into_parquet_with_the_views_types(stale_example):
    from costlab.report.build import priced_once, window_select

    db, toml = stale_example
    w = window.week("2026-W46")
    with open_store(db, load_config(toml), read_only=True) as store:
        params = {"since": w.prev_since, "until": w.until}
        assert store.scalar("select count(*) from stale_requests") > 0
        direct = store.rows(f"describe {window_select(detectors=True)}", params)
        with priced_once(store, w.prev_since, w.until, detectors=True):
            stored = store.rows("describe select * from costed_requests")
            n = store.scalar("select count(*) from costed_requests")
            assert "read_parquet" in store.scalar(
                "select sql from duckdb_views() where temporary and view_name = 'costed_requests'")
        assert n == store.scalar("select count(*) from requests where ts >= $since and ts < $until", params)
    assert [(c[0], c[1]) for c in stored] == [(c[0], c[1]) for c in direct]
    assert {"cost_usd", "price_multiplier", "ingest_id", "prompt_tokens", "tier"} <= {c[0] for c in stored}


def test_the_report_is_the_same_from_stored_prices_and_from_pricing_as_it_reads(example, stale_example):
    reports = []
    for db, toml in (example, stale_example):
        with open_store(db, load_config(toml), read_only=True) as store:
            reports.append(render(build_report(store, window.week("2026-W46")), "json"))
    assert reports[0] == reports[1]
    assert '"findings"' in reports[0]  # the detectors ran on both


def test_the_cube_adds_up_to_the_by_hand_queries(example):
    """report/cube.sql (one scan) gives what the per-figure query files give (one scan each)."""
    import polars as pl

    db, toml = example
    w = window.week("2026-W46")
    with open_store(db, load_config(toml), read_only=True) as store:
        cube = store.run_query("report/cube", since=w.since, until=w.until, prev_since=w.prev_since)
        cur = cube.filter(pl.col("period") == "current")
        tmd = store.run_query("cost_by_tier_model_day", since=w.since, until=w.until)
        cache = store.run_query("cache_savings", since=w.since, until=w.until)
        errors = store.run_query("error_rates_by_tier", since=w.since, until=w.until)
        head = store.run_query("report/headline", since=w.since, until=w.until, prev_since=w.prev_since)
    by = (cur.group_by("day", "tier", "model")
             .agg(pl.col("requests").sum(), pl.col("cost_usd").sum(), pl.col("cache_write_tokens").sum())
             .sort("day", "tier", "model"))
    want = tmd.select("day", "tier", "model", "requests", "cost_usd", "cache_write_tokens").sort("day", "tier", "model")
    assert by.select("day", "tier", "model", "requests").equals(want.select("day", "tier", "model", "requests"))
    assert [Decimal(str(x)) for x in by["cost_usd"]] == [Decimal(str(x)) for x in want["cost_usd"]]
    assert by["cache_write_tokens"].to_list() == want["cache_write_tokens"].to_list()
    got = cur.group_by("model").agg(pl.col("cache_read_at_input_usd").sum(), pl.col("cache_write_at_input_usd").sum())
    for r in cache.to_dicts():
        g = got.filter(pl.col("model") == r["model"]).row(0, named=True)
        assert Decimal(str(g["cache_read_at_input_usd"])) == r["cache_read_at_input_usd"], r["model"]
        assert Decimal(str(g["cache_write_at_input_usd"])) == r["cache_write_at_input_usd"], r["model"]
    classes = cur.group_by("tier", "error_class").agg(pl.col("requests").sum())
    for r in errors.to_dicts():
        n = {c: classes.filter((pl.col("tier") == r["tier"]) & (pl.col("error_class") == c))["requests"].sum()
             for c in ("rate_limited", "overloaded", "context_exceeded", "other")}
        assert (n["rate_limited"], n["overloaded"], n["context_exceeded"], n["other"]) == (
            r["rate_limited"], r["overloaded"], r["context_exceeded"], r["other_errors"]), r["tier"]
    for period in ("current", "previous"):
        rows_ = cube.filter(pl.col("period") == period)
        h = head.filter(pl.col("period") == period).row(0, named=True)
        assert rows_["requests"].sum() == h["requests"]
        assert rows_.filter(pl.col("priced"))["requests"].sum() == h["priced_requests"]
        assert Decimal(str(rows_["cost_usd"].sum())) == h["cost_usd"]


def test_an_error_without_http_status_is_classified_by_its_type(store):
    t = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    insert(store, [("a", t, "claude-haiku-5-5", "standard", 1000, 10, "chat", "u1", "c1", 100.0)])
    for rid, kind in (("b", "overloaded"), ("c", "context_exceeded")):
        store.execute("insert into requests (request_id, ts, source, model, status, error_type, feature) "
                      "values (?, ?, 'canonical', 'claude-haiku-5-5', 'error', ?, 'chat')", [rid, t, kind])
    report = build_report(store, window.week("2026-W46"), sections=CORE)
    haiku = rows(report, "reliability", "errors_by_tier")[0]
    assert (haiku["overloaded_rate"], haiku["context_exceeded_rate"], haiku["other_errors"]) == (
        pytest.approx(1 / 3, abs=1e-6), pytest.approx(1 / 3, abs=1e-6), 0)


def test_every_configured_slo_percentile_is_compared(example):
    """p99 limits count as much as p95 ones: a feature within its p95 but over its p99 breaches."""
    db, toml = example
    with open_store(db, load_config(toml), read_only=True) as store:
        measured = store.run_query("report/latency", since="2026-11-09", until="2026-11-16")
        router = next(r for r in measured.to_dicts() if r["key"] == "intent-router")
        settings = parse({"slo": {"intent-router": {"p95_latency_ms": router["p95_latency_ms"] + 1,
                                                    "p99_latency_ms": router["p99_latency_ms"] - 1},
                                  "default": {"p99_ttft_ms": 10**9}}})
        report = build_report(store, window.week("2026-W46"), settings, sections=CORE)
    table = next(t for t in report["sections"]["reliability"]["tables"] if t["key"] == "latency_by_feature")
    keys = [c["key"] for c in table["columns"]]
    assert {"slo_p95_latency_ms", "slo_p95_ttft_ms", "slo_p99_latency_ms", "slo_p99_ttft_ms"} <= set(keys)
    by_feature = {r["feature"]: r for r in table["rows"]}
    assert by_feature["intent-router"]["slo"] == "BREACH"
    assert by_feature["chat-assistant"]["slo"] == "ok"  # only the generous default p99 TTFT applies
    assert "SLO breached (p99) by 1 feature: intent-router." in report["sections"]["reliability"]["notes"]


def test_findings_on_the_report_window_are_the_detectors_own(store):
    """The findings section runs the detectors on the report's priced window (widened to their
    look-back): the same findings as run_signals pricing its own window, data_quality (unpriced
    traffic) over the report's week."""
    import polars as pl

    from costlab import signals
    from costlab.generate import generate_sql

    store.execute("insert into requests by name " + generate_sql(20_000, seed=11, start="2026-11-02", days=14))
    # Two weeks of short classification answers on Opus (over-modeling) and a model with no price.
    store.execute(
        "insert into requests (request_id, ts, source, platform, model, service_tier, input_tokens, output_tokens, "
        "status, http_status, stop_reason, feature, user_id, customer_id, latency_ms) "
        "select 'inj_' || i, timestamptz '2026-11-02 00:00:00+00' + to_microseconds((i * 100800000)::BIGINT), 'canonical', "
        "'anthropic', case when i % 40 = 0 then 'claude-nova-9' else 'claude-opus-5-5' end, 'standard', "
        "4000 + i % 400, 3 + i % 9, 'ok', 200, 'end_turn', 'ticket-tagger', 'u' || (i % 50), 'c1', 900.0 "
        "from range(12000) t(i)")
    w = window.week("2026-W46")
    report = build_report(store, w, sections=[s for s in SECTIONS if s.name == "findings"])
    alone = signals.run_signals(store, until=w.until, period_since=w.since)  # unpriced: the week alone
    assert {"over_modeling", "unpriced"} <= set(alone["signal"].to_list())
    section = report["sections"]["findings"]
    assert section["severity_counts"] == signals.counts(alone)
    assert [(r["signal"], r["segment"], r["requests"] if "requests" in r else None, r["weekly_impact_usd"])
            for r in section["tables"][0]["rows"]] == [
        (r["signal"], r["segment"], None, None if r["weekly_impact_usd"] is None else f"{r['weekly_impact_usd']:.9f}")
        for r in alone.to_dicts()]


def test_findings_section_lists_each_finding_worst_first_from_the_signals_module(store, monkeypatch):
    import polars as pl

    from costlab import signals

    frame = pl.DataFrame({"severity": ["high"], "signal": ["over_modeling"], "segment": ["feature=moderation"],
                          "weekly_impact_usd": [Decimal("120.5")], "evidence": ["p90 output 40 tokens on Opus."],
                          "observed": [40.0], "baseline": [150.0], "requests": [900],
                          "suggestion": ["Route moderation to Haiku."], "query": ["queries/signals/over_modeling.sql"]},
                         schema_overrides={"weekly_impact_usd": pl.Decimal(18, 6)})
    monkeypatch.setattr(signals, "run_signals", lambda store, until=None, prepared=False, notes=None, period_since=None, tz=None: frame)
    monkeypatch.setattr(signals, "counts", lambda f: {"high": 1, "medium": 0, "low": 0})
    report = build_report(store, window.week("2026-W46"), sections=[s for s in SECTIONS if s.name == "findings"])
    section = report["sections"]["findings"]
    assert section["severity_counts"] == {"high": 1, "medium": 0, "low": 0}
    assert section["notes"][1] == ("[high] over_modeling on feature=moderation ($120.50 a week): p90 output 40 tokens "
                                   "on Opus. Suggested: Route moderation to Haiku. Drill down: queries/signals/over_modeling.sql")
    assert "\\[high\\] over\\_modeling on feature=moderation" in render(report, "markdown")


def test_a_read_only_report_after_a_price_change_says_it_uses_the_old_prices(example, tmp_path):
    db, toml = example
    changed = tmp_path / "costlab.toml"
    changed.write_text(toml.read_text(encoding="utf-8")
                       + '\n[[prices]]\nmodel = "claude-haiku-5-5"\nvalid_from = "2026-01-01"\ninput = 2\noutput = 9\n',
                       encoding="utf-8")
    same = run("--db", str(db), "--config", str(toml), "--week", "2026-W46", "--format", "json")
    assert same.exit_code == 0 and "costlab prices check" not in same.stderr
    result = run("--db", str(db), "--config", str(changed), "--week", "2026-W46", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "changed since" in result.stderr and "costlab prices check" in result.stderr
    assert result.stdout == same.stdout  # the prices as of the last read-write open, as the note says


def memory_seen(ctx):
    return {"title": "Memory", "notes": [ctx.store.scalar("select current_setting('memory_limit')")]}


@pytest.mark.parametrize("setting, during", [({}, "1.3 GiB"), ({"memory_limit": "800MB"}, "762.9 MiB"),
                                             ({"memory_limit": "none"}, None)])
def test_the_report_builds_under_its_memory_limit_and_puts_the_old_one_back(store, setting, during):
    before = store.scalar("select current_setting('memory_limit')")
    report = build_report(store, window.week("2026-W46"), parse(setting), sections=[Section("memory", "Memory", memory_seen)])
    assert report["sections"]["memory"]["notes"] == [during or before]
    assert store.scalar("select current_setting('memory_limit')") == before
