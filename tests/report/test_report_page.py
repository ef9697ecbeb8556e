"""The weekly report page (issue 17) by behaviour, in a real headless Chromium: answers first, every
chart drawn, tables that sort and filter, the what-if control equal to `costlab whatif` to the cent,
and a print layout that keeps tables whole. The example store with replay judgements on every tier,
every section (findings and what-if included) and a latency SLO. Screenshots and the PDF stay in
pytest's temp folder (and $COSTLAB_ARTIFACTS when set), never committed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from costlab.config import load_config
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.report import build_report, render, window
from costlab.report.charts import charts as chart_list
from costlab.report.settings import parse

from browser import find_chromium, keep_artifact, open_page
from helpers import EXAMPLES, W46, judge_every_tier

SETTINGS = {"top_n": 10, "whatif_splits": ["haiku=50,sonnet=45,opus=5"],
            "target_split": {"haiku": 70, "sonnet": 25, "opus": 5},
            "slo": {"default": {"p95_latency_ms": 30000, "p99_latency_ms": 90000}}}


def cents(usd: str | Decimal) -> str:
    """$1,234.56 as the page shows money, half up to the cent."""
    return f"${Decimal(usd).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("no chromium on PATH: `make test` installs Debian's chromium (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(page, store file, report) for 2026-W46 of the examples, judged on every tier."""
    base = tmp_path_factory.mktemp("page")
    db = base / "judged.duckdb"
    config = load_config(EXAMPLES / "costlab.toml")
    with open_store(db, config) as store:
        assert not ingest_paths(store, [str(EXAMPLES)]).failed
        judge_every_tier(store)
        report = build_report(store, window.week("2026-W46"), parse(SETTINGS))
    path = base / "report_page.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    return path, db, report


def shot(page, name: str, tmp_path_factory) -> Path:
    path = page.screenshot(tmp_path_factory.getbasetemp() / name, 1400)
    keep_artifact(path)
    return path


def charts_drawn(page, report) -> int:
    expected = len(chart_list(report))
    return page.wait(f"document.querySelectorAll('.chart svg.marks').length >= {expected} && "
                     "document.querySelectorAll('.chart svg.marks').length")


@pytest.mark.slow  # starts Chromium
def test_page_puts_the_answers_first_and_draws_every_chart_with_no_console_errors(chromium, judged, tmp_path_factory):
    path, _, report = judged
    assert [name for name, _, _ in chart_list(report)] == [
        "daily_spend_by_tier", "spend_vs_previous", "cost_per_active_user", "latency_by_tier", "error_rates",
        "whatif_pareto"]
    assert path.stat().st_size < 3_000_000  # one file, a few MB at most (the Vega libraries are most of it)
    with open_page(path, chromium) as page:
        assert charts_drawn(page, report) == 6
        shot(page, "report_page.png", tmp_path_factory)
        assert page.errors() == []
        # the sentence, the headline figures and what to do come before the first chart
        order = page.js("[...document.querySelectorAll('#lede, .kpis, #what-to-do, #charts')].map(e => e.id || e.className)")
        assert order == ["lede", "kpis", "what-to-do", "charts"]
        assert page.js("document.getElementById('lede').textContent").startswith("In 2026-W46 spend was $")
        kpis = page.js("[...document.querySelectorAll('.kpi')].map(k => [k.dataset.key, k.querySelector('.change').className])")
        assert [k for k, _ in kpis] == ["spend_usd", "requests", "cost_per_request_usd", "cost_per_active_user_usd",
                                        "error_rate", "unpriced_share"]
        spend = next(m for m in report["sections"]["headline"]["metrics"] if m["key"] == "spend_usd")
        assert dict(kpis)["spend_usd"] == ("change up bad" if spend["change"] > 0 else "change down good")
        # the findings, by weekly dollar impact, with no literal backtick and the SQL to copy
        rows = report["sections"]["findings"]["tables"][0]["rows"]
        # (the evidence and the change to make: the SQL itself may hold backticks in its comments)
        text = page.js("[...document.getElementById('t-findings').tBodies[0].rows]"
                       ".map(r => r.cells[3].textContent + r.cells[4].textContent).join(' ')")
        assert page.js("document.getElementById('t-findings').tBodies[0].rows.length") == len(rows) > 0
        assert "`" not in text and page.js("document.querySelectorAll('#t-findings code').length") > 0
        impacts = page.js("[...document.getElementById('t-findings').tBodies[0].rows].map(r => r.cells[2].dataset.sort)")
        known = [Decimal(x) for x in impacts if x]
        assert known == sorted(known, reverse=True) and impacts[len(known):] == [""] * (len(impacts) - len(known))
        assert page.js("document.querySelectorAll('#t-findings button.copy').length") >= len(rows)
        # every chart exports as PNG and SVG, offline (vega-embed's menu, and the view behind it)
        assert page.js("[...document.querySelectorAll('.chart .vega-actions')].map(m => m.textContent)") == \
            ["Save as SVGSave as PNG"] * 6
        assert page.js("costlabCharts.whatif_pareto.toImageURL('png')").startswith("data:image/png;base64,")
        assert page.js("costlabCharts.daily_spend_by_tier.toSVG()").startswith("<svg")
        # changes in the tables are coloured, and the latency chart draws the configured SLO lines
        assert page.js("document.querySelectorAll('#t-spend-by_tier td.up, #t-spend-by_tier td.down').length") > 0
        assert page.js("[...document.querySelectorAll('#chart-latency_by_tier text')].some(t => t.textContent.includes('SLO'))")


@pytest.mark.slow  # starts Chromium
def test_clicking_a_column_sorts_the_table_and_the_filter_hides_rows(chromium, judged):
    path, _, _ = judged
    with open_page(path, chromium) as page:
        page.wait("window.Tablesort !== undefined")
        first = "[...document.getElementById('t-spend-by_model').tBodies[0].rows].map(r => r.cells[0].textContent)"
        spend = "[...document.getElementById('t-spend-by_model').tBodies[0].rows].map(r => Number(r.cells[2].dataset.sort))"
        before = page.js(first)
        # the requests column, ascending
        page.js("document.querySelector('#t-spend-by_model th:nth-child(2)').click()")
        after = page.js(first)
        assert sorted(after) == sorted(before) and after != before
        requests = page.js("[...document.getElementById('t-spend-by_model').tBodies[0].rows]"
                           ".map(r => Number(r.cells[1].dataset.sort))")
        assert requests in (sorted(requests), sorted(requests, reverse=True))
        page.js("document.querySelector('#t-spend-by_model th:nth-child(3)').click()")
        money = page.js(spend)
        assert money in (sorted(money), sorted(money, reverse=True))
        page.js("{ const box = document.querySelector('#t-spend-by_feature').closest('.tbl').querySelector('input.filter');"
                "box.value = 'chat'; box.dispatchEvent(new Event('input')); }")
        shown = page.js("[...document.getElementById('t-spend-by_feature').tBodies[0].rows].filter(r => !r.hidden)"
                        ".map(r => r.cells[0].textContent)")
        assert shown and all("chat" in s.lower() for s in shown)


def cli_cost(db: Path, split: str) -> str:
    """`costlab whatif --split SPLIT` for the report's week, its cost_usd (the CLI's own process)."""
    out = subprocess.run([sys.executable, "-m", "costlab", "whatif", "--split", split, "--since", "2026-11-09",
                          "--until", "2026-11-16", "--resamples", "0", "--format", "json", "--db", str(db),
                          "--config", str(EXAMPLES / "costlab.toml")],
                         capture_output=True, text=True, check=True, )
    rows = json.loads(out.stdout)
    return rows[0]["cost_usd"]


@pytest.mark.slow  # starts Chromium and runs the CLI
def test_moving_the_whatif_control_changes_the_figure_and_equals_costlab_whatif_to_the_cent(chromium, judged):
    path, db, report = judged
    scenarios = {r["scenario"]: r for r in report["sections"]["whatif"]["tables"][0]["rows"]}
    target = scenarios["haiku=70,sonnet=25,opus=5"]
    with open_page(path, chromium) as page:
        page.wait("document.getElementById('wi-cost').textContent")
        # it opens on the target split: the report's own figure and interval
        assert page.js("document.getElementById('wi-split').textContent") == "haiku=70,sonnet=25,opus=5"
        assert page.js("document.getElementById('wi-cost').textContent") == cents(target["cost_usd"])
        assert page.js("document.getElementById('wi-interval').textContent") == \
            f"{cents(target['cost_low_usd'])} to {cents(target['cost_high_usd'])}"
        before = page.js("document.getElementById('wi-cost').textContent")
        # move haiku to 40%: the others take the rest in proportion, and the figure moves
        page.js("{ const n = document.getElementById('wi-num-0'); n.value = '40'; n.dispatchEvent(new Event('input')); }")
        split = page.js("document.getElementById('wi-split').textContent")
        shares = dict(p.split("=") for p in split.split(","))
        assert shares["haiku"] == "40" and sum(int(v) for v in shares.values()) == 100
        after = page.js("document.getElementById('wi-cost').textContent")
        assert after != before
        assert after == cents(cli_cost(db, split))
        assert page.js("document.getElementById('wi-quality').textContent").count("n = ") == 1
        # the slider too, and a split with a tier at zero
        page.js("{ const r = document.getElementById('wi-range-2'); r.value = '0'; r.dispatchEvent(new Event('input')); }")
        split = page.js("document.getElementById('wi-split').textContent")
        assert split.endswith("opus=0")
        assert page.js("document.getElementById('wi-cost').textContent") == cents(cli_cost(db, split))


@pytest.mark.slow  # starts Chromium
def test_the_page_prints_to_pdf_with_no_table_cut(chromium, judged, tmp_path_factory):
    path, _, report = judged
    with open_page(path, chromium) as page:
        charts_drawn(page, report)
        pdf = page.pdf()
        assert pdf.startswith(b"%PDF")
        out = tmp_path_factory.getbasetemp() / "report_page.pdf"
        out.write_bytes(pdf)
        keep_artifact(out)
        # lay the page out as printed on A4 (210 mm less 2 x 12 mm margins: 703 CSS px)
        page.send("Emulation.setEmulatedMedia", {"media": "print"})
        page.send("Emulation.setDeviceMetricsOverride", {"width": 703, "height": 1000, "deviceScaleFactor": 1,
                                                         "mobile": False})
        # no row splits across pages, and no table is wider than the paper (nothing cut on the right)
        assert page.js("[...document.querySelectorAll('tr')].every(r => getComputedStyle(r).breakInside === 'avoid')")
        wide = page.js("[...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > "
                       "document.documentElement.clientWidth + 1).map(t => t.id)")
        assert wide == []
        assert page.js("getComputedStyle(document.querySelector('input.filter')).display") == "none"


@pytest.mark.slow  # starts Chromium
def test_the_page_follows_a_dark_setting_with_every_chart_drawn(chromium, judged, tmp_path_factory):
    path, _, report = judged
    with open_page(path, chromium) as page:
        page.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        page.send("Page.reload")
        page.wait("document.readyState === 'complete'")
        assert charts_drawn(page, report) == 6
        shot(page, "report_page_dark.png", tmp_path_factory)
        assert page.errors() == []
        assert page.js("getComputedStyle(document.body).backgroundColor") == "rgb(20, 23, 28)"
        # chart text is drawn light on the dark page
        assert page.js("getComputedStyle(document.querySelector('#chart-error_rates svg.marks text')).fill") \
            in ("rgb(228, 232, 239)", "#e4e8ef")


@pytest.mark.slow  # starts Chromium
def test_the_whatif_interval_on_a_sampled_log_is_widened_as_the_reports(store, chromium, tmp_path):
    from costlab.report import SECTIONS
    from helpers import inject

    # a 1-in-100 sample over the week, on Haiku and Sonnet, with days of different sizes
    inject(store, 700, W46.since, W46.until, model="case when i % 3 = 0 then 'claude-haiku-5-5' else 'claude-sonnet-5-5' end",
           output_tokens="50 + (i % 7) * 40", sample_weight="100")
    report = build_report(store, W46, parse({"target_split": {"haiku": 70, "sonnet": 30}}),
                          sections=[s for s in SECTIONS if s.name in ("headline", "whatif")])
    assert report["sections"]["whatif"]["model"]["rse"] > 0
    target = next(r for r in report["sections"]["whatif"]["tables"][0]["rows"] if r["scenario"].startswith("haiku=70"))
    path = tmp_path / "sampled.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    with open_page(path, chromium) as page:
        page.wait("document.getElementById('wi-cost').textContent")
        assert page.js("document.getElementById('wi-cost').textContent") == cents(target["cost_usd"])
        assert page.js("document.getElementById('wi-interval').textContent") == \
            f"{cents(target['cost_low_usd'])} to {cents(target['cost_high_usd'])}"
        assert page.errors() == []
