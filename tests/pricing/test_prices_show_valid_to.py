"""`costlab prices show`: a price row ends where the next one for the same speed and band starts, so
valid_to is empty only on the row in force now (issue 16: Sonnet 5.5's 2026-09-28 row showed none)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from typer.testing import CliRunner

from costlab import pricing
from costlab.cli import app
from costlab.config import Config
from costlab.open import open_store


def rows_of(store, model: str) -> list[dict]:
    return pricing.show_model(store, model)["prices"].to_dicts()


def test_a_superseded_row_ends_where_the_next_one_starts(store):
    rows = [r for r in rows_of(store, "claude-sonnet-5-5") if r["speed"] == "standard" and r["band_min_tokens"] == 0]
    assert [(r["valid_from"].date().isoformat(), r["valid_to"] and r["valid_to"].date().isoformat()) for r in rows] == [
        ("2026-09-28", "2026-10-07"), ("2026-10-07", None)]


def test_each_speed_and_band_has_its_own_history(store):
    # Haiku 5.5's two bands start the same day: neither ends the other
    rows = rows_of(store, "claude-haiku-5-5")
    assert {r["band_min_tokens"] for r in rows} == {0, 100001}
    assert all(r["valid_to"] is None for r in rows)


def test_a_stored_valid_to_before_the_next_row_is_kept(tmp_path):
    prices = [{"model": "acme-ft-1", "valid_from": "2026-01-01", "valid_to": "2026-02-01", "input": 1, "output": 2},
              {"model": "acme-ft-1", "valid_from": "2026-03-01", "input": 1, "output": 3}]
    with open_store(tmp_path / "p.duckdb", Config(models=[{"id": "acme-ft-1", "tier": "sonnet"}], prices=prices)) as store:
        rows = rows_of(store, "acme-ft-1")
    assert [r["valid_to"] for r in rows] == [datetime(2026, 2, 1, tzinfo=timezone.utc), None]


def test_prices_show_prints_the_end_of_the_superseded_row(tmp_path):
    result = CliRunner().invoke(app, ["prices", "show", "claude-sonnet-5-5", "--db", str(tmp_path / "p.duckdb"), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model,speed,band_min_tokens,valid_from,valid_to"))
    body = [r for r in csv.DictReader(io.StringIO("\n".join(lines[header:]))) if r["speed"] == "standard"]
    assert [(r["valid_from"][:10], r["valid_to"][:10]) for r in body] == [("2026-09-28", "2026-10-07"), ("2026-10-07", "")]
