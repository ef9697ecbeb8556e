"""The what-if charts (`whatif --chart`, `whatif frontier --chart`) as HTML render offline: Vega is
inlined (costlab/vega.py, as in the HTML report), no script is loaded from the network, and a real
headless Chromium draws each chart as an SVG (tests/browser.py)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from costlab.cli.whatif import register
from costlab.config import Config
from costlab.generate import generate_sql
from costlab.open import open_store

from browser import chromium_or_fail, load_page


@pytest.fixture(scope="module")
def charts(tmp_path_factory):
    base = tmp_path_factory.mktemp("whatif-charts")
    db = base / "w.duckdb"
    with open_store(db, Config()) as store:
        store.execute("insert into requests by name " + generate_sql(3000, seed=2))
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(app)
    tiers = "haiku=claude-haiku-5-5,sonnet=claude-sonnet-5-5,opus=claude-opus-5-5"
    out = {"frontier": base / "frontier.html", "scenarios": base / "scenarios.html"}
    for args in (["whatif", "frontier", "--step", "10", "--chart", str(out["frontier"])],
                 ["whatif", "--split", "current", "--split", "haiku=70,sonnet=25,opus=5", "--chart", str(out["scenarios"])]):
        r = CliRunner().invoke(app, [*args, "--db", str(db), "--tiers", tiers, "--format", "csv"])
        assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("name", ["frontier", "scenarios"])
def test_whatif_chart_html_loads_no_script_from_the_network(charts, name):
    text = charts[name].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", text, re.I)
    assert "cdn.jsdelivr" not in text and "vegaEmbed(" in text


@pytest.mark.slow  # starts Chromium
@pytest.mark.parametrize("name", ["frontier", "scenarios"])
def test_whatif_chart_html_draws_an_svg_in_headless_chromium(charts, name, tmp_path):
    result = load_page(charts[name], tmp_path / f"{name}.png", ".chart svg", 1, chromium_or_fail())
    assert result["errors"] == [] and result["count"] == 1
