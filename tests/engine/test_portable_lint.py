"""The portability lint: every query file whose header says `-- engines: duckdb, spark` stays inside
the subset costlab.engine.portable rewrites; the pitfalls of a plain sqlglot transpile are handled or
refused (no Spark needed: this is sqlglot alone)."""

from __future__ import annotations

import pytest

from costlab.engine import portable
from costlab.errors import ConfigError
from costlab.store.queries import load


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
