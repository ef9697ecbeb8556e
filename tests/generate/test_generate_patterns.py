"""Generator patterns (issue 13, item 13): `patterns=` adds the changes a team makes that a detector
should find, set-based and seeded, without touching the clean world; `costlab generate --pattern`
and `--mix` expose them, and the shipped example is what examples/README.md says made it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from costlab.generate import PATTERNS, generate_frame, generate_sql
from costlab.generate.world import _customers, largest_customer, make_spec
from costlab.store import Store

from helpers import EXAMPLES, one_command_app

N = 30_000
LAST_WEEK = "2026-11-09"
MIX = (0.45, 0.40, 0.15)  # the example's team: Sonnet-heavier than the default


@pytest.fixture(scope="module")
def clean():
    return generate_frame(N, seed=5, mix=MIX)


@pytest.fixture(scope="module")
def patterned():
    return generate_frame(N, seed=5, mix=MIX, patterns=tuple(PATTERNS))


def test_the_clean_world_is_the_same_rows_without_patterns():
    assert generate_sql(500, seed=3) == generate_sql(500, seed=3, patterns=())


def test_an_unknown_pattern_is_refused():
    with pytest.raises(ValueError, match="unknown pattern"):
        generate_sql(10, patterns=("over-modelling",))


def test_over_modeling_adds_a_short_output_classification_feature_mostly_on_the_top_tier(clean, patterned):
    assert "ticket-tagger" not in clean["feature"].to_list()
    tagger = patterned.filter((pl.col("feature") == "ticket-tagger") & (pl.col("status") == "ok"))
    assert tagger.height > 0.1 * N
    assert tagger["output_tokens"].quantile(0.9) <= 200
    assert tagger["input_tokens"].quantile(0.9) <= 8000
    assert (tagger["model"] == "claude-opus-5-5").mean() > 0.6


def test_nightly_batch_adds_a_cron_job_that_runs_within_45_minutes_of_01_00_on_the_standard_tier(patterned):
    job = patterned.filter(pl.col("feature") == "catalog-enrich")
    assert job.height > 0
    minutes = job.select(pl.col("ts").dt.hour() * 60 + pl.col("ts").dt.minute()).to_series()
    assert minutes.min() >= 60 and minutes.max() < 60 + 46  # a retry may land a few seconds after
    assert (job["service_tier"] == "standard").all()


def test_rate_limited_top_tier_raises_the_top_tiers_429s_only(clean, patterned):
    def rate(frame: pl.DataFrame, model: str) -> float:
        rows = frame.filter(pl.col("model") == model)
        return rows.select((pl.col("error_type") == "rate_limit").fill_null(False).mean()).item()

    assert rate(patterned, "claude-opus-5-5") > 2 * rate(clean, "claude-opus-5-5")
    assert rate(patterned, "claude-opus-5-5") > 0.08
    assert rate(patterned, "claude-sonnet-5-5") < 0.02


def test_cost_per_user_growth_lengthens_the_largest_customers_prompts_in_the_last_week_only(clean, patterned):
    customer = _customers(make_spec(N, 5))[largest_customer(make_spec(N, 5))]

    def growth(frame: pl.DataFrame, who: str) -> float:
        rows = frame.filter((pl.col("customer_id") == who) & (pl.col("status") == "ok") & (pl.col("feature") == "chat-assistant"))
        prompt = pl.col("input_tokens") + pl.col("cache_read_tokens") + pl.col("cache_write_5m_tokens") + pl.col("cache_write_1h_tokens")
        late = rows.filter(pl.col("ts") >= pl.lit(LAST_WEEK).str.to_datetime(time_zone="UTC")).select(prompt.median()).item()
        early = rows.filter(pl.col("ts") < pl.lit(LAST_WEEK).str.to_datetime(time_zone="UTC")).select(prompt.median()).item()
        return late / early

    assert 1.5 < growth(patterned, customer) < 2.2  # 1.8x, seen through log-normal noise
    assert 0.8 < growth(clean, customer) < 1.25


def test_escalation_spike_moves_the_feature_to_haiku_in_the_last_week_and_its_escalations_rise(patterned):
    doc = patterned.filter((pl.col("feature") == "doc-summarize") & (pl.col("service_tier") == "standard"))
    week = pl.col("ts") >= pl.lit(LAST_WEEK).str.to_datetime(time_zone="UTC")
    first = doc.filter(pl.col("attempt") == 1)
    assert (first.filter(week)["model"] == "claude-haiku-5-5").mean() > 0.85
    assert (first.filter(~week)["model"] == "claude-haiku-5-5").mean() < 0.5
    escalations = doc.filter((pl.col("attempt") == 2) & (pl.col("model") == "claude-sonnet-5-5"))
    assert escalations.filter(week).height > 4 * escalations.filter(~week).height


def app() -> typer.Typer:
    from costlab.cli.generate import register

    return one_command_app(register)


@pytest.mark.parametrize("args, message", [
    (["--mix", "haiku=70,sonnet=25,opus=10"], "the shares sum to 105, not 100"),
    (["--mix", "70/25/5"], "expected haiku=N,sonnet=N,opus=N"),
    (["--pattern", "overmodeling"], "no pattern 'overmodeling'"),
])
def test_generate_refuses_a_mix_that_is_not_100_and_an_unknown_pattern(tmp_path, args, message):
    result = CliRunner().invoke(app(), ["generate", str(tmp_path / "x.parquet"), "--rows", "10", *args])
    assert result.exit_code == 2 and message in result.output


def test_the_shipped_example_is_what_its_documented_command_makes(tmp_path):
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    command = ("costlab generate examples/wrong_model_patterns.parquet --format canonical-parquet --rows 80000 "
               "--seed 13 --mix haiku=45,sonnet=40,opus=15 --pattern all")
    assert command in readme
    out = tmp_path / "wrong_model_patterns.parquet"
    args = command.split()[2:]
    args[0] = str(out)
    result = CliRunner().invoke(app(), ["generate", *args])
    assert result.exit_code == 0, result.output
    with Store(":memory:") as s:
        query = "select * from read_parquet($f) order by request_id"
        made = s.frame(query, {"f": str(out)})
        shipped = s.frame(query, {"f": str(EXAMPLES / "wrong_model_patterns.parquet")})
    assert made.equals(shipped)
