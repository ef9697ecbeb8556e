"""Logs are untrusted: nothing a file (its column names, keys and values), a file name, an S3 key or
a flag says ever runs as SQL. Column names are quoted by costlab/sqlquote.py; every Store query is
one statement; mapping expressions and --filter are one expression. Checked with the two payloads
that worked before (a column name that copied a file into attributes, one that ran COPY ... TO),
through every adapter that reads column names or keys, then fuzzed with hypothesis: each ingest
succeeds or fails with a costlab error (never a syntax error), no canary file is written, no canary
secret reaches the store, and no file appears outside the store.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from costlab.config import Config
from costlab.errors import ConfigError, CostlabError, InputError, QueryError
from costlab.ingest import ingest_paths
from costlab.store.sqlquote import expression, file_literal, ident, literal, one_statement, statement_count
from costlab.open import open_store
from costlab.store import Store

from helpers import ROOT

SECRET_MARK = "costlab-canary-secret-5be1"
MAPPING = {"format": "csv", "columns": {"request_id": "rid", "ts": "ts", "model": "mdl",
                                       "input_tokens": "inp", "output_tokens": "outp"}}
CONFIG = Config(mappings={"fz": MAPPING, "fzp": {**MAPPING, "format": "parquet"},
                          "fzj": {**MAPPING, "format": "jsonl"}})


def reproduced(canary: Path) -> dict[str, str]:
    """The column names that worked before (issue 12), spliced into the canonical and mapping SELECTs:
    one copies a secret file into `attributes` (it needs a column `a` beside it); the others close the
    statement and run COPY ... TO, shaped for the fast path (wrapped in one more SELECT) and the exact one."""
    secret, out = canary / "secret.txt", canary / "pwned"
    tail = "a\")) as _attrs, NULL as _request_json, NULL as _response_text from src) a) a) a; copy (select 42 as x) to"
    return {
        "read_text": f"a\", 'x', (select left(content,60) from read_text('{secret}')), 'k', \"a",
        "copy_fast": f"{tail} '{out}-fast.csv'; select * from (select * from (select json_object('x', json_object('y', \"a",
        "copy_exact": f"{tail} '{out}-exact.csv'; select * from (select json_object('x', json_object('y', \"a",
    }


def payloads(canary: Path) -> list[str]:
    """Column names that, spliced into SQL unquoted, read a secret file or run a second statement
    (COPY ... TO, CREATE TABLE), with every number of closing parentheses the adapters' SELECTs need."""
    secret, out = canary / "secret.txt", canary / "pwned"
    names = list(reproduced(canary).values())
    for k in range(7):
        names.append(f"a\"{')' * k}; copy (select 42 as x) to '{out}-{k + 1}.csv'; select 1 as \"a")
        names.append(f"a\"{')' * k}; create table pwned_{k} as select 1; --")
    names.append(f"x' || (select content from read_text('{secret}')) || '")
    return names


def canary_clean(canary: Path) -> list[str]:
    """What the injection wrote: files in the canary folder besides the secret."""
    return sorted(p.name for p in canary.iterdir() if p.name != "secret.txt")


def store_leaks(store: Store) -> list[str]:
    """Tables an injected CREATE made, and places the canary secret reached."""
    found = [t for (t,) in store.rows("select table_name from duckdb_tables() where table_name like 'pwned%'")]
    for table, column in (("requests", "attributes"), ("requests", "feature"), ("rejects", "raw"),
                          ("rejects", "reason"), ("payloads", "request_json"), ("ingests", "file")):
        n = store.scalar(f"select count(*) from {table} where contains({column}::VARCHAR, ?)", [SECRET_MARK])
        if n:
            found.append(f"{table}.{column}")
    return found


def no_raw_sql_errors(summary) -> None:
    """No error of a syntax that a name broke, nor a second statement that reached Store's guard."""
    for f in summary.files:
        text = f.error or ""
        assert "Parser Error" not in text and "syntax error" not in text, text
        assert "statements where costlab builds one" not in text, text


# -- file builders: each writes one file with the given extra column names (or keys) -----------------------
BASE = {"request_id": "r1", "ts": "2026-11-16T09:00:00Z", "model": "claude-sonnet-5-5", "input_tokens": "10",
        "output_tokens": "20"}
MAPPED = {"rid": "r1", "ts": "2026-11-16T09:00:00Z", "mdl": "claude-sonnet-5-5", "inp": "10", "outp": "20"}
LITELLM = {"request_id": "chatcmpl-1", "spend": "0.01", "prompt_tokens": "10", "completion_tokens": "20",
           "startTime": "2026-11-16 09:00:00", "endTime": "2026-11-16 09:00:01", "model": "claude-sonnet-5-5"}
LANGFUSE = {"id": "obs-1", "type": "GENERATION", "start_time": "2026-11-16T09:00:00Z", "model": "claude-sonnet-5-5",
            "usage_details": '{"input": 10, "output": 20}'}


def _csv(path: Path, base: dict, names: list[str], values: list[str]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*base, *names])
    w.writerow([*base.values(), *values])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _jsonl(path: Path, base: dict, names: list[str], values: list[str]) -> None:
    path.write_text(json.dumps({**dict(zip(names, values)), **base}) + "\n", encoding="utf-8")


def _parquet(path: Path, base: dict, names: list[str], values: list[str]) -> None:
    cols = [*base, *names]
    pq.write_table(pa.Table.from_arrays([pa.array([v]) for v in [*base.values(), *values]], names=cols), path)


def _otel(path: Path, names: list[str], values: list[str]) -> None:
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in zip(names, values)] + [
        {"key": "gen_ai.response.model", "value": {"stringValue": "claude-sonnet-5-5"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "10"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "20"}}]
    span = {"traceId": "t1", "spanId": "s1", "name": "chat", "startTimeUnixNano": "1794819600000000000",
            "endTimeUnixNano": "1794819600900000000", "attributes": attrs}
    line = {"resourceSpans": [{"resource": {"attributes": attrs[:2]}, "scopeSpans": [{"scope": {"name": "x"}, "spans": [span]}]}]}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")


def _bedrock(path: Path, names: list[str], values: list[str]) -> None:
    rec = {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-16T09:00:00Z",
           "region": "us-east-1", "requestId": "b1", "operation": "InvokeModel",
           "modelId": "anthropic.claude-sonnet-5-5", "input": {"inputTokenCount": 10},
           "output": {"outputTokenCount": 20}, "requestMetadata": dict(zip(names, values))}
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")


# name -> (file suffix, --format, writer(path, names, values))
ADAPTERS = {
    "canonical-csv": (".csv", "canonical", lambda p, n, v: _csv(p, BASE, n, v)),
    "canonical-jsonl": (".jsonl", "canonical", lambda p, n, v: _jsonl(p, BASE, n, v)),
    "canonical-parquet": (".parquet", "canonical", lambda p, n, v: _parquet(p, BASE, n, v)),
    "mapping-csv": (".csv", "mapping:fz", lambda p, n, v: _csv(p, MAPPED, n, v)),
    "mapping-parquet": (".parquet", "mapping:fzp", lambda p, n, v: _parquet(p, MAPPED, n, v)),
    "mapping-jsonl": (".jsonl", "mapping:fzj", lambda p, n, v: _jsonl(p, MAPPED, n, v)),
    "litellm-csv": (".csv", "litellm", lambda p, n, v: _csv(p, LITELLM, n, v)),
    "litellm-jsonl": (".jsonl", "litellm", lambda p, n, v: _jsonl(p, LITELLM, n, v)),
    "langfuse-csv": (".csv", "langfuse", lambda p, n, v: _csv(p, LANGFUSE, n, v)),
    "langfuse-jsonl": (".jsonl", "langfuse", lambda p, n, v: _jsonl(p, {**LANGFUSE, "usage_details": {"input": 10, "output": 20}}, n, v)),
    "langfuse-parquet": (".parquet", "langfuse", lambda p, n, v: _parquet(p, LANGFUSE, n, v)),
    "otel": (".jsonl", "otel", _otel),
    "bedrock": (".jsonl", "bedrock", _bedrock),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One store for the module (opening one costs ~1 s), a canary folder with a secret file, and a
    folder for inputs. Nothing may appear anywhere else under the root."""
    root = tmp_path_factory.mktemp("inject")
    canary, inputs = root / "canary", root / "in"
    canary.mkdir()
    inputs.mkdir()
    (canary / "secret.txt").write_text(SECRET_MARK + "\n")
    store = open_store(root / "store" / "s.duckdb", CONFIG)
    yield root, canary, inputs, store
    store.close()


def files_outside(root: Path, inputs: Path) -> list[str]:
    """Files under `root` that are neither the store's own files, nor inputs, nor the canary secret."""
    out = []
    for p in root.rglob("*"):
        if p.is_dir() or p.is_relative_to(inputs) or p.is_relative_to(root / "store") or p.name == "secret.txt":
            continue
        out.append(str(p.relative_to(root)))
    return out


_counter = iter(range(10**9))


def ingest_one(lab, adapter: str, names: list[str], values: list[str]):
    root, canary, inputs, store = lab
    suffix, fmt, write = ADAPTERS[adapter]
    path = inputs / f"f{next(_counter)}{suffix}"
    write(path, names, values)
    try:
        summary = ingest_paths(store, [str(path)], fmt=fmt)
    except ConfigError:  # an adapter that needs a column a duplicate name displaced: about the flags, not SQL
        summary = None
    if summary:
        no_raw_sql_errors(summary)
    assert canary_clean(canary) == []
    assert store_leaks(store) == []
    assert files_outside(root, inputs) == []
    return summary


# -- the payloads that worked before -----------------------------------------------------------------------
@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_column_names_that_were_sql_run_as_names_through_every_adapter(lab, adapter):
    _, canary, _, store = lab
    names = payloads(canary)
    summary = ingest_one(lab, adapter, names, [f"v{i}" for i in range(len(names))])
    assert summary is not None and not summary.failed, [f.error for f in summary.files]
    assert summary.files[0].rows_added + summary.files[0].rows_present == 1


@pytest.mark.parametrize("payload", ["read_text", "copy_fast", "copy_exact"])
@pytest.mark.parametrize("adapter", ["canonical-csv", "canonical-parquet", "mapping-csv", "mapping-parquet"])
def test_the_reproduced_payloads_neither_read_nor_write_a_file(lab, adapter, payload):
    name = reproduced(lab[1])[payload]
    summary = ingest_one(lab, adapter, ["a", name], ["plain", "theirs"])
    assert [f.error for f in summary.files] == [None]


def test_a_payload_column_name_is_kept_as_written_with_its_value(new_store, tmp_path):
    name = payloads(tmp_path)[0]
    _csv(tmp_path / "k.csv", {**BASE, "request_id": "keep-1"}, ["a", name], ["plain", "theirs"])
    store = new_store(tmp_path / "k.duckdb")
    assert not ingest_paths(store, [str(tmp_path / "k.csv")]).failed
    extra = json.loads(store.scalar("select attributes from requests where request_id = 'keep-1'"))["extra"]
    assert extra == {"a": "plain", name: "theirs"}
    store.close()


def test_an_s3_object_with_payload_column_names_and_key_runs_nothing(lab, bucket, s3_endpoint):
    root, canary, inputs, store = lab
    s3, name = bucket
    endpoint = s3_endpoint
    buf = io.StringIO()
    names = payloads(canary)
    csv.writer(buf).writerows([[*BASE, *names], [*BASE.values(), *(f"v{i}" for i in range(len(names)))]])
    key = f"logs/x'; copy (select 1) to '{canary}/key.csv'; --[1]*?.csv"
    s3.put_object(Bucket=name, Key=key, Body=buf.getvalue().encode())
    summary = ingest_paths(store, [f"s3://{name}/logs/"], fmt="canonical", endpoint_url=endpoint)
    assert [(f.file, f.error, f.rows_read) for f in summary.files] == [(f"s3://{name}/{key}", None, 1)]
    assert canary_clean(canary) == [] and store_leaks(store) == [] and files_outside(root, inputs) == []
    assert store.scalar("select key from s3_objects where bucket = ?", [name]) == key


# -- fuzz: random column names, keys and values through every adapter --------------------------------------
SPECIAL = ['"', "'", ";", "\\", "\n", "\r\n", "\t", " ", "--", "/*", "*/", "$$", "$1", "?", ":x", "%s", "{}", "[",
           "]", "*", "(", ")", ",", "select", "SELECT * FROM requests", "drop table requests", "'; --", '"; --',
           "é", "名前", "😀", "\u202e", "\x1b[31m", "_line", "ts", "attributes", "MODEL", "e'\\''"]
PAYLOAD_TEMPLATES = payloads(Path("{CANARY}"))
piece = st.one_of(st.sampled_from(SPECIAL), st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8))
names_st = st.lists(st.one_of(st.sampled_from(PAYLOAD_TEMPLATES), st.lists(piece, min_size=1, max_size=4).map("".join)),
                    min_size=1, max_size=4, unique_by=str.lower)
values_st = st.lists(st.one_of(st.sampled_from(SPECIAL + PAYLOAD_TEMPLATES), st.text(max_size=12)), min_size=4, max_size=4)
# A few examples per adapter in `make test`; COSTLAB_FUZZ_EXAMPLES=500 for a long hunt.
FUZZ = settings(max_examples=int(os.environ.get("COSTLAB_FUZZ_EXAMPLES", "6")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@FUZZ
@given(names=names_st, values=values_st)
def test_fuzzed_column_names_keys_and_values_never_run_as_sql(lab, adapter, names, values):
    canary = lab[1]
    names = [n.replace("{CANARY}", str(canary)) for n in names]
    values = [v.replace("{CANARY}", str(canary)) for v in values][: len(names)]
    values += [""] * (len(names) - len(values))
    if adapter.endswith("parquet") or adapter.startswith(("otel", "bedrock")) or adapter.endswith("jsonl"):
        names = [n.replace("\x00", "") or "x" for n in names]  # pyarrow / JSON keys: no NUL
    ingest_one(lab, adapter, names, values)


@FUZZ
@given(key=st.lists(piece, min_size=1, max_size=5).map(lambda ps: "".join(c for c in "".join(ps) if c.isprintable()) or "k"),
       names=names_st)
def test_fuzzed_s3_keys_and_column_names_never_run_as_sql(lab, bucket, s3_endpoint, key, names):
    root, canary, inputs, store = lab
    s3, name = bucket
    endpoint = s3_endpoint
    names = [n.replace("{CANARY}", str(canary)) for n in names]
    key = "k/" + key.replace("{CANARY}", str(canary)) + ".csv"
    buf = io.StringIO()
    csv.writer(buf).writerows([[*BASE, *names], [*BASE.values(), *(["v"] * len(names))]])
    s3.put_object(Bucket=name, Key=key, Body=buf.getvalue().encode())
    try:
        summary = ingest_paths(store, [f"s3://{name}/k/"], fmt="canonical", endpoint_url=endpoint)
    except CostlabError:
        summary = None
    if summary:
        no_raw_sql_errors(summary)
    s3.delete_object(Bucket=name, Key=key)
    assert canary_clean(canary) == [] and store_leaks(store) == [] and files_outside(root, inputs) == []


# -- the quoting helpers, and the walls behind them ----------------------------------------------------------
_CON = duckdb.connect()


@settings(deadline=None)
@given(st.text())
def test_ident_and_literal_round_trip_any_text(text):
    con = _CON
    assert con.execute(f"select {literal(text)}").fetchone()[0] == text
    if text:
        assert con.execute(f"select 1 as {ident(text)}").description[0][0] == text


def test_an_empty_column_name_is_an_input_error_not_a_syntax_error():
    with pytest.raises(InputError):
        ident("")


@settings(deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["select 1", ";", "'a;b'", '"x;y"', "-- ;\n", "/* ; */", "$$;$$", " ", "\n",
                                           "select ';'", "e'\\';'", '"名前"', "'é;'", "😀"]), st.text(max_size=5)),
                       max_size=8).map("".join))
@example('select "名前", "a;b"')  # the tokenizer's positions are UTF-8 byte offsets
@example("select '😀😀'; select 1")
def test_the_statement_count_of_the_store_guard_is_the_parsers(query):
    from costlab.store.sqlquote import _statements

    try:
        expected = statement_count(query)
    except duckdb.Error:
        return  # the parser refuses it: nothing of it runs either way
    assert _statements(query) == expected


def test_every_store_query_method_refuses_two_statements(new_store, lab, tmp_path):
    store = new_store(tmp_path / "one.duckdb")
    two = f"select 1; copy (select 1) to {literal(tmp_path / 'pwned.csv')}"
    for call in (store.execute, store.rows, store.scalar, store.frame, store.columns,
                 lambda q: list(store.arrow_batches(q))):
        with pytest.raises(QueryError, match="2 statements"):
            call(two)
    assert not (tmp_path / "pwned.csv").exists()
    store.execute_script("create temp table a as select 1; create temp table b as select 2")  # our own constant SQL
    assert store.scalar("select count(*) from b") == 1
    store.close()


@pytest.mark.parametrize("expr, ok", [
    ("coalesce(\"A\", b) + 1", True), ("'a;b' || x", True), ("(select max(x) from t)", True), ("x -- note", True),
    ("x; drop table requests", False), ("1) as x, (2", False), ("1); copy (select 1) to 'x'; select (1", False),
    ("*", False), ("x) from t where (1", False), ("", False),
])
def test_a_user_expression_is_one_expression_never_a_statement(expr, ok):
    if ok:
        assert expression(expr, "here").startswith("(")
    else:
        with pytest.raises(ConfigError, match="^here: "):
            expression(expr, "here")


def test_a_mapping_expression_that_is_a_statement_is_a_config_error_naming_mapping_and_column(tmp_path):
    canary = tmp_path / "pwned.csv"
    bad = {"format": "csv", "columns": {**MAPPING["columns"], "feature": f"1); copy (select 1) to '{canary}'; select (1"}}
    (tmp_path / "t.csv").write_text("rid,ts,mdl,inp,outp\nr1,2026-11-16T09:00:00Z,claude-sonnet-5-5,1,2\n")
    store = open_store(tmp_path / "m.duckdb", Config(mappings={"bad": bad}))
    with pytest.raises(ConfigError, match=r"\[mappings.bad.columns\] feature: .*one expression"):
        ingest_paths(store, [str(tmp_path / "t.csv")], fmt="mapping:bad")
    assert not canary.exists()
    store.close()


def test_file_literal_reads_exactly_the_named_file_whatever_its_name(tmp_path):
    con = duckdb.connect()
    for name, decoys in (("a*.csv", ["ab.csv"]), ("q?.csv", ["qx.csv"]), ("e[1].csv", ["e1.csv"]), ("~h.csv", []),
                         ("it's.csv", []), ("back\\slash*.csv", ["back\\slashx.csv"])):
        for i, n in enumerate([name, *decoys]):
            (tmp_path / n).write_text(f"v\n{i}\n")
        assert con.execute(f"select v from read_csv({file_literal(tmp_path / name)})").fetchall() == [(0,)], name


# -- no SQL from input anywhere: the patterns that let it in are gone from the code --------------------------
def _sources():
    for path in sorted((ROOT / "costlab").rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


# Formatted values between quotes in SQL that are constants of costlab's own (schema.py), kept as they are.
_QUOTED_CONSTANTS = {("costlab/ingest/canonical.py", "_WHOLE"), ("costlab/ingest/canonical.py", "v")}


def test_no_f_string_puts_a_value_between_sql_quotes():
    """`'{x}'` and `"{x}"` were the injection: text went into SQL with its quotes unescaped. Every
    such value goes through sqlquote.literal / ident now (HTML attributes in report/formats/html.py aside)."""
    found = []
    for path, tree in _sources():
        rel = str(path.relative_to(ROOT))
        if rel == "costlab/report/formats/html.py":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            vals = node.values
            for i, v in enumerate(vals):
                if not isinstance(v, ast.FormattedValue):
                    continue
                before = vals[i - 1].value if i and isinstance(vals[i - 1], ast.Constant) else ""
                after = vals[i + 1].value if i + 1 < len(vals) and isinstance(vals[i + 1], ast.Constant) else ""
                expr = ast.unparse(v.value)
                if any(before.endswith(q) and after.startswith(q) for q in "'\"") and (rel, expr) not in _QUOTED_CONSTANTS:
                    found.append(f"{rel}:{node.lineno}: {expr}")
    assert found == []


def test_several_statements_run_only_from_constant_sql():
    """execute_script (several statements) only ever gets a string constant, a module constant or a
    query file's text; the raw connection is used only through one_statement outside store.py."""
    found = []
    for path, tree in _sources():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            arg = node.args[0]
            if node.func.attr == "execute_script":
                constant = (isinstance(arg, ast.Constant) or (isinstance(arg, ast.Name) and arg.id.isupper())
                            or (isinstance(arg, ast.Attribute) and arg.attr == "text"))
                if not constant:
                    found.append(f"{rel}:{node.lineno}: execute_script({ast.unparse(arg)})")
            elif (node.func.attr in ("execute", "sql") and isinstance(node.func.value, ast.Attribute)
                  and node.func.value.attr == "con" and not rel.startswith("costlab/store/")):
                guarded = isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "one_statement"
                if not (guarded or isinstance(arg, ast.Constant)):
                    found.append(f"{rel}:{node.lineno}: con.{node.func.attr}({ast.unparse(arg)[:60]})")
    assert found == []
