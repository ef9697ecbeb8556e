"""The generator never emits a model before it existed (a tier's traffic goes to the model current
then), and never writes a format its file name contradicts (issue 16)."""

from __future__ import annotations

from datetime import date

import pytest
import typer
from typer.testing import CliRunner

from costlab.generate import format_for, generate, generate_sql
from costlab.generate.world import FIRST_PRICED

from helpers import one_command_app


def app() -> typer.Typer:
    from costlab.cli import generate as command

    return one_command_app(command.register)


def test_traffic_before_a_release_goes_to_the_model_current_then_and_is_all_priced(store):
    # Haiku 5.5 is priced from 2026-10-07 (Sonnet 5.5 from 09-28, Opus 5.5 from 09-22): a window
    # from 2026-09-01 crosses all three releases.
    store.execute(f"insert into requests by name {generate_sql(6000, seed=5, start='2026-09-01', days=40)}")
    rows = store.rows("select model, min(ts)::DATE, count(*) filter (where not priced) from costed_requests group by model")
    assert sum(unpriced for _, _, unpriced in rows) == 0
    for model, first_day, _ in rows:
        assert first_day >= FIRST_PRICED[model], f"{model} emitted on {first_day}, before its first price"
    models = {model for model, _, _ in rows}
    assert {"claude-haiku-4-5", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"} <= models
    assert store.scalar("select min(ts)::DATE from requests where model = 'claude-haiku-5-5'") == date(2026, 10, 7)


def test_the_command_from_the_issue_makes_no_unpriced_rows(store, tmp_path):
    out = tmp_path / "g.parquet"
    result = CliRunner().invoke(app(), ["generate", str(out), "--rows", "3000", "--start", "2026-09-28"])
    assert result.exit_code == 0, result.output
    store.execute("insert into requests by name select * from read_parquet($f)", {"f": str(out)})
    assert store.scalar("select count(*) from costed_requests where not priced") == 0
    assert store.scalar("select count(*) from requests where model = 'claude-haiku-4-5'") > 0


def test_a_window_after_every_release_is_unchanged_by_lineage():
    # one model per tier throughout: the same SQL (and bytes) as before the lineage existed
    assert "claude-haiku-4-5" not in generate_sql(100, seed=1, start="2026-11-02")
    assert generate_sql(100, seed=1) == generate_sql(100, seed=1, start=date(2026, 11, 2))


def test_a_start_before_any_model_of_a_tier_is_refused():
    with pytest.raises(ValueError, match="start on or after"):
        generate_sql(10, start="2020-01-01")


@pytest.mark.parametrize("name, fmt, expected", [
    ("g.parquet", None, "canonical-parquet"),
    ("g.csv", None, "canonical-csv"),
    ("g.csv.gz", None, "canonical-csv"),
    ("g.jsonl.gz", None, "anthropic"),
    ("g.jsonl", "batch", "batch"),
    ("g.log", None, "anthropic"),
    ("g.log", "canonical-parquet", "canonical-parquet"),
])
def test_the_format_follows_the_extension_when_not_given(name, fmt, expected):
    assert format_for(name, fmt) == expected


@pytest.mark.parametrize("name, fmt", [
    ("g.csv", "canonical-parquet"),
    ("g.parquet", "anthropic"),
    ("g.jsonl", "canonical-csv"),
    ("g.parquet.gz", None),
])
def test_a_format_the_file_name_contradicts_is_refused(tmp_path, name, fmt):
    with pytest.raises(ValueError, match=r"\.parquet|cannot hold"):
        generate(tmp_path / name, 10, fmt=fmt)
    assert not (tmp_path / name).exists()


def test_the_command_refuses_parquet_into_a_csv_with_a_usage_error(tmp_path):
    out = tmp_path / "g.csv"
    result = CliRunner().invoke(app(), ["generate", str(out), "--format", "canonical-parquet", "--rows", "10"])
    assert result.exit_code == 2
    assert "a .csv file cannot hold canonical-parquet" in result.output
    assert not out.exists()


def test_the_command_writes_what_the_extension_names_without_format(tmp_path):
    out = tmp_path / "g.parquet"
    result = CliRunner().invoke(app(), ["generate", str(out), "--rows", "10"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"PAR1"
