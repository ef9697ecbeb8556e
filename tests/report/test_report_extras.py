"""The report sections that come from the other analyses: what-if and reconciliation. Each appears
exactly when its data (or configuration) is there, and agrees with the analysis it comes from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costlab.generate import generate_sql
from costlab.report import SECTIONS, build_report, window
from costlab.report.settings import parse

from helpers import W46, judge_every_tier

ONLY = [s for s in SECTIONS if s.name in ("headline", "whatif", "reconciliation")]


@pytest.fixture
def traffic(store):
    store.execute(f"insert into requests by name {generate_sql(4000, seed=3, start='2026-11-02', days=14)}")
    return store


def test_whatif_section_is_absent_without_configured_alternatives(traffic):
    report = build_report(traffic, W46, parse({}), sections=ONLY)
    assert "whatif" not in report["sections"]


def test_whatif_section_shows_the_actual_split_at_the_actual_cost_and_each_alternative(traffic):
    settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5},
                      "whatif_splits": ["haiku=100"]})
    report = build_report(traffic, W46, settings, sections=ONLY)
    rows = report["sections"]["whatif"]["tables"][0]["rows"]
    assert [r["scenario"] for r in rows] == ["actual split", "haiku=70,sonnet=25,opus=5", "haiku=100"]
    spend = traffic.scalar(
        "select sum(cost_usd) from costed_requests where priced and ts >= $s and ts < $u",
        {"s": W46.since, "u": W46.until})
    # the actual split is the week's cost to the cent: the cube prices each group's token sums, the
    # logged cost rounds each request's categories, < 0.5 nano-dollar apart per request and category
    n = traffic.scalar("select count(*) from requests where ts >= $s and ts < $u", {"s": W46.since, "u": W46.until})
    assert abs(Decimal(rows[0]["cost_usd"]) - spend) <= Decimal(5 * n) / (2 * 10**9) < Decimal("0.01")
    assert Decimal(rows[0]["cost_low_usd"]) <= Decimal(rows[0]["cost_usd"]) <= Decimal(rows[0]["cost_high_usd"])
    assert Decimal(rows[2]["cost_usd"]) < Decimal(rows[1]["cost_usd"]) < spend  # all-Haiku is cheapest
    assert rows[2]["mix"] == "100/0/0"


def test_whatif_section_is_the_same_inside_and_outside_the_reports_priced_window(traffic):
    from costlab.report import ReportContext
    from costlab.report.build import priced_once
    from costlab.report.sections import whatif

    settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}})
    ctx = ReportContext(traffic, W46, settings)
    outside = whatif.build(ctx)
    with priced_once(traffic, W46.prev_since, W46.until):  # costed_requests is the report's temp table here
        inside = whatif.build(ctx)
    assert inside == outside
    assert [r["scenario"] for r in inside["tables"][0]["rows"]] == ["actual split", "haiku=70,sonnet=25,opus=5"]


def test_reconciliation_section_is_absent_without_reported_costs(traffic):
    report = build_report(traffic, W46, parse({}), sections=ONLY)
    assert "reconciliation" not in report["sections"]


def test_reconciliation_section_flags_a_gateway_that_reports_more_than_the_price(traffic):
    # A gateway that over-reports one model's cost by 20% on one day of the week.
    traffic.execute(
        """update requests set reported_cost_usd = c.cost_usd * 1.2, source = 'litellm'
           from costed_requests c
           where c.request_id = requests.request_id and c.priced and c.model = 'claude-sonnet-5-5'
             and c.ts >= '2026-11-10' and c.ts < '2026-11-11'""")
    report = build_report(traffic, W46, parse({}), sections=ONLY)
    section = report["sections"]["reconciliation"]
    flagged = {m["key"]: m["current"] for m in section["metrics"]}["flagged_rows"]
    assert flagged >= 1
    top = section["tables"][0]["rows"][0]
    assert (top["day"], top["model"], top["basis"]) == ("2026-11-10", "claude-sonnet-5-5", "litellm")
    assert abs(top["cost_gap_share"] - (1 - 1 / 1.2)) < 1e-6


def test_whatif_section_draws_the_pareto_frontier_when_replays_judged_every_tier(traffic):
    from costlab.report import charts

    settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}, "whatif_splits": ["haiku=100", "opus=100"]})
    assert "frontier" not in {t["key"] for t in build_report(traffic, W46, settings, sections=ONLY)["sections"]["whatif"]["tables"]}
    judge_every_tier(traffic)
    report = build_report(traffic, W46, settings, sections=ONLY)
    section = report["sections"]["whatif"]
    tables = {t["key"]: t for t in section["tables"]}
    frontier = tables["frontier"]
    assert frontier["detail"] is True  # chart data: JSON and HTML, not the terminal
    rows = frontier["rows"]
    costs = [Decimal(r["cost_usd"]) for r in rows]
    qualities = [r["quality"] for r in rows]
    assert costs == sorted(costs) and qualities == sorted(qualities) and len(rows) > 2
    # cheapest: everything on haiku; best: everything on opus, at the scenarios' exact costs
    scen = {r["scenario"]: r for r in tables["scenarios"]["rows"]}
    assert (rows[0]["mix"], rows[0]["cost_usd"]) == ("100/0/0", scen["haiku=100"]["cost_usd"])
    assert (rows[-1]["mix"], rows[-1]["cost_usd"]) == ("0/0/100", scen["opus=100"]["cost_usd"])
    assert rows[-1]["quality"] > rows[0]["quality"]
    assert any("Pareto frontier" in n for n in section["notes"])
    assert "whatif_pareto" in dict(charts.specs(report))


def test_whatif_section_shows_the_same_token_cost_beside_and_what_rests_on_paired_replays(traffic):
    settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}, "whatif_splits": ["opus=100"]})
    plain = build_report(traffic, W46, settings, sections=ONLY)["sections"]["whatif"]
    rows = plain["tables"][0]["rows"]
    assert all(r["cost_same_usd"] == r["cost_usd"] for r in rows)  # no replay: nothing moved
    assert any("no request in this window was, so Cost and Same tokens are equal" in n for n in plain["notes"])
    # 40 of the week's haiku requests (standard, global) replayed on opus, each answer 1,000 output tokens longer
    traffic.execute(
        """insert into replays (run, source, request_id, tier, model, status, output_tokens)
           select 'r', source, request_id, 'opus', 'claude-opus-5-5', 'ok', output_tokens + 1000
           from requests where model = 'claude-haiku-5-5' and status = 'ok' and ts >= $s and ts < $u
             and service_tier = 'standard' and inference_geo is distinct from 'us' and platform = 'anthropic'
           order by request_id limit 40""", {"s": W46.since, "u": W46.until})
    n = traffic.scalar("select count(*) from requests where ts >= $s and ts < $u", {"s": W46.since, "u": W46.until})
    section = build_report(traffic, W46, settings, sections=ONLY)["sections"]["whatif"]
    scen = {r["scenario"]: r for r in section["tables"][0]["rows"]}
    opus = scen["opus=100"]
    # 1,000 more output tokens on opus for each of the 40: $25 per million output tokens (the opus card)
    rate = traffic.scalar("select max(output_fusd) from price_card where model = 'claude-opus-5-5' "
                          "and service_tier = 'standard' and speed = 'standard' and geo_class = 'global'")
    moved = Decimal(40 * 1000 * rate) / Decimal(10**15)
    assert Decimal(opus["cost_usd"]) - Decimal(opus["cost_same_usd"]) == moved
    assert scen["actual split"]["cost_same_usd"] == scen["actual split"]["cost_usd"]
    note = next(x for x in section["notes"] if x.startswith("Output tokens (replay)"))
    assert f"opus=100: {40 / n:.1%} of answers" in note


def test_whatif_frontier_shows_each_points_quality_interval_and_n(traffic):
    settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}, "whatif_splits": ["haiku=100", "opus=100"]})
    judge_every_tier(traffic)  # 300 requests of the week judged on every tier
    tables = {t["key"]: t for t in build_report(traffic, W46, settings, sections=ONLY)["sections"]["whatif"]["tables"]}
    frontier = tables["frontier"]
    assert [c["key"] for c in frontier["columns"]][-3:] == ["quality_low", "quality_high", "quality_n"]
    rows = frontier["rows"]
    for r in rows:
        assert r["quality_n"] == 300
        assert r["quality_low"] <= r["quality"] <= r["quality_high"]
    # the single-tier ends: the mean judged score on that tier over the 300, its interval around it
    for end, tier in ((rows[0], "haiku"), (rows[-1], "opus")):
        mean = traffic.scalar(f"select avg(score) from judgements where tier = '{tier}'")
        assert end["quality"] == pytest.approx(float(mean))
        assert end["quality_low"] < end["quality"] < end["quality_high"]


def test_findings_list_unpriced_traffic_of_the_reports_week_only(traffic):
    """A week's report lists no unpriced findings for days before its week (issue 17), though the
    other detectors still look back over their baseline."""
    findings = [s for s in SECTIONS if s.name in ("headline", "findings")]
    cols = "request_id, ts, source, model, input_tokens, output_tokens, status, feature"
    traffic.execute(f"insert into requests ({cols}) values ('old', '2026-11-04 10:00:00+00', 'canonical', "
                    "'claude-nova-9', 100, 10, 'ok', 'chat')")

    def unpriced(report) -> list[dict]:
        rows = next((t["rows"] for t in report["sections"]["findings"].get("tables", [])), [])
        return [r for r in rows if r["signal"] == "unpriced"]

    assert unpriced(build_report(traffic, W46, sections=findings)) == []
    assert len(unpriced(build_report(traffic, window.week("2026-W45"), sections=findings))) == 1
    traffic.execute(f"insert into requests ({cols}) values ('new', '2026-11-12 10:00:00+00', 'canonical', "
                    "'claude-nova-9', 100, 10, 'ok', 'chat')")
    found = unpriced(build_report(traffic, W46, sections=findings))
    assert len(found) == 1 and found[0]["evidence"].startswith("1 of ")


def _constant_policy(tmp_path, cheapest_ok: bool):
    """A routing policy file whose P(haiku is good enough) is the same for every request: all to haiku
    (cheapest_ok) or none (then P(sonnet) decides: none either, so all to opus)."""
    import json

    from costlab.routing import FORMAT, NUMERIC

    zero = [0.0] * len(NUMERIC)
    policy = {"format": FORMAT, "tiers": ["haiku", "sonnet", "opus"], "models": {},
              "features": {"numeric": list(NUMERIC), "feature_values": [], "vocab": []},
              "scale": {"mean": zero, "std": [1.0] * len(NUMERIC)},
              "classifiers": [{"tier": "haiku", "intercept": 3.0 if cheapest_ok else -3.0, "coef": zero},
                              {"tier": "sonnet", "intercept": -3.0, "coef": zero}],
              "threshold": 0.5, "data": {"source": "test", "requests": 1}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    return path


def test_whatif_section_includes_the_configured_routing_policy_like_a_split(traffic, tmp_path):
    from costlab.config import Config

    traffic.config = Config(routing={"policy": str(_constant_policy(tmp_path, cheapest_ok=True))})
    settings = parse({"whatif_splits": ["haiku=100"]})
    section = build_report(traffic, W46, settings, sections=ONLY)["sections"]["whatif"]
    rows = {r["scenario"]: r for r in section["tables"][0]["rows"]}
    learned = rows["learned:policy.json"]
    assert learned["mix"] == "100/0/0"
    # all on haiku: the same cost as the haiku=100 split (per-request pass vs the per-day cube: to the cent)
    assert abs(Decimal(learned["cost_usd"]) - Decimal(rows["haiku=100"]["cost_usd"])) < Decimal("0.01")
    assert Decimal(learned["cost_low_usd"]) <= Decimal(learned["cost_usd"]) <= Decimal(learned["cost_high_usd"])
    assert any("learned:policy.json" in n and "route check" in n for n in section["notes"])


def test_whatif_section_appears_for_a_configured_policy_alone(traffic, tmp_path):
    from costlab.config import Config

    traffic.config = Config(routing={"policy": str(_constant_policy(tmp_path, cheapest_ok=False))})
    section = build_report(traffic, W46, parse({}), sections=ONLY)["sections"]["whatif"]
    assert [r["scenario"] for r in section["tables"][0]["rows"]] == ["actual split", "learned:policy.json"]
    assert section["tables"][0]["rows"][1]["mix"] == "0/0/100"


def test_the_html_and_markdown_reports_render_the_policy_row(traffic, tmp_path):
    from costlab.config import Config
    from costlab.report import render

    traffic.config = Config(routing={"policy": str(_constant_policy(tmp_path, cheapest_ok=True))})
    report = build_report(traffic, W46, parse({"whatif_splits": ["haiku=100"]}), sections=ONLY)
    assert "learned:policy.json" in render(report, "markdown")
    assert "learned:policy.json" in render(report, "html")
