"""Gross and net of negotiated discounts: where a [[discounts]] entry applies in the report's window,
the headline and the spend tables show spend at list price (gross), the discount, and spend net of it;
where none applies they show spend alone, as before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costlab.config import Config
from costlab.generate import generate_sql
from costlab.open import open_store
from costlab.report import SECTIONS, build_report
from costlab.report.formats import render
from costlab.report.settings import parse

from helpers import W46

ONLY = [s for s in SECTIONS if s.name in ("headline", "spend")]
# 20% off Sonnet 5.5 from the first day of W46 (2026-11-09): W45 is all at list price.
DISCOUNT = {"model": "claude-sonnet-5-5", "percent_off": 20, "valid_from": "2026-11-09"}


def traffic(tmp_path, discounts):
    store = open_store(tmp_path / "d.duckdb", Config(discounts=discounts))
    store.execute(f"insert into requests by name {generate_sql(4000, seed=3, start='2026-11-02', days=14)}")
    return store


def sums(store, since, until, where="true"):
    return store.rows(f"select sum(cost_usd * sample_weight), sum(cost_list_usd * sample_weight) from costed_requests "
                      f"where priced and ts >= $s and ts < $u and {where}", {"s": since, "u": until})[0]


@pytest.fixture
def discounted(tmp_path):
    store = traffic(tmp_path, [DISCOUNT])
    yield store
    store.close()


def test_headline_shows_spend_net_and_at_list_price_with_the_discount_to_the_nano_dollar(discounted):
    report = build_report(discounted, W46, parse({}), sections=ONLY)
    metrics = {m["key"]: m for m in report["sections"]["headline"]["metrics"]}
    net, gross = sums(discounted, W46.since, W46.until)
    assert gross > net > 0
    assert Decimal(metrics["spend_usd"]["current"]) == net
    assert Decimal(metrics["spend_list_usd"]["current"]) == gross
    assert Decimal(metrics["discount_usd"]["current"]) == gross - net
    # W45 had no discount in force: gross equals net there.
    prev_net, prev_gross = sums(discounted, W46.prev_since, W46.since)
    assert Decimal(metrics["spend_list_usd"]["previous"]) == prev_gross == prev_net
    assert Decimal(metrics["discount_usd"]["previous"]) == 0
    assert any("net of negotiated discounts" in n for n in report["sections"]["headline"]["notes"])


def test_spend_tables_show_list_price_and_discount_only_on_the_discounted_model(discounted):
    report = build_report(discounted, W46, parse({}), sections=ONLY)
    tables = {t["key"]: t for t in report["sections"]["spend"]["tables"]}
    by_model = {r["model"]: r for r in tables["by_model"]["rows"]}
    net, gross = sums(discounted, W46.since, W46.until, "model = 'claude-sonnet-5-5'")
    sonnet = by_model["claude-sonnet-5-5"]
    assert (Decimal(sonnet["cost_usd"]), Decimal(sonnet["list_usd"]), Decimal(sonnet["discount_usd"])) == (
        net, gross, gross - net)
    others = [r for m, r in by_model.items() if m != "claude-sonnet-5-5" and r["cost_usd"] is not None]
    assert others and all(Decimal(r["discount_usd"]) == 0 for r in others)
    assert [c["label"] for c in tables["by_tier"]["columns"]][2:5] == ["spend (net)", "at list price", "discount"]
    assert "list_usd" in tables["by_customer"]["rows"][0]


def test_without_a_discount_in_force_the_report_shows_spend_alone(tmp_path):
    store = traffic(tmp_path, [])
    report = build_report(store, W46, parse({}), sections=ONLY)
    keys = [m["key"] for m in report["sections"]["headline"]["metrics"]]
    assert "spend_list_usd" not in keys and "discount_usd" not in keys
    columns = [c["key"] for c in report["sections"]["spend"]["tables"][0]["columns"]]
    assert "list_usd" not in columns and "cost_usd" in columns
    store.close()


def test_the_page_says_spend_is_net_and_shows_the_list_price(discounted):
    report = build_report(discounted, W46, parse({}), sections=ONLY)
    page = render(report, "html")
    gross = report["sections"]["headline"]["metrics"][1]
    assert gross["key"] == "spend_list_usd"
    assert "Spend (net of discounts)" in page and "at list price" in page
    assert "net of negotiated discounts" in page
