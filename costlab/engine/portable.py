"""DuckDB SQL to Spark SQL: a pinned sqlglot transpile plus the rewrites costlab owns.

The query files under queries/ stay the one source. A file that must also run on Spark says so in its
header (`-- engines: duckdb, spark`); `to_spark` turns its text into Spark SQL at run time and `lint`
(tests/engine/test_portable_lint.py) keeps every such file inside the subset below.

A plain sqlglot transpile (read='duckdb', write='spark') gets these wrong, silently (measured,
issue 15); each is handled here or refused:

  * `$name` parameters: bound as typed literals (sqlglot literal nodes, so a value is escaped for
    Spark's backslash-escaping string literals; nothing is spliced as text).
  * `::HUGEINT` (INT128 does not parse in Spark): DECIMAL(38,0).
  * `epoch_ms(timestamp)` (sqlglot writes TIMESTAMP_MILLIS, the inverse): UNIX_MILLIS;
    `epoch_ms(integer arithmetic)` stays TIMESTAMP_MILLIS.
  * `epoch(a - b)` (sqlglot writes UNIX_TIMESTAMP of an interval): microseconds apart / 1e6.
  * `LIMIT $n::BIGINT` (Spark's LIMIT must be INT): CAST(n AS INT).
  * DATE - DATE (days in DuckDB, an INTERVAL in Spark): DATEDIFF.
  * costlab's scalar macros (queries/internal/macros.sql): expanded in place.
  * `from_json(j, '<DuckDB JSON structure>')`: the structure as Spark's DDL schema.
  * `round(x[, n])`: -round(-x) below zero, so a negative DOUBLE that rounds to zero stays -0.0 as in DuckDB.
  * `/`: DuckDB's is always floating-point division (DECIMAL / DECIMAL is DOUBLE there, and x / 0 is
    NULL); Spark divides DECIMALs in DECIMAL, cutting the scale, and fails on 0 under ANSI. Written
    as try_divide(CAST(a AS DOUBLE), CAST(b AS DOUBLE)). Money never goes through `/`: it is built as
    CAST(n AS DECIMAL(18,0)) * 0.000000001 (macros.sql does so).
  * Refused (the lint names them; the files that use them are DuckDB-only): table macros and
    `query_table`, `COLUMNS(...)`, `UNION ... BY NAME`, `* EXCLUDE` / `* REPLACE`, the costlab macros
    that read tables (costlab_model).

The Spark session these run in must be UTC, ANSI and allowPrecisionLoss=false (costlab.engine.spark).
This module imports sqlglot only, so the lint runs without Java or pyspark.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from costlab.errors import ConfigError, QueryError
from costlab.store.queries import QueryFile, parse, queries_dir

ENGINES_HEADER = re.compile(r"^--\s*engines:\s*(.+)$", re.MULTILINE)
_MACRO = re.compile(r"create\s+or\s+replace\s+macro\s+(\w+)\s*\(([^)]*)\)\s+as\s+(table\s+)?(.*?);\s*$",
                    re.IGNORECASE | re.DOTALL | re.MULTILINE)
# Integer arithmetic under epoch_ms means "milliseconds to a timestamp"; anything else is a timestamp.
_NUMERIC = (exp.IntDiv, exp.Mul, exp.Add, exp.Sub, exp.Mod)


# Aggregates whose result Spark computes by another definition or algorithm: refused, never approximated.
_APPROXIMATE = {
    "reservoir_quantile": "a sample: the estimates differ",
    "percentile_disc": "DuckDB's quantile_disc: not rewritten",
    "approx_count_distinct": "HyperLogLog variants differ",
}


class NotPortable(QueryError):
    """A query uses a DuckDB construct the Spark rewrite does not handle."""


def engines(q: QueryFile) -> set[str]:
    """The engines a query file's header says it runs on (default: duckdb only)."""
    m = ENGINES_HEADER.search("\n".join(line for line in q.text.splitlines() if line.startswith("--")))
    return {e.strip().lower() for e in m.group(1).split(",")} if m else {"duckdb"}


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...]
    body: exp.Expression | None  # None: a table macro or one that reads tables (not portable)
    table: exp.Expression | None = None  # a table macro's SELECT, when it is inside the portable subset


@cache
def macros() -> dict[str, Macro]:
    """costlab's macros from queries/internal/macros.sql (+ price_rows.sql), parsed once."""
    found: dict[str, Macro] = {}
    for name in ("internal/macros.sql", "internal/price_rows.sql", "views/costed_requests.sql", "internal/tier_ladder.sql"):
        text = (queries_dir() / name).read_text(encoding="utf-8")
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        for m in _MACRO.finditer(text):
            params = tuple(p.strip() for p in m.group(2).split(",") if p.strip())
            body = table = None
            if not m.group(3) and "select" not in m.group(4).lower():
                body = sqlglot.parse_one(m.group(4), read="duckdb")
            elif m.group(3):
                table = _table_body(m.group(4))
            found[m.group(1).lower()] = Macro(m.group(1).lower(), params, body, table)
    return found


def _table_body(text: str) -> exp.Expression | None:
    """A table macro's SELECT when it parses and is itself portable (reads no other table macro)."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    if any(isinstance(n, exp.Star) and (n.args.get("except_") or n.args.get("except") or n.args.get("replace"))
           for n in tree.walk()):
        return None
    if any(isinstance(n, exp.Anonymous) and n.name.lower() in ("columns", "query_table", "query") for n in tree.walk()):
        return None
    if any(isinstance(n, exp.Table) and isinstance(n.this, exp.Anonymous) for n in tree.walk()):
        return None
    return tree


def problems(sql: str) -> list[str]:
    """What in `sql` (DuckDB dialect) the Spark rewrite does not handle; [] when it is portable."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as ex:
        return [f"does not parse: {str(ex).splitlines()[0]}"]
    found: list[str] = []
    if len(trees) != 1:
        found.append(f"{len(trees)} statements (one is portable)")
    known = macros()
    for tree in trees:
        for node in tree.walk():
            if isinstance(node, exp.Union) and node.args.get("by_name"):
                found.append("UNION ... BY NAME")
            elif isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("except")
                                                 or node.args.get("replace") or node.args.get("rename")):
                found.append("* EXCLUDE / * REPLACE")
            elif isinstance(node, (exp.Anonymous, exp.Func)):
                name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
                if name in ("columns",):
                    found.append("COLUMNS(...)")
                elif name in ("query_table", "query"):
                    found.append(f"{name}(...)")
                elif name in ("from_json", "json_transform") and not (
                        isinstance(node, exp.FromJson) and isinstance(node.expression, exp.Literal)):
                    found.append(f"{name}(...) without a literal structure")
                elif name in _APPROXIMATE:
                    found.append(f"{name}(...) ({_APPROXIMATE[name]})")
                elif name.startswith("costlab_") and (name not in known or known[name].body is None) and not (
                        isinstance(node.parent, exp.Table) and known.get(name) and known[name].table is not None):
                    found.append(f"{name}(...) (a table macro, or one that reads tables)")
            elif isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) and not (
                    known.get(node.this.name.lower()) and known[node.this.name.lower()].table is not None):
                found.append(f"table function {node.this.name}(...)")
    return sorted(set(found))


def to_spark(sql: str, params: dict[str, Any] | None = None, name: str = "query") -> str:
    """`sql` (one DuckDB statement, the dialect of queries/) as Spark SQL with `params` bound as literals.

    Raises NotPortable for the constructs `problems` lists, and ConfigError for a `$name` with no value."""
    bad = problems(sql)
    if bad:
        raise NotPortable(f"{name}.sql cannot run on Spark: {'; '.join(bad)}")
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = _expand_macros(tree)
    tree = tree.transform(lambda node: _bind(node, params or {}, name), copy=False)
    # sqlglot's transform does not descend into a node it has just replaced: rewrite to a fixed point
    for _ in range(8):
        before = tree.sql(dialect="spark")
        tree = tree.transform(_rewrite, copy=False)
        if tree.sql(dialect="spark") == before:
            break
    if tree.find(exp.Placeholder):
        raise ConfigError(f"{name}.sql: a parameter was left unbound")
    for comment_holder in tree.walk():
        comment_holder.comments = None  # the header is for people; Spark gets the statement
    return tree.sql(dialect="spark")


# -- the rewrites ------------------------------------------------------------------------------------
def _expand_macros(tree: exp.Expression) -> exp.Expression:
    known = macros()
    for _ in range(10):  # macros call macros (costlab_cost_usd -> costlab_fusd_to_usd): a few rounds
        changed = False

        def expand(node: exp.Expression) -> exp.Expression:
            nonlocal changed
            if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) and node.this.name.lower() in known:
                return _expand_table(node, known[node.this.name.lower()])
            if isinstance(node, exp.Anonymous) and node.name.lower() in known:
                macro = known[node.name.lower()]
                args = node.expressions
                if macro.body is None or len(args) != len(macro.params):
                    raise NotPortable(f"{node.name}(...) with {len(args)} arguments cannot be expanded for Spark")
                binding = dict(zip(macro.params, args))
                changed = True
                body = macro.body.copy().transform(
                    lambda n: exp.Paren(this=binding[n.name].copy())
                    if isinstance(n, exp.Column) and not n.table and n.name in binding else n)
                return exp.Paren(this=body)
            return node

        tree = tree.transform(expand)
        if not changed:
            return tree
    raise NotPortable("macros nest more than 10 deep")


def _expand_table(node: exp.Table, macro: Macro) -> exp.Expression:
    """`FROM costlab_tier_ladder(x) [AS a]` as `FROM (the macro's SELECT, x substituted) AS a`."""
    args = node.this.expressions
    if macro.table is None or len(args) != len(macro.params):
        raise NotPortable(f"{node.this.name}(...) with {len(args)} arguments cannot be expanded for Spark")
    binding = dict(zip(macro.params, args))
    body = macro.table.copy().transform(
        lambda n: exp.Paren(this=binding[n.name].copy())
        if isinstance(n, exp.Column) and not n.table and n.name in binding else n)
    alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(macro.name))
    return exp.Subquery(this=body, alias=alias.copy())


def _bind(node: exp.Expression, params: dict[str, Any], name: str) -> exp.Expression:
    if isinstance(node, exp.Placeholder):
        if not node.name or node.name not in params:
            raise ConfigError(f"{name}.sql needs parameter {node.name or '?'!r}")
        return literal(params[node.name])
    return node


def _rewrite(node: exp.Expression) -> exp.Expression:
    out = _rewrite_analyses(node)
    if out is not node:
        return out
    if isinstance(node, exp.Limit) and isinstance(node.expression, exp.Cast) and not node.expression.to.is_type(exp.DataType.Type.INT):
        # Spark's LIMIT takes an INT expression only (CAST(50 AS BIGINT) is refused)
        node.set("expression", exp.Cast(this=node.expression.this, to=exp.DataType.build("INT")))
        return node
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.INT128, exp.DataType.Type.UINT128):
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.UnixToTime) and _is_ms(node):
        arg = node.this
        if isinstance(arg, _NUMERIC) or (isinstance(arg, exp.Literal) and not arg.is_string) or (
                isinstance(arg, exp.Paren) and isinstance(arg.this, _NUMERIC)):
            return exp.Anonymous(this="TIMESTAMP_MILLIS", expressions=[arg])
        return exp.Anonymous(this="UNIX_MILLIS", expressions=[arg])
    if isinstance(node, exp.TimeToUnix):  # DuckDB epoch(x): seconds, of an interval or a timestamp
        arg = node.this.this if isinstance(node.this, exp.Paren) else node.this
        if isinstance(arg, exp.Sub):
            micros = exp.Sub(this=exp.Anonymous(this="UNIX_MICROS", expressions=[arg.this]),
                             expression=exp.Anonymous(this="UNIX_MICROS", expressions=[arg.expression]))
        else:
            micros = exp.Anonymous(this="UNIX_MICROS", expressions=[arg])
        return exp.Div(this=exp.Cast(this=exp.Paren(this=micros), to=exp.DataType.build("DOUBLE")),
                       expression=exp.Literal.number("1000000.0"))
    if isinstance(node, exp.Div):
        return exp.Anonymous(this="TRY_DIVIDE", expressions=[
            exp.Cast(this=node.this, to=exp.DataType.build("DOUBLE")),
            exp.Cast(this=node.expression, to=exp.DataType.build("DOUBLE")),
        ])
    if isinstance(node, exp.Sub) and _is_date(node.this) and _is_date(node.expression):
        # DuckDB DATE - DATE is a number of days; Spark's is an INTERVAL
        return exp.Anonymous(this="DATEDIFF", expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2:
        # DuckDB timezone(zone, timestamptz): the wall-clock time in zone
        zone, ts = node.expressions
        return exp.Anonymous(this="FROM_UTC_TIMESTAMP", expressions=[ts, zone])
    return node


def _rewrite_analyses(node: exp.Expression) -> exp.Expression:
    """The rewrites the detectors and the report need (issue 15, part 2): a node, rewritten or as it was."""
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # [NOT] MATERIALIZED is a hint DuckDB takes and Spark does not parse
        return node
    if isinstance(node, exp.PercentileCont) and not isinstance(node.parent, exp.WithinGroup) and node.expression:
        # DuckDB quantile_cont(x, p): exact, linear between the two nearest ranks ((n-1)p); Spark's
        # percentile(x, p) is the same definition (sqlglot would write percentile_cont(x, p), which
        # Spark refuses). The interpolation is lo*(1-d) + hi*d there and lo + (hi-lo)*d in DuckDB:
        # the same number to the last bit or two of a DOUBLE.
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    if isinstance(node, exp.ApproxQuantile):
        # DuckDB's approx_quantile is its bound on one machine's memory (a t-digest, past [report]
        # exact_percentiles_max); Spark computes the exact percentile, distributed, so it does
        # (Spark's percentile_approx is another estimator, whose figures would differ from DuckDB's)
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.args["quantile"]])
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression.expressions if isinstance(node.expression, exp.Order) else []
        if len(order) != 1 or order[0].args.get("desc"):
            raise NotPortable("percentile_cont(p) within group (order by x): only one ascending key is rewritten")
        return exp.Anonymous(this="PERCENTILE", expressions=[order[0].this, node.this.this])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2 and any(
            isinstance(n, exp.Anonymous) and n.name.lower() in ("timezone", "from_utc_timestamp")
            for n in node.expressions[1].walk()):
        # timezone(z, <a wall-clock TIMESTAMP, made by an inner timezone(z, ts)>) is the instant that
        # wall-clock time is in z: TO_UTC_TIMESTAMP (the inner one, of a TIMESTAMPTZ, is FROM_UTC_TIMESTAMP)
        zone, ts = node.expressions
        return exp.Anonymous(this="TO_UTC_TIMESTAMP", expressions=[ts, zone])
    if isinstance(node, exp.Format) and isinstance(node.this, exp.Literal) and len(node.expressions) == 1:
        pattern, arg = node.this.this, node.expressions[0]
        if pattern == "{:,}":  # thousands separators, no decimals (used on integers)
            return exp.Anonymous(this="FORMAT_NUMBER", expressions=[arg, exp.Literal.number("0")])
        m = re.fullmatch(r"\{:\.(\d)f\}", pattern)
        if m:  # fixed decimals: Java's %.Nf (HALF_UP on the double's exact value; fmt rounds half-even)
            return exp.Anonymous(this="FORMAT_STRING", expressions=[exp.Literal.string(f"%.{m.group(1)}f"), arg])
        raise NotPortable(f"format({pattern!r}, ...) is not rewritten for Spark")
    if isinstance(node, exp.WindowSpec):
        # Spark takes only a literal as a frame bound (`range between current row and ($w // 10 - 1)
        # following` in DuckDB): the bound parameters make it a constant, folded here
        for key in ("start", "end"):
            bound = node.args.get(key)
            if isinstance(bound, exp.Expression) and not isinstance(bound, exp.Literal):
                value = _constant(bound)
                if value is not None:
                    node.set(key, exp.Literal.number(str(value)))
        return node
    if isinstance(node, exp.Order) and isinstance(node.parent, exp.Select):
        # ORDER BY grouping(tier) where `tier` is also an output alias: Spark resolves the alias (and
        # refuses it as no grouping column); DuckDB the input column. Qualified, both read the input.
        source = node.parent.args.get("from_") or node.parent.args.get("from")
        outputs = {e.alias_or_name for e in node.parent.expressions}
        if source is not None and isinstance(source.this, (exp.Table, exp.Subquery)) and source.this.alias_or_name:
            for g in list(node.find_all(exp.Grouping)):
                for col in g.expressions:
                    if isinstance(col, exp.Column) and not col.table and col.name in outputs:
                        col.set("table", exp.to_identifier(source.this.alias_or_name))
        return node
    if isinstance(node, exp.FromJson) and isinstance(node.expression, exp.Literal) and node.expression.is_string \
            and not node.args.get("spark_schema"):
        # DuckDB from_json(j, '<JSON structure>'), e.g. '[{"input":"VARCHAR","edges":"DOUBLE[]"}]'; Spark's
        # from_json takes a DDL schema ('ARRAY<STRUCT<`input`: STRING, `edges`: ARRAY<DOUBLE>>>')
        node.set("expression", exp.Literal.string(json_structure_ddl(node.expression.this)))
        node.set("spark_schema", True)
        return node
    if isinstance(node, exp.Round) and not node.meta.get("signed"):
        # DuckDB's round keeps the sign of a negative DOUBLE that rounds to zero (-0.0, which prints
        # "-0.0"); Spark's (BigDecimal, HALF_UP) returns 0.0. Both round half away from zero, so
        # round(x) is written as -round(-x) below zero: the same value, and the same sign of zero.
        x, digits = node.this, node.args.get("decimals")

        def signed_round(arg: exp.Expression) -> exp.Round:
            out = exp.Round(this=arg, decimals=digits.copy() if digits is not None else None)
            out.meta["signed"] = True
            return out

        return exp.Case(ifs=[exp.If(this=exp.LT(this=exp.Paren(this=x.copy()), expression=exp.Literal.number(0)),
                                    true=exp.Neg(this=signed_round(exp.Neg(this=exp.Paren(this=x.copy())))))],
                        default=signed_round(x.copy()))
    if isinstance(node, exp.Grouping) and len(node.expressions) > 1:
        # DuckDB grouping(a, b) is the bit vector Spark calls grouping_id(a, b); grouping(a) is the same in both
        return exp.Anonymous(this="GROUPING_ID", expressions=list(node.expressions))
    return node


# DuckDB type names a from_json structure may use, as Spark DDL (anything else is refused)
_JSON_TYPES = {"VARCHAR": "STRING", "DOUBLE": "DOUBLE", "BIGINT": "BIGINT", "INTEGER": "INT", "BOOLEAN": "BOOLEAN",
               "UBIGINT": "DECIMAL(20, 0)", "DATE": "DATE"}


def json_structure_ddl(structure: str) -> str:
    """A DuckDB from_json structure ('[{"a":"VARCHAR","b":"DOUBLE[]"}]': a JSON list is an array, an
    object a struct, a string a type name, `T[]` an array of T) as Spark DDL."""
    def ddl(node: Any) -> str:
        if isinstance(node, list) and len(node) == 1:
            return f"ARRAY<{ddl(node[0])}>"
        if isinstance(node, dict) and node:
            return "STRUCT<" + ", ".join(f"`{k.replace('`', '``')}`: {ddl(v)}" for k, v in node.items()) + ">"
        if isinstance(node, str):
            name = node.strip().upper()
            if name.endswith("[]"):
                return f"ARRAY<{ddl(name[:-2])}>"
            if name in _JSON_TYPES:
                return _JSON_TYPES[name]
        raise NotPortable(f"from_json structure {structure!r}: {node!r} is not rewritten for Spark")

    try:
        return ddl(json.loads(structure))
    except ValueError:
        raise NotPortable(f"from_json structure {structure!r} is not JSON") from None


def _constant(node: exp.Expression) -> int | None:
    """The integer value of integer arithmetic over literals (a frame bound), or None."""
    if isinstance(node, exp.Paren):
        return _constant(node.this)
    if isinstance(node, exp.Literal):
        try:
            return int(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Cast) and node.to.this in exp.DataType.INTEGER_TYPES:
        return _constant(node.this)
    if isinstance(node, (exp.IntDiv, exp.Sub, exp.Add, exp.Mul)):
        a, b = _constant(node.this), _constant(node.expression)
        if a is None or b is None or (isinstance(node, exp.IntDiv) and b == 0):
            return None
        if isinstance(node, exp.IntDiv):
            return a // b if (a >= 0) == (b > 0) else -((-a) // b) if a < 0 else -(a // -b)  # toward zero, as SQL
        return a - b if isinstance(node, exp.Sub) else a + b if isinstance(node, exp.Add) else a * b
    return None


def _is_date(node: exp.Expression) -> bool:
    node = node.this if isinstance(node, exp.Paren) else node
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)


def _is_ms(node: exp.UnixToTime) -> bool:
    scale = node.args.get("scale")
    return scale is not None and scale.name in ("3", "millis", "MILLIS")


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal node (strings escaped by sqlglot for the target dialect)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    if isinstance(value, Decimal):
        return exp.Cast(this=exp.Literal.string(str(value)), to=exp.DataType.build(_decimal_type(value)))
    if isinstance(value, float):
        return exp.Cast(this=exp.Literal.string(repr(value)), to=exp.DataType.build("DOUBLE"))
    if isinstance(value, datetime):
        ts = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return exp.Cast(this=exp.Literal.string(ts.astimezone(timezone.utc).isoformat()),
                        to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, (str, Path)):
        return exp.Literal.string(str(value))
    raise ConfigError(f"cannot bind a {type(value).__name__} as a Spark SQL literal")


def _decimal_type(value: Decimal) -> str:
    sign, digits, exponent = value.as_tuple()
    scale = max(0, -int(exponent))
    return f"DECIMAL({max(len(digits), scale + 1)}, {scale})"


def lint(root: Path | None = None) -> dict[str, list[str]]:
    """{query name: problems} for every query file whose header names spark ([] when all are portable)."""
    root = root or queries_dir()
    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.sql")):
        q = parse(path, str(path.relative_to(root).with_suffix("")))
        if "spark" in engines(q):
            out[q.name] = problems(q.text)
    return out
