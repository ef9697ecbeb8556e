"""`costlab whatif`, `whatif frontier` and `whatif backtest` through typer's CliRunner."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from costlab.cli.whatif import register
from costlab.config import Config
from costlab.generate import generate_sql
from costlab.open import open_store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    (tmp_path / "costlab.toml").write_text(
        '[tiers]\nhaiku = "claude-haiku-5-5"\nsonnet = "claude-sonnet-5-5"\nopus = "claude-opus-5-5"\n')
    s = open_store(path, Config())
    s.execute("insert into requests by name " + generate_sql(3000, seed=2))
    s.close()
    return str(path)


def run(*args: str):
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(app)
    return CliRunner().invoke(app, list(args))


def test_whatif_prints_every_split_with_an_interval_and_current_matches_the_logs(db):
    r = run("whatif", "--db", db, "--split", "current", "--split", "haiku=70,sonnet=25,opus=5", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["scenario"] for x in rows] == ["current", "proportional haiku=70,sonnet=25,opus=5"]
    s = open_store(db, Config(), read_only=True)
    actual = s.scalar("select sum(cost_usd) from costed_requests where priced")
    s.close()
    assert Decimal(rows[0]["cost_usd"]) == actual
    for x in rows:
        assert Decimal(x["cost_low_usd"]) < Decimal(x["cost_usd"]) < Decimal(x["cost_high_usd"])
        assert x["unpriced_requests"] == 0


def test_whatif_with_batch_and_cache_writes_a_chart_and_notes_on_stderr(db, tmp_path):
    chart = tmp_path / "s.html"
    r = run("whatif", "--db", db, "--split", "current", "--batch", "doc-summarize", "--cache-hit-rate", "0.95",
            "--chart", str(chart), "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("scenario,cost_usd")
    assert "note:" not in r.stdout
    assert chart.exists() and "vega" in chart.read_text()


def test_whatif_refuses_a_bad_split_with_a_usage_exit_code(db):
    r = run("whatif", "--db", db, "--split", "haiku=70,sonet=30")
    assert r.exit_code == 2
    assert "Did you mean 'sonnet'" in r.output
    assert run("whatif", "--db", db).exit_code == 2


def test_frontier_prints_the_pareto_set_and_metrics(db, tmp_path):
    chart = tmp_path / "f.html"
    r = run("whatif", "frontier", "--db", db, "--format", "csv", "--chart", str(chart))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == ("policy,haiku_pct,sonnet_pct,opus_pct,cost_usd,quality,quality_low,quality_high,quality_n,pgr,"
                        "on_hull,hull_vertex,grid_pareto")
    assert any(line.startswith("proportional,100,0,0,") for line in lines)
    assert "APGR" in r.stderr and "5,151 splits" in r.stderr and "random router" in r.stderr
    assert chart.exists()


def test_backtest_reports_the_error(db):
    r = run("whatif", "backtest", "--db", db, "--train", "2026-11-02:2026-11-09", "--test", "2026-11-09:2026-11-16",
            "--format", "json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    assert row["train_requests"] + row["test_requests"] == 3000
    assert isinstance(row["error_pct"], float)
    assert run("whatif", "backtest", "--db", db, "--train", "2026-11-09:2026-11-02", "--test", "2026-11-09:2026-11-16").exit_code == 2


def test_an_interactive_feature_cannot_be_moved_to_batch_and_unknown_whatif_keys_are_refused(db, tmp_path):
    toml = tmp_path / "costlab.toml"
    toml.write_text(toml.read_text() + '\n[whatif]\ninteractive = ["chat-assistant"]\nwarmup_minutes = 30\n')
    r = run("whatif", "--db", db, "--split", "current", "--batch", "chat-assistant")
    assert r.exit_code == 2 and "interactive" in r.output
    toml.write_text(toml.read_text() + 'warmup_minute = 5\n')
    r = run("whatif", "--db", db, "--split", "current")
    assert r.exit_code == 2 and "Did you mean 'warmup_minutes'" in r.output


def test_an_import_only_store_gets_its_frontier_oracle_and_random_router_from_the_eval(tmp_path):
    path = _eval_store(tmp_path)
    tiers = "haiku=claude-haiku-4-5,sonnet=claude-sonnet-4-6,opus=claude-opus-4-7"
    r = run("whatif", "frontier", "--db", str(path), "--tiers", tiers, "--policy", "proportional", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    hull = [x for x in rows if x["policy"] == "proportional"]
    # the hull is the 101 haiku/opus mixes: all on haiku $0.0081 at 0.5 ... all on opus $0.0455 at 1.0
    assert len(hull) == 101 and all(x["sonnet_pct"] == 0 for x in hull)
    assert (Decimal(hull[0]["cost_usd"]), hull[0]["quality"]) == (Decimal("0.0081"), 0.5)
    assert (Decimal(hull[-1]["cost_usd"]), hull[-1]["quality"]) == (Decimal("0.0455"), 1.0)
    rand = [x for x in rows if x["policy"].startswith("random router")]
    assert len(rand) == 21 and all(x["quality_low"] <= x["quality"] <= x["quality_high"] for x in rand)
    assert "using the imported eval set 'e3'" in r.stderr and "cost rests on the file's tokens" in r.stderr
    assert "APGR 0.500, AIQ 0.7500" in r.stderr
    r = run("whatif", "--db", str(path), "--eval", "e3", "--tiers", tiers, "--policy", "oracle", "--format", "json")
    assert r.exit_code == 0, r.output
    assert Decimal(json.loads(r.stdout)[0]["cost_usd"]) == Decimal("0.0251")
def test_whatif_shows_the_same_token_cost_and_what_each_output_rule_covered(db):
    r = run("whatif", "--db", db, "--split", "current", "--split", "haiku=70,sonnet=25,opus=5", "--format", "json",
            "--resamples", "50")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    for x in rows:
        assert x["output_tokens"] == "replay"
        assert x["cost_same_tokens_usd"] == x["cost_usd"]  # no replays: nothing moved
        assert Decimal(x["cost_same_tokens_low_usd"]) <= Decimal(x["cost_same_tokens_usd"]) <= Decimal(x["cost_same_tokens_high_usd"])
    split = rows[1]
    assert split["output_paired_requests_share"] == 0 and split["output_observed_requests_share"] == 0
    assert split["output_logged_requests_share"] + split["output_same_requests_share"] == pytest.approx(1, abs=1e-3)
    assert "output tokens (replay)" in r.stderr and "keep the logged output tokens" in r.stderr
    obs = run("whatif", "--db", db, "--split", "haiku=70,sonnet=25,opus=5", "--output-tokens", "observed",
              "--format", "csv", "--resamples", "0")
    assert obs.exit_code == 0, obs.output
    header = obs.stdout.splitlines()[0].split(",")
    assert "cost_same_tokens_usd" in header and "output_observed_tokens_share" in header
    assert "is a sensitivity" in obs.stderr
    bad = run("whatif", "--db", db, "--split", "current", "--output-tokens", "ratio")
    assert bad.exit_code == 2 and "same, replay, observed" in bad.output


def test_whatif_refuses_a_split_that_does_not_add_up_and_names_the_sum(db):
    r = run("whatif", "--db", db, "--split", "haiku=70,sonnet=25,opus=10")
    assert r.exit_code == 2
    assert "--split" in r.output and "add up to 105" in r.output


def test_cascade_and_oracle_take_no_share_split(db):
    for policy in ("cascade", "oracle"):
        r = run("whatif", "--db", db, "--policy", policy, "--split", "haiku=70,sonnet=30", "--split", "haiku=100")
        assert r.exit_code == 2
        assert "takes no TIER=SHARE split" in r.output
    r = run("whatif", "--db", db, "--policy", "quantum", "--split", "current")
    assert r.exit_code == 2


def test_every_frontier_quality_shows_its_n_and_interval(tmp_path):
    path = _eval_store(tmp_path)
    tiers = "haiku=claude-haiku-4-5,sonnet=claude-sonnet-4-6,opus=claude-opus-4-7"
    r = run("whatif", "frontier", "--db", str(path), "--tiers", tiers, "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {x["policy"].split(" (")[0] for x in rows} == {"proportional", "complexity", "random router"}
    for x in rows:  # every quality figure with its n (the 4 prompts) and an interval around it
        assert x["quality_n"] == 4, x
        assert 0 <= x["quality_low"] <= x["quality"] <= x["quality_high"] <= 1, x
    prop = [x for x in rows if x["policy"] == "proportional"]
    assert (prop[0]["haiku_pct"], prop[0]["quality"]) == (100, 0.5)   # 2 of 4 right on haiku
    assert (prop[-1]["opus_pct"], prop[-1]["quality"], prop[-1]["quality_low"], prop[-1]["quality_high"]) == (100, 1.0, 1.0, 1.0)
    assert prop[0]["quality_low"] < 0.5 < prop[0]["quality_high"]      # 4 prompts: a wide interval
    assert "quality_low..quality_high is each split's 95% interval" in r.stderr


def test_logged_frontier_rows_carry_quality_n_and_an_interval(db):
    with open_store(db, Config()) as s:
        s.execute("""insert into judgements (run, source, request_id, tier, judge, score, good)
                     select 'r1', source, request_id, t.tier, 'rubric', t.q, t.q > 0.7
                     from (select source, request_id from requests order by request_id limit 200) r
                     cross join (values ('haiku', 0.6), ('sonnet', 0.8), ('opus', 0.9)) t(tier, q)""")
    r = run("whatif", "frontier", "--db", db, "--format", "json")
    assert r.exit_code == 0, r.output
    rows = [x for x in json.loads(r.stdout) if x["quality"] is not None]
    assert rows and all(x["quality_n"] is not None and x["quality_low"] is not None for x in rows)
    prop = [x for x in rows if x["policy"] == "proportional"]
    assert prop[0]["haiku_pct"] == 100 and prop[0]["quality_n"] == 200


def _eval_store(tmp_path):
    """A store holding only an imported eval set 'e3': 4 prompts judged on 3 tiers (haiku right on p1
    and p4, opus on all four), with each answer's tokens."""
    from costlab.replay.importer import import_outcomes

    path = tmp_path / "e.duckdb"
    f = tmp_path / "eval.csv"
    f.write_text("prompt_id,model,score,input_tokens,output_tokens\n"
                 "p1,small,1,1000,200\np1,mid,1,1000,300\np1,big,1,1000,400\n"
                 "p2,small,0,2000,100\np2,mid,1,2000,100\np2,big,1,2000,100\n"
                 "p3,small,0,500,500\np3,mid,0,500,500\np3,big,1,500,500\n"
                 "p4,small,1,100,100\np4,mid,0,100,100\np4,big,1,100,100\n")
    with open_store(path, Config()) as s:
        import_outcomes(s, f, "csv", "e3", {"small": "haiku", "mid": "sonnet", "big": "opus"})
    return path
