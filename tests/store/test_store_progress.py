"""Bars that move while one statement does the work: `Store.progress` reports DuckDB's own progress of
the running statement (store/progress.py), and ingest, generate, the what-if pass and re-pricing pass
it on. Behaviour, not timing: the statements are big enough (seconds, on any machine) that DuckDB
reports a fraction strictly between 0 and 1 at least once."""

from __future__ import annotations

import pytest

from costlab.config import Config
from costlab.generate import generate, generate_sql
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.progress import Advance, rows_bar
from costlab.store import Store

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


def between(fractions: list[float]) -> list[float]:
    return [f for f in fractions if 0 < f < 1]


@pytest.mark.slow  # a statement of several seconds
def test_a_long_statement_reports_fractions_between_0_and_1_and_prints_nothing_to_stdout(capfd):
    seen: list[float] = []
    with Store(":memory:") as store:
        with store.progress(seen.append):
            store.execute("create table t as select range as i, md5(range::VARCHAR) as h from range(30000000)")
        assert store.scalar("select count(*) from t") == 30_000_000
        # DuckDB's own bar is off again after the block (it would print to stdout, which is data)
        assert store.scalar("select current_setting('enable_progress_bar')") is False
    assert between(seen), seen
    assert all(0 <= f <= 1 for f in seen)
    assert capfd.readouterr().out == ""


def test_no_callback_runs_the_statement_as_before():
    with Store(":memory:") as store:
        with store.progress(None):
            assert store.scalar("select count(*) from range(1000)") == 1000
        assert store.scalar("select current_setting('enable_progress_bar')") is False


def test_a_bar_is_moved_to_an_amount_and_never_backwards():
    with rows_bar(100, "rows", enabled=False) as bar:
        assert isinstance(bar, Advance)
        bar.to(40)
        bar.to(30)  # a later statement starting again from 0 does not move the bar back
        bar(10)
        bar.to(45)
    assert bar.done == 50 and bar.reported == [40, 50]


@pytest.mark.slow  # generates and ingests a log of about 100 MB
def test_ingest_reports_the_file_as_it_goes_and_ends_at_the_whole_file(store, tmp_path):
    path = tmp_path / "big.jsonl"
    generate(path, 100_000, seed=4)
    seen: list[tuple[str, float]] = []
    summary = ingest_paths(store, [str(path)], on_progress=lambda p, f: seen.append((p.name, f)))
    assert summary.files[0].rows_added == 100_000
    fractions = [f for _, f in seen]
    assert {name for name, _ in seen} == {"big.jsonl"}
    assert between(fractions) and fractions[-1] == 1.0
    # DuckDB's progress within a step, not only the steps' own ends (0.5, 0.6, 1.0)
    assert set(between(fractions)) - {0.5, 0.6}, fractions


@pytest.mark.slow  # writes a few hundred thousand rows
def test_generate_reports_the_rows_written_as_it_goes(tmp_path):
    seen: list[float] = []
    n = generate(tmp_path / "g.parquet", 400_000, seed=2, fmt="canonical-parquet", on_progress=seen.append)
    assert n == 400_000
    assert between(seen), seen


@pytest.mark.slow  # a pass over half a million requests
def test_the_whatif_pass_reports_how_far_it_is(tmp_path):
    from costlab.whatif import reduce

    with open_store(tmp_path / "w.duckdb", Config()) as store:
        store.execute("insert into requests by name " + generate_sql(500_000, seed=3))
        seen: list[float] = []
        red = reduce(store, tiers=TIERS, on_progress=seen.append)
    assert red.n == 500_000
    assert between(seen) and seen[-1] == 1.0


@pytest.mark.slow  # re-prices a million stored prices
def test_repricing_moves_the_bar_within_a_chunk(store, monkeypatch):
    from costlab import pricing, progress

    store.execute("insert into requests by name " + generate_sql(1_000_000, seed=6))
    store.execute("update requests set price_version = null")  # every stored price stale
    bars: list[Advance] = []

    def recorded(total, label, enabled=None):
        bar = rows_bar(total, label, enabled=True)  # a shown bar: only a shown one gets DuckDB's progress
        return _Keep(bar, bars)

    monkeypatch.setattr(pricing.stored, "rows_bar", recorded)
    assert pricing.stored.reprice(store, chunk_rows=10_000_000) == 1_000_000  # one chunk: one statement
    (bar,) = bars
    assert bar.done == 1_000_000
    assert [r for r in bar.reported if 0 < r < 1_000_000], bar.reported
    assert progress.Advance is Advance


class _Keep:
    """A rows_bar context that keeps the Advance it yields (to read what it was moved to)."""

    def __init__(self, bar, into: list):
        self.bar, self.into = bar, into

    def __enter__(self):
        advance = self.bar.__enter__()
        self.into.append(advance)
        return advance

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)
