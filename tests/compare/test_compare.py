"""`costlab compare` (issue 18, part 3): cohorts, tests, the verdict, guardrails and findings, on
generated traffic ingested through the normal path at the demo's volume (50,000 requests a week:
the shipped example's two logs hold 100,000 over two weeks) with an injected change."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab import compare as K
from costlab import signals
from costlab.compare import stats as S
from costlab.config import Config, load_config
from costlab.errors import ConfigError
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.testing.factories import insert_requests
from costlab.testing.switch import flagged_week, switch_weeks

from helpers import one_command_app

DEMO_WEEK = 50_000
RESAMPLES = 400
START, MID, END = (datetime(2026, 11, d, tzinfo=timezone.utc) for d in (2, 9, 16))


def _store(folder: Path, paths: list[Path], config: Config | None = None):
    store = open_store(folder / "s.duckdb", config or Config())
    result = ingest_paths(store, [str(p) for p in paths])
    assert not result.failed
    return store


@pytest.fixture(scope="module")
def cheaper(tmp_path_factory):
    """Two demo-sized weeks, the second one's token counts x 0.9 (cost about -10%)."""
    folder = tmp_path_factory.mktemp("cheaper")
    store = _store(folder, switch_weeks(folder, DEMO_WEEK, seed=3, cost_factor=0.9))
    yield store
    store.close()


@pytest.fixture(scope="module")
def more_errors(tmp_path_factory):
    """Two demo-sized weeks, one answer in 100 of the second turned into an api_error (+1 pp)."""
    folder = tmp_path_factory.mktemp("errors")
    store = _store(folder, switch_weeks(folder, DEMO_WEEK, seed=4, extra_error_share=0.01))
    yield store, folder / "s.duckdb"
    store.close()


@pytest.mark.slow
def test_detects_a_ten_percent_cost_drop_at_the_demo_volume(cheaper):
    result = K.compare(cheaper, K.switch_day(cheaper, "2026-11-09"), resamples=RESAMPLES)
    cost = result.row("cost_per_request_usd")
    assert cost["significant"] and cost["p_adjusted"] < 0.05
    assert -14 < cost["change"] < -6 and cost["low"] < cost["change"] < cost["high"] < 0
    assert isinstance(cost["a"], Decimal) and cost["n_a"] == cost["n_b"] == DEMO_WEEK
    assert result.verdict.startswith("cost -") and "error rate unchanged" in result.verdict
    assert not result.breaches  # cheaper is no guardrail's concern


@pytest.mark.slow
def test_cost_per_request_is_exact_from_the_stored_decimal_costs(cheaper):
    result = K.compare(cheaper, K.switch_day(cheaper, "2026-11-09"), resamples=100)
    exact = cheaper.scalar("select sum(cost_usd) / count(*) from costed_requests where ts >= $a and ts < $b "
                           "and priced", {"a": START, "b": MID})
    assert result.row("cost_per_request_usd")["a"] == Decimal(str(exact)).quantize(Decimal("0.000000001"))


@pytest.mark.slow
def test_detects_a_one_point_rise_in_error_rate_and_names_its_type(more_errors):
    store, _ = more_errors
    result = K.compare(store, K.switch_day(store, "2026-11-09"), resamples=RESAMPLES)
    err = result.row("error_rate")
    assert err["significant"] and 0.7 < err["change"] < 1.3 and err["low"] > 0
    assert result.row("error_rate:api_error")["significant"]
    assert "error rate +" in result.verdict
    assert not result.row("cost_per_request_usd")["significant"] or result.row("cost_per_request_usd")["change"] < 0


@pytest.mark.slow
def test_a_breached_guardrail_exits_5_and_is_a_high_compare_finding(more_errors, tmp_path):
    store, db = more_errors
    toml = tmp_path / "costlab.toml"
    toml.write_text('[compare]\nswitch_day = 2026-11-09\nresamples = 200\n[compare.guardrails]\nerror_rate_pp = 0.5\n',
                    encoding="utf-8")
    found = K.compare_findings(store, load_config(toml))
    assert found.columns == list(signals.COLUMNS)
    row = found.row(0, named=True)
    assert (found.height, row["severity"], row["signal"]) == (1, "high", "compare")
    assert "error_rate_pp" in row["evidence"] and "2026-11-09" in row["segment"]
    store.close()  # the CLI opens the file itself
    from costlab.cli import compare as command

    app = one_command_app(command.register)
    run = CliRunner().invoke(app, ["compare", "--db", str(db), "--config", str(toml), "--resamples", "200"])
    assert run.exit_code == 5, run.output
    assert "guardrail breached: error_rate_pp" in run.output
    ok = CliRunner().invoke(app, ["compare", "--db", str(db), "--config", str(toml), "--resamples", "200",
                                  "--no-guardrails", "--format", "json"])
    assert ok.exit_code == 0
    rows = json.loads(ok.stdout)
    assert {r["metric"] for r in rows} >= {"cost_per_request_usd", "error_rate", "latency_p95_ms", "ttft_p95_ms"}


def test_no_default_comparison_means_no_findings(store):
    assert K.compare_findings(store, Config()).height == 0


@pytest.mark.slow
def test_stays_silent_on_two_weeks_of_the_same_stationary_traffic(tmp_path):
    """The false-positive rate at alpha 0.05 with Holm over every metric: a few seeds here, with a
    loose bound; benchmarks/bench_compare_fpr.py measures it over 40 (benchmarks/RESULTS.md)."""
    flagged = 0
    seeds = range(100, 105)
    for seed in seeds:
        folder = tmp_path / str(seed)
        folder.mkdir()
        with _store(folder, switch_weeks(folder, 10_000, seed=seed)) as store:
            result = K.compare(store, K.switch_day(store, "2026-11-09"), resamples=200, seed=seed)
            flagged += bool(result.table["significant"].any())
    assert flagged <= 2, f"{flagged} of {len(seeds)} stationary comparisons found a difference"


@pytest.mark.slow
def test_a_metadata_flag_splits_a_rollout_and_its_key_is_bound_not_spliced(tmp_path):
    key = "new'model\"; drop table requests; --"
    path = flagged_week(tmp_path, 40_000, seed=5, key=key, cost_factor=0.8)
    with _store(tmp_path, [path]) as store:
        cohorts = K.flag(key, *K.window(store, None, None, 7))
        result = K.compare(store, cohorts, resamples=RESAMPLES)
        cost = result.row("cost_per_request_usd")
        assert cost["significant"] and -26 < cost["change"] < -14
        assert 0.4 < cost["n_b"] / (cost["n_a"] + cost["n_b"]) < 0.6
        assert store.scalar("select count(*) from requests") == 40_000


def test_expressions_are_the_users_sql_one_expression_each_and_cohorts_may_not_overlap(store):
    insert_requests(store, 200, START, MID, model="case when i % 2 = 0 then 'claude-haiku-5-5' else 'claude-sonnet-5-5' end")
    with pytest.raises(ConfigError, match="one expression|statements"):
        K.expressions("model = 'x'; drop table requests", "true", START, MID)
    with pytest.raises(ConfigError, match="match both"):
        K.compare(store, K.expressions("model like 'claude%'", "model = 'claude-haiku-5-5'", START, MID), resamples=100)
    result = K.compare(store, K.expressions("model = 'claude-sonnet-5-5'", "model = 'claude-haiku-5-5'", START, MID),
                       resamples=100)
    cost = result.row("cost_per_request_usd")
    assert cost["significant"] and cost["change"] < -50  # haiku is the cheaper model


def test_sample_weights_weigh_every_figure(store):
    # a: 100 rows at weight 3 costing c, 100 at weight 1 costing 2c (by output tokens); b: the same, unweighted
    insert_requests(store, 200, START, MID, output_tokens="case when i % 2 = 0 then 100 else 200 end",
                    input_tokens="0", sample_weight="case when i % 2 = 0 then 3 else 1 end",
                    status="case when i % 4 = 0 then 'error' else 'ok' end")
    insert_requests(store, 200, MID, END, request_id="'b_' || i", output_tokens="case when i % 2 = 0 then 100 else 200 end",
                    input_tokens="0", status="case when i % 4 = 0 then 'error' else 'ok' end")
    result = K.compare(store, K.switch_day(store, "2026-11-09"), resamples=100)
    unit = store.scalar("select cost_usd from costed_requests where request_id = 'inj_2'")
    cost = result.row("cost_per_request_usd")
    assert cost["a"] == (unit * 3 + 2 * unit) / 4  # weighted: (3c + 2c) / 4
    assert cost["b"] == (unit + 2 * unit) / 2
    err = result.row("error_rate")
    assert math.isclose(float(err["a"]), 150 / 400) and math.isclose(float(err["b"]), 0.25)  # errors on even rows: weight 3
    assert result.requests == (Decimal(400), Decimal(200))


def test_holm_and_benjamini_hochberg_adjust_as_published():
    p = [0.01, 0.04, 0.03, 0.005]
    assert S.adjust(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.adjust(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert math.isnan(S.adjust([float("nan"), 0.01], "holm")[0]) and S.adjust([float("nan"), 0.01], "holm")[1] == 0.01


def test_two_proportions_matches_the_textbook_z_test():
    import numpy as np

    a, b = np.r_[np.ones(30), np.zeros(970)], np.r_[np.ones(50), np.zeros(950)]
    pa, pb, d, lo, hi, p = S.two_proportions(a, np.ones(1000), b, np.ones(1000))
    assert (pa, pb) == (0.03, 0.05) and d == pytest.approx(2.0)
    pooled = 0.04
    z = 0.02 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert lo < 2 < hi


def test_weighted_quantile_is_the_first_value_with_q_of_the_weight():
    import numpy as np

    assert S.weighted_quantile(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), 0.5) == 2.0
    assert S.weighted_quantile(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 5.0]), 0.5) == 4.0


def test_guardrail_settings_refuse_a_limit_in_the_wrong_direction_and_unknown_keys():
    with pytest.raises(ConfigError, match="write -3"):
        K.parse({"guardrails": {"quality_pp": 3}})
    with pytest.raises(ConfigError, match="did you mean|Known guardrails"):
        K.parse({"guardrails": {"error_rate": 1}})
    settings = K.parse({"guardrails": {"p95_latency_pct": False, "cost_pct": 5}})
    assert settings.guardrails == {"error_rate_pp": 1.0, "quality_pp": -3.0, "cost_pct": 5.0}


def test_report_section_appears_only_when_a_model_share_moves_past_the_threshold(store):
    from costlab.report import build_report, window
    from costlab.report.sections import model_switch

    week = window.week("2026-W46")  # 2026-11-09 .. 16, against W45
    switch = datetime(2026, 11, 12, tzinfo=timezone.utc)
    insert_requests(store, 2000, START, switch, model="case when i % 5 = 0 then 'claude-haiku-5-5' else 'claude-sonnet-5-5' end")
    quiet = build_report(store, week, sections=[model_switch.SECTION])
    assert "model_switch" not in quiet["sections"]
    insert_requests(store, 800, switch, END, request_id="'after_' || i", model="'claude-haiku-5-5'",
                    status="case when i % 10 = 0 then 'error' else 'ok' end")
    section = build_report(store, week, sections=[model_switch.SECTION])["sections"].get("model_switch")
    assert section is not None
    assert "claude-haiku-5-5 went from 20% to 100% of requests from 2026-11-12" in section["notes"][0]
    assert "--switch-day 2026-11-12 --days 4" in section["notes"][2]
    rows = {r["metric"]: r for r in section["tables"][0]["rows"]}
    assert rows["error_rate"]["significant"] == "yes" and section["guardrails_breached"] == ["error_rate_pp"]
    assert rows["cost_per_request_usd"]["significant"] == "yes"  # sonnet to haiku: cheaper


def test_the_m_out_of_n_bootstrap_gives_the_full_bootstraps_spread(monkeypatch):
    import numpy as np

    rng = np.random.default_rng(1)
    values = rng.lognormal(0, 1, 40_000)
    w = np.ones(values.size)
    stats = {"mean": S.Statistic(np.ones(values.size, bool), values, "mean"),
             "p95": S.Statistic(np.ones(values.size, bool), values, "quantile", 0.95)}
    full = S.Resampler(w, 400, np.random.default_rng(2)).run(stats)
    monkeypatch.setattr(S, "MAX_ROWS", 5_000)
    sub = S.Resampler(w, 400, np.random.default_rng(3)).run(stats)
    for name in stats:
        assert np.std(sub[name]) == pytest.approx(np.std(full[name]), rel=0.2)
        assert np.median(sub[name]) == pytest.approx(np.median(full[name]), rel=0.02)


def test_a_burst_of_errors_in_one_hour_is_not_thousands_of_independent_events():
    import numpy as np

    hours = np.repeat(np.arange(168), 100)  # a week, 100 requests an hour
    a = np.zeros(hours.size)
    a[np.arange(0, hours.size, 200)] = 1  # 0.5% errors, spread out
    b = a.copy()
    b[(hours == 50) & (np.arange(hours.size) % 100 < 60)] = 1  # plus one incident hour: 60 errors
    w = np.ones(hours.size)
    *_, p_binomial = S.two_proportions(a, w, b, w)
    *_, p_clustered = S.two_proportions(a, w, b, w, hours_a=hours, hours_b=hours)
    assert p_binomial < 0.001 < p_clustered  # the binomial test calls one bad hour a significant change
    spread = a.copy()
    spread[np.arange(50, hours.size, 280)] = 1  # the same 60 extra errors spread over the week
    *_, p_spread = S.two_proportions(a, w, spread, w, hours_a=hours, hours_b=hours)
    assert p_spread < 0.001


def test_the_command_says_what_to_compare_and_refuses_two_ways_at_once(tmp_path, new_store):
    from costlab.cli import compare as command

    db = tmp_path / "c.duckdb"
    with new_store(db) as store:
        insert_requests(store, 100, START, END)
    app = one_command_app(command.register)
    none = CliRunner().invoke(app, ["compare", "--db", str(db)])
    assert none.exit_code == 2 and "--switch-day DAY, --before/--after, --a/--b or --flag KEY" in " ".join(none.output.split())
    both = CliRunner().invoke(app, ["compare", "--db", str(db), "--switch-day", "2026-11-09", "--flag", "x"])
    assert both.exit_code == 2 and "choose one way" in both.output
    statement = CliRunner().invoke(app, ["compare", "--db", str(db), "--a", "true; select 1", "--b", "false"])
    assert statement.exit_code == 2 and "one expression" in statement.output
    ok = CliRunner().invoke(app, ["compare", "--db", str(db), "--switch-day", "2026-11-09", "--format", "csv",
                                  "--resamples", "100"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[0].startswith("metric,unit,a,b,change,change_unit,low,high,p_value,p_adjusted,significant")


@pytest.mark.slow
def test_a_guardrail_breach_is_sent_by_costlab_alert_once(more_errors, tmp_path):
    store, db = more_errors
    store.close()  # the CLI opens the file itself
    notes = tmp_path / "alerts.md"
    toml = tmp_path / "costlab.toml"
    toml.write_text('[compare]\nswitch_day = 2026-11-09\nresamples = 200\n[compare.guardrails]\nerror_rate_pp = 0.5\n'
                    f'[[alerts]]\nname = "notes"\nkind = "markdown"\npath = {json.dumps(str(notes))}\nappend = true\n',
                    encoding="utf-8")
    from costlab.cli import alert as command

    app = one_command_app(command.register)
    first = CliRunner().invoke(app, ["alert", "--db", str(db), "--config", str(toml), "--source", "compare"])
    assert first.exit_code == 0, first.output
    sent = notes.read_text(encoding="utf-8")
    assert "1 high" in sent and "`compare`" in sent and "error_rate_pp" in sent.replace("\\_", "_")
    again = CliRunner().invoke(app, ["alert", "--db", str(db), "--config", str(toml), "--source", "compare"])
    assert again.exit_code == 0, again.output
    assert notes.read_text(encoding="utf-8") == sent, "the same breach is not sent twice"


def test_a_rate_difference_interval_never_leaves_minus_to_plus_one_hundred_points():
    import numpy as np

    ones = np.ones(3)
    _, _, diff, low, high, _ = S.two_proportions(np.array([1.0, 0, 0]), ones, np.array([1.0, 1, 1]), ones)
    assert round(diff, 6) == 66.666667 and low > 0 and high == 100.0
    _, _, diff, low, high, _ = S.two_proportions(np.array([1.0, 1, 1]), ones, np.array([0.0, 0, 0]), ones)
    assert diff == -100.0 and low == -100.0 and high <= 0
