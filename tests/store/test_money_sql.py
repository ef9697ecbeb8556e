"""Money is exact above $10M: DuckDB computes `DECIMAL / x` as DOUBLE (exact only below about $9M at
the nano-dollar), so money is built from integer nano-dollars by multiplying (`* 0.000000001`), never
by dividing. A store whose totals exceed $10M, with rates that give odd nano-dollars, and every
figure (the report's cube and headline, the summary, what-if's actual and current split) compared with
a sum by hand; and a scan of queries/ for a division that would produce money."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

from costlab.config import Config
from costlab.money import NANO
from costlab.open import open_store
from costlab.report.build import build_report
from costlab.report.window import date_range
from costlab.store.queries import queries_dir
from costlab.summary import TOTAL, cost_summary
from costlab.testing.factories import insert_requests
from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals
from costlab.whatif.reduce import reduce
from costlab.whatif.scenario import Scenario, evaluate, parse_split

# Haiku 5.5 at a negotiated rate with a nano-dollar fraction per token: $1.234567891/MTok input,
# so 1234.567891 nano-dollars a token (rates in femto-dollars: exact).
INPUT_FUSD, CACHE_READ_FUSD = 1_234_567_891, 123_456_789
PRICE = {"model": "claude-haiku-5-5", "valid_from": "2026-01-01", "input": 1.234567891, "output": 2.5,
         "cache_read": 0.123456789, "cache_write_5m": 1.5, "cache_write_1h": 2}
N = 2400  # requests of about $6,600 each on one day (a request's femto-dollars stay within BIGINT): $15.9M
INPUT = "5000000000 + i * 7919 + 13"
CACHE_READ = "4000000000 + i * 104729 + 19"
ROWS = [(5_000_000_000 + i * 7919 + 13, 4_000_000_000 + i * 104729 + 19) for i in range(N)]  # (input, cache read)


def _nusd(tokens: int, fusd: int) -> int:
    return (tokens * fusd + 500_000) // 1_000_000  # half up to the nano-dollar, as costlab_fusd_to_usd


def test_money_above_ten_million_dollars_is_exact_to_the_nano_dollar_in_report_summary_and_whatif(tmp_path):
    store = open_store(tmp_path / "big.duckdb", Config(prices=[PRICE]))
    insert_requests(store, N, datetime(2026, 11, 10, tzinfo=timezone.utc), datetime(2026, 11, 11, tzinfo=timezone.utc),
                    model="'claude-haiku-5-5'", input_tokens=INPUT, output_tokens="0", cache_read_tokens=CACHE_READ)
    cost = sum(_nusd(inp, INPUT_FUSD) + _nusd(read, CACHE_READ_FUSD) for inp, read in ROWS)
    read_at_input = sum(_nusd(read, INPUT_FUSD) for _, read in ROWS)
    usd = lambda n: Decimal(n) * NANO  # noqa: E731
    assert usd(cost) > 10_000_000 and usd(read_at_input) > 10_000_000 and read_at_input % 2 == 1  # odd: not a double at $12M

    since, until = datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc)
    cube = store.run_query("report/cube", since=since, until=until, prev_since=datetime(2026, 11, 2, tzinfo=timezone.utc))
    assert sum(cube["cache_read_at_input_usd"].to_list()) == usd(read_at_input)
    assert sum(cube["cost_usd"].to_list()) == usd(cost)

    report = build_report(store, date_range(since.date(), until.date()))
    headline = {m["key"]: m for m in report["sections"]["headline"]["metrics"]}
    assert Decimal(headline["spend_usd"]["current"]) == usd(cost)

    summary = cost_summary(store, since, until)
    assert summary["tier"].filter(summary["tier"]["tier"] == TOTAL)["cost_usd"].item() == usd(cost)

    red = reduce(store, since=since, until=until)  # what-if's per-request pass: `costlab whatif`
    assert int(red.actual.sum()) == cost
    assert Fraction(evaluate(red, Scenario(parse_split("current"))).cost) == cost
    # The report's what-if section prices per-day sums of tokens (aggregate first), so it rounds once
    # per day and tier, not per request: within a nano-dollar a request of the exact figure, no float.
    daily = reduce_daily_totals(store, since=since, until=until)
    assert abs(daily.actual_total - cost) <= 2 * N
    assert Fraction(evaluate_daily_totals(daily, Scenario(parse_split("current"))).cost) == daily.actual_total
    store.close()


# A division whose result is money: `<something nano or cents> / <power of ten>`. Rates per week
# (`/ weeks`) are estimates over a window, not conversions, and are not money built from integers.
MONEY_WORD = re.compile(r"_n\b|nusd|fusd|amount|usd|cost", re.I)
POWER_OF_TEN_DIVISION = re.compile(r"(?<!/)/\s*(10+|1e\d+|1\.0*e\d+)\b(?!\.)", re.I)


def test_no_query_builds_money_by_dividing_by_a_power_of_ten():
    offenders = []
    for path in sorted(queries_dir().rglob("*.sql")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("--", 1)[0]
            code = code.replace("//", " IDIV ")  # integer division of integer money is exact
            if MONEY_WORD.search(code) and POWER_OF_TEN_DIVISION.search(code):
                offenders.append(f"{path.relative_to(queries_dir())}:{number}: {line.strip()}")
    assert not offenders, "money divided (DOUBLE in DuckDB); multiply by 0.000000001 instead:\n" + "\n".join(offenders)


def test_the_exact_form_keeps_decimal_in_duckdb(store):
    """The form the queries use: its type is DECIMAL, its value exact at $12M."""
    typ, value = store.rows("select typeof(CAST(12345678901234567 AS DECIMAL(38,0)) * 0.000000001), "
                            "CAST(12345678901234567 AS DECIMAL(38,0)) * 0.000000001")[0]
    assert typ.startswith("DECIMAL") and value == Decimal("12345678.901234567")
    assert store.scalar("select typeof(CAST(1 AS DECIMAL(38,0)) / 1000000000)") == "DOUBLE"  # why never `/`
