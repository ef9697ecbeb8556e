"""One rule for units in every output column: `_pct` is a percent (34.9), `_share` a fraction (0.349).
Checked on real outputs: every query file's declared columns, reconcile's rows, what-if's scenario
and frontier tables, and the weekly report's JSON (tables and metrics)."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

from costlab.config import Config
from costlab.open import open_store
from costlab.reconcile import reconcile
from costlab.report.build import build_report
from costlab.report.settings import ReportSettings
from costlab.report.window import date_range
from costlab.store import queries
from costlab.testing.factories import insert_requests
from costlab.whatif import Scenario, evaluate, parse_split, reduce
from costlab.whatif import frontier as F
from costlab.whatif.tables import frontier_table, scenario_table

AMBIGUOUS = ("_percent", "_percentage", "_frac", "_fraction", "_ratio_pct", "_pct_share")
START, END = datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc)


def _unit_problems(name: str, values) -> list[str]:
    """A `_share` value outside [0, 1] cannot be a fraction of a whole; no other unit suffix is allowed."""
    out = [f"{name}: a unit suffix other than _pct (percent) or _share (fraction)"] if name.endswith(AMBIGUOUS) else []
    if name.endswith("_share"):
        bad = [v for v in values if v is not None and not 0 <= float(v) <= 1]
        if bad:
            out.append(f"{name}: {bad[:3]} is not a fraction")
    return out


def test_no_query_file_declares_a_column_with_another_unit_suffix():
    problems = [f"{q.name}: {name}" for q in map(queries.parse, queries.queries_dir().rglob("*.sql"))
                for name, _ in q.returns if name.endswith(AMBIGUOUS)]
    assert not problems


def test_reconcile_gaps_are_shares_a_fraction_of_what_was_reported(store):
    store.execute("insert into requests (request_id, ts, source, platform, model, input_tokens, output_tokens, "
                  "reported_cost_usd, status) values ('a', '2026-11-10 10:00', 'gw', 'anthropic', 'claude-haiku-5-5', "
                  "1000, 0, 0.000125, 'ok')")  # haiku 5.5 $0.10/MTok: $0.0001 priced, $0.000125 reported
    row = reconcile(store).rows.to_dicts()[0]
    assert not [c for c in row if c.endswith("_pct")]
    assert row["cost_gap_share"] == 0.2  # (0.000125 - 0.0001) / 0.000125: 20% as a fraction


def test_whatif_pct_columns_are_percents_and_share_columns_fractions_and_so_is_the_report(tmp_path):
    store = open_store(tmp_path / "u.duckdb", Config(whatif={"tokenizer_factor": 1.0}))
    # 3 haiku-4-5 and 1 sonnet-4-6 request, 1,000 in + 100 out: $0.0015 and $0.0045 each
    insert_requests(store, 4, START, END, model="case when i < 3 then 'claude-haiku-4-5' else 'claude-sonnet-4-6' end",
                    input_tokens="1000", output_tokens="100",
                    reported_cost_usd="case when i = 0 then 0.002 end")  # a gateway's cost: the report reconciles
    red = reduce(store, since=START, until=END)
    results = [evaluate(red, Scenario(parse_split(s))) for s in ("current", "haiku=100")]
    table = scenario_table(red, results)
    problems = [p for c in table.columns for p in _unit_problems(c, table[c].to_list())]
    row = table.row(1, named=True)
    # actual $0.009, all on haiku $0.006: -33.33 percent; shares 1 and 0
    assert row["vs_actual_pct"] == -33.33 and (row["haiku_share"], row["sonnet_share"]) == (1.0, 0.0)
    assert Fraction(results[1].cost) == 4 * 1_500_000
    frame, _ = frontier_table(red, [F.proportional(red, 10)], all_points=True)
    assert all(sum(r[f"{t}_pct"] for t in red.tiers) == 100 for r in frame.iter_rows(named=True))  # percents
    report = build_report(store, date_range(START.date(), END.date()), ReportSettings(whatif_splits=("haiku=100",)))
    # the report keeps a ratio or a change as a fraction (its formats show it as a percent): never `_pct`
    fraction_kinds = ("ratio", "change")
    assert "reconciliation" in report["sections"]
    for section in report["sections"].values():
        for m in section.get("metrics", []):
            problems += _unit_problems(m["key"], [m.get("current"), m.get("previous")])
            if m["key"].endswith("_pct") and m["kind"] in fraction_kinds:
                problems.append(f"{m['key']}: a fraction named _pct")
        for t in section.get("tables", []):
            for col in t["columns"]:
                problems += _unit_problems(col["key"], [r.get(col["key"]) for r in t["rows"]])
                if col["key"].endswith("_pct") and col["kind"] in fraction_kinds:
                    problems.append(f"{col['key']}: a fraction named _pct")
    assert not problems
    store.close()
