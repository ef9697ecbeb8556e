"""The portability lint: every query file whose header says `-- engines: duckdb, spark` stays inside
the subset costlab.engine.portable rewrites; the pitfalls of a plain sqlglot transpile are handled or
refused (no Spark needed: this is sqlglot alone)."""

from __future__ import annotations

import pytest

from costlab.engine import portable
from costlab.errors import ConfigError
from costlab.store.queries import load, queries_dir


def test_every_query_marked_for_spark_is_inside_the_portable_subset():
    found = portable.lint()
    assert found, "no query file says `-- engines: duckdb, spark`"
    assert {name: bad for name, bad in found.items() if bad} == {}


def test_the_summary_queries_are_marked_for_spark():
    for name in ("cost_by_tier_model_day", "cost_by_feature"):
        assert "spark" in portable.engines(load(name))


@pytest.mark.parametrize("sql, problem", [
    ("select * from a union all by name select * from b", "UNION ... BY NAME"),
    ("select * exclude (x) from t", "* EXCLUDE / * REPLACE"),
    ("select columns(c -> c like 'cost%') from t", "COLUMNS(...)"),
    ("select * from query_table('t')", "query_table(...)"),
    ("select * from costlab_price_rows('requests')", "costlab_price_rows(...) (a table macro, or one that reads tables)"),
    ("select costlab_model(model) from t", "costlab_model(...) (a table macro, or one that reads tables)"),
])
def test_the_lint_refuses_what_the_rewrite_does_not_handle(sql, problem):
    assert problem in " ".join(portable.problems(sql))
    with pytest.raises(portable.NotPortable):
        portable.to_spark(sql)


def test_a_query_file_that_is_not_portable_is_caught_by_the_lint(tmp_path):
    (tmp_path / "bad.sql").write_text("-- bad: x\n-- engines: duckdb, spark\n-- params: none\n"
                                      "select * exclude (ts) from costed_requests\n")
    (tmp_path / "duck_only.sql").write_text("-- fine: x\n-- params: none\nselect * exclude (ts) from costed_requests\n")
    assert portable.lint(tmp_path) == {"bad": ["* EXCLUDE / * REPLACE"]}


def test_hugeint_becomes_decimal_38_0():
    assert "DECIMAL(38, 0)" in portable.to_spark("select x::HUGEINT from t")
    assert "INT128" not in portable.to_spark("select x::HUGEINT from t")


def test_epoch_ms_of_a_timestamp_is_unix_millis_and_of_integers_a_timestamp():
    out = portable.to_spark("select epoch_ms(ts) // 60000, epoch_ms(packed // 64) from t")
    assert "UNIX_MILLIS(ts) DIV 60000" in out and "TIMESTAMP_MILLIS(packed DIV 64)" in out


def test_epoch_of_an_interval_is_seconds_between_the_two_timestamps():
    out = portable.to_spark("select epoch(until - since) from w")
    assert "UNIX_MICROS(until) - UNIX_MICROS(since)" in out and "UNIX_TIMESTAMP" not in out


def test_division_is_floating_point_as_in_duckdb_and_null_on_zero():
    assert portable.to_spark("select a / b from t") == "SELECT TRY_DIVIDE(CAST(a AS DOUBLE), CAST(b AS DOUBLE)) FROM t"


def test_macros_expand_to_integer_nano_money_never_a_division():
    out = portable.to_spark("select costlab_fusd_to_usd(f) from t")
    assert "costlab" not in out.lower()
    assert "* 0.000000001" in out and "TRY_DIVIDE" not in out and "DOUBLE" not in out


def test_parameters_are_bound_as_escaped_literals_never_spliced():
    out = portable.to_spark("select * from t where u = $u", {"u": "a' or '1'='1"})
    assert out == "SELECT * FROM t WHERE u = 'a\\' or \\'1\\'=\\'1'"
    with pytest.raises(ConfigError, match="needs parameter 'u'"):
        portable.to_spark("select * from t where u = $u", {})


def test_limit_parameters_are_int_for_spark():
    assert portable.to_spark("select * from t limit $n::BIGINT", {"n": "50"}).endswith("LIMIT CAST('50' AS INT)")


# -- the rewrites the detectors and the report need (issue 15, part 2) --------------------------------
def test_a_portable_table_macro_is_expanded_to_its_select_with_the_argument():
    out = portable.to_spark("select tier, rnk from costlab_tier_ladder($t::VARCHAR) order by rnk", {"t": "haiku=h1"})
    assert "costlab_tier_ladder(" not in out.lower() and "AS costlab_tier_ladder" in out
    assert "'haiku=h1'" in out and "FROM models" in out and "FROM price_card" in out


def test_quantiles_and_medians_are_spark_exact_percentiles_never_an_estimate():
    assert portable.to_spark("select quantile_cont(x, 0.9) filter (where ok) from t") == \
        "SELECT PERCENTILE(x, 0.9) FILTER(WHERE ok) FROM t"
    out = portable.to_spark("select quantile_cont(x, [0.5, 0.95]) as q from t")
    assert out == "SELECT PERCENTILE(x, ARRAY(0.5, 0.95)) AS q FROM t"
    assert portable.to_spark("select percentile_cont(0.5) within group (order by x) from t") == "SELECT PERCENTILE(x, 0.5) FROM t"
    assert "PERCENTILE_APPROX" not in portable.to_spark("select approx_quantile(x, [0.5]) from t")
    assert "percentile_disc(...)" in " ".join(portable.problems("select quantile_disc(x, 0.5) from t"))


def test_duckdb_format_patterns_become_spark_formatting_functions():
    assert portable.to_spark("select format('{:,}', n), format('{:.1f}', x) from t") == \
        "SELECT FORMAT_NUMBER(n, 0), FORMAT_STRING('%.1f', x) FROM t"
    with pytest.raises(portable.NotPortable, match="format"):
        portable.to_spark("select format('{:>8}', n) from t")


def test_a_local_midnight_goes_back_to_an_instant_with_to_utc_timestamp():
    out = portable.to_spark("select timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, ts))) from t",
                            {"tz": "Europe/Berlin"})
    assert out.startswith("SELECT TO_UTC_TIMESTAMP(DATE_TRUNC('DAY', FROM_UTC_TIMESTAMP(ts, ")


def test_a_window_frame_bound_from_parameters_is_folded_to_a_literal():
    out = portable.to_spark("select sum(n) over (order by m range between current row and ($w::BIGINT // 10 - 1) following) from t",
                            {"w": 60})
    assert "AND 5 FOLLOWING" in out.upper()


def test_grouping_is_read_from_the_input_where_an_output_alias_shares_its_name():
    out = portable.to_spark("select case when grouping(tier) = 1 then '(all)' else tier end as tier from c "
                            "group by grouping sets ((tier), ()) order by grouping(tier) desc, tier")
    assert "ORDER BY GROUPING(c.tier) DESC" in out
    assert "GROUPING_ID(a, b)" in portable.to_spark("select grouping(a, b) from t group by cube (a, b)")


def test_a_materialization_hint_is_dropped_for_spark():
    assert "MATERIALIZED" not in portable.to_spark("with w as not materialized (select 1 as x) select x from w")


def test_the_detectors_and_the_report_queries_are_marked_for_spark():
    marked = set(portable.lint())
    assert {f"report/{n}" for n in ("activity", "batch_savings", "cube", "daily", "headline", "latency",
                                    "latency_measured", "spend_by_customer")} <= marked
    signals = {n for n in marked if n.startswith("signals/")}
    assert signals == {f"signals/{p.stem}" for p in queries_dir().joinpath("signals").glob("*.sql")}
    assert len(signals) == 15


def test_a_duckdb_json_structure_becomes_sparks_ddl_schema():
    out = portable.to_spark("""select unnest(from_json($j, '[{"input":"VARCHAR","k":"BIGINT","edges":"DOUBLE[]","on":"BOOLEAN"}]')) as r""",
                            {"j": "[]"})
    assert "FROM_JSON(" in out and "EXPLODE(" in out
    assert "'ARRAY<STRUCT<`input`: STRING, `k`: BIGINT, `edges`: ARRAY<DOUBLE>, `on`: BOOLEAN>>'" in out
    assert "VARCHAR" not in out


@pytest.mark.parametrize("sql", ["select from_json(j, s) from t", """select from_json(j, '{"a":"MAP(VARCHAR, INTEGER)"}') from t"""])
def test_a_json_structure_that_is_not_a_literal_or_not_rewritten_is_refused(sql):
    with pytest.raises(portable.NotPortable):
        portable.to_spark(sql)


def test_round_keeps_the_sign_of_a_negative_number_that_rounds_to_zero():
    # DuckDB: round(-0.0001) is -0.0 (printed "-0.0"); Spark's round gives 0.0: written as -round(-x) below zero
    out = portable.to_spark("select round(x - 1) as a, round(y, 2) as b from t")
    assert "CASE WHEN (x - 1) < 0 THEN -ROUND(-(x - 1)) ELSE ROUND(x - 1) END AS a" in out
    assert "CASE WHEN (y) < 0 THEN -ROUND(-(y), 2) ELSE ROUND(y, 2) END AS b" in out
