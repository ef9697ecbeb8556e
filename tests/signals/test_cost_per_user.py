"""cost_per_user on small logs of the shapes real teams have (issue 13, item 9): customer ids only,
growth on one tier only, and a window too short to have a baseline.

Prices (the built-in catalogue, November 2026): a Sonnet 5.5 request of 500,000 input tokens and no
output costs exactly $1.00 ($2 per million); an Opus 5.5 request of 250,000 input tokens $1.00 ($4 per
million). Weeks are the three 7-day buckets of 2 to 23 November 2026; the last one is "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl

from costlab import signals
from costlab.config import Config

from helpers import inject

W0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
W2 = W0 + timedelta(days=14)  # the last week
END = W0 + timedelta(days=21)
SONNET_DOLLAR = dict(model="'claude-sonnet-5-5'", input_tokens="500000", output_tokens="0")
OPUS_DOLLAR = dict(model="'claude-opus-5-5'", input_tokens="250000", output_tokens="0")


def run(store) -> tuple[pl.DataFrame, list[str]]:
    notes: list[str] = []
    found = signals.run_signals(store, config=Config(), only=["cost_per_user"], notes=notes)
    return found, notes


def weekly(store, prefix: str, per_week: list[int], **columns: str) -> None:
    """per_week[k] requests spread over week k (k = 0, 1, 2)."""
    for k, n in enumerate(per_week):
        if n:
            start = W0 + timedelta(days=7 * k)
            inject(store, n, start, start + timedelta(days=7), request_id=f"'{prefix}{k}_' || i", **columns)


def test_a_log_of_customer_ids_only_counts_active_customers_and_says_so(store):
    # three customers, no user ids, $300 a week each; in the last week acme spends $600
    for customer, last in (("acme", 600), ("globex", 300), ("initech", 300)):
        weekly(store, customer, [300, 300, last], customer_id=f"'{customer}'", user_id="null", **SONNET_DOLLAR)
    assert store.scalar("select sum(cost_usd) from costed_requests") == Decimal(300 * 3 * 3 + 300)
    found, notes = run(store)
    assert notes == []
    by_segment = {r["segment"]: r for r in found.iter_rows(named=True)}
    # all traffic: $1,200 / 3 customers = $400 vs $300 (+33%); excess 1,200 - 300 x 3 = $300
    # customer=acme: $600 / 1 customer vs $300; excess $300. One tier only: no tier segment.
    assert set(by_segment) == {"(all)", "customer=acme"}
    for row in by_segment.values():
        assert row["weekly_impact_usd"] == Decimal("300") and row["severity"] == "medium"
        assert "cost per active customer" in row["evidence"]
        assert "the log names no users: active customers counted" in row["evidence"]
    assert by_segment["(all)"]["observed"] == 400.0 and by_segment["(all)"]["baseline"] == 300.0
    assert by_segment["customer=acme"]["observed"] == 600.0 and by_segment["customer=acme"]["requests"] == 600


def test_growth_on_one_tier_only_is_found_on_that_tier(store):
    # the same 50 users every week; Opus $1,000 -> $800 while Sonnet $500 -> $800: all traffic +6.7%
    weekly(store, "son", [500, 500, 800], **SONNET_DOLLAR)
    weekly(store, "opu", [1000, 1000, 800], **OPUS_DOLLAR)
    found, notes = run(store)
    assert notes == []
    assert found["segment"].to_list() == ["tier=sonnet"], found.select("segment", "evidence").to_dicts()
    row = found.row(0, named=True)
    # Sonnet: $800 / 50 users = $16 vs $10 per user, +60%; excess 800 - 10 x 50 = $300
    assert row["observed"] == 16.0 and row["baseline"] == 10.0
    assert row["weekly_impact_usd"] == Decimal("300") and row["severity"] == "medium"
    assert row["requests"] == 800
    assert "cost per active user $16" in row["evidence"] and "active users: distinct user_id" in row["evidence"]


def test_a_window_too_short_for_a_baseline_is_a_note_not_silence(store):
    # ten days: one full week and nothing before it to compare with
    inject(store, 3000, W0, W0 + timedelta(days=10), **SONNET_DOLLAR)
    found, notes = run(store)
    assert found.height == 0
    assert len(notes) == 1
    assert notes[0].startswith("cost_per_user: the window holds 1 full week (2026-11-02 to 2026-11-12)")
    assert "needs at least 14 days" in notes[0]


def test_a_log_with_neither_user_nor_customer_ids_is_a_note(store):
    weekly(store, "x", [300, 300, 600], user_id="null", customer_id="null", **SONNET_DOLLAR)
    found, notes = run(store)
    assert found.height == 0
    assert notes and "carries a user_id or a customer_id" in notes[0]


def test_the_signals_command_prints_the_note_on_stderr(store, tmp_path):
    from typer.testing import CliRunner
    import typer
    from costlab.cli.signals import register

    inject(store, 3000, W0, W0 + timedelta(days=10), **SONNET_DOLLAR)
    store.execute("checkpoint")
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    db = str(tmp_path / "test.duckdb")
    store.close()
    result = CliRunner().invoke(app, ["signals", "--db", db, "--only", "cost_per_user"])
    assert result.exit_code == 0, result.output
    assert "no findings" in result.stderr
    assert "note: cost_per_user: the window holds 1 full week" in result.stderr
