"""The HTML report in a real headless Chromium (Debian's `chromium`; `make test` installs it where
missing): the page loads offline with no console errors, every chart draws an SVG, and the run
leaves a screenshot (report_html.png in pytest's temp folder, and in $COSTLAB_ARTIFACTS if set).

Chromium is driven over the DevTools protocol on a pipe (tests/browser.py, shared with the what-if
chart tests), with the standard library only: no driver package, no browser download.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from costlab.config import load_config
from costlab.ingest import ingest_paths
from costlab.report import SECTIONS, build_report, render, window
from costlab.report.charts import charts as chart_list
from costlab.open import open_store

from browser import chromium_or_fail, load_page, png_size
from helpers import EXAMPLES


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_fail()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("html")
    config = load_config(EXAMPLES / "costlab.toml")
    with open_store(base / "example.duckdb", config) as store:
        assert not ingest_paths(store, [str(EXAMPLES)]).failed
        # A feature name that would run as script if it were not escaped: the page must stay clean.
        store.execute("insert into requests (request_id, ts, source, model, input_tokens, output_tokens, status, feature, latency_ms) "
                      "values ('evil', '2026-11-12 10:00:00+00', 'canonical', 'claude-haiku-5-5', 10, 1, 'ok', "
                      "'</script><script>console.error(\"injected\")</script>', 50)")
        report = build_report(store, window.week("2026-W46"), sections=[s for s in SECTIONS if not s.optional])
    path = base / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    return path, report


@pytest.mark.slow  # starts Chromium
def test_html_report_renders_every_chart_offline_with_no_console_errors(chromium, page, tmp_path_factory):
    path, report = page
    shot = tmp_path_factory.getbasetemp() / "report_html.png"
    expected = [name for name, _, _ in chart_list(report)]  # this page has no what-if section: no frontier
    result = load_page(path, shot, ".chart svg.marks", len(expected), chromium)
    assert result["errors"] == []
    assert result["count"] == len(expected) == 5
    assert result["title"] == "costlab weekly report: 2026-W46 (against 2026-W45)"
    width, height = png_size(shot.read_bytes())
    assert width == 1200 and height > 2000
    if os.environ.get("COSTLAB_ARTIFACTS"):
        Path(os.environ["COSTLAB_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(os.environ["COSTLAB_ARTIFACTS"]) / "report_html.png")


def test_html_report_needs_no_network(page):
    path, _ = page
    text = path.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link rel=\"stylesheet\"" not in text
    assert "&lt;/script&gt;&lt;script&gt;console.error" in text


@pytest.mark.slow  # starts Chromium
def test_html_report_draws_the_whatif_pareto_chart_when_replays_judged_every_tier(new_store, chromium, tmp_path):
    from helpers import W46, judge_every_tier

    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.report import charts
    from costlab.report.settings import parse

    with new_store(tmp_path / "judged.duckdb") as store:
        store.execute(f"insert into requests by name {generate_sql(4000, seed=3, start='2026-11-02', days=14)}")
        judge_every_tier(store)
        settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}})
        report = build_report(store, W46, settings, sections=[s for s in SECTIONS if s.name in ("headline", "whatif")])
    names = [name for name, _ in charts.specs(report)]
    assert names == ["whatif_pareto"]
    path = tmp_path / "whatif.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    result = load_page(path, tmp_path / "whatif.png", ".chart svg.marks", 1, chromium)
    assert result["errors"] == [] and result["count"] == 1
