"""The one place where text from outside costlab becomes part of a SQL string.

Outside text is anything a log file (its column names and values), a file name, an S3 key,
costlab.toml or a command-line flag can set. The rules, for every module that builds SQL:

* A value is bound as a parameter ($name or ?) wherever DuckDB takes one.
* Where it takes none (a column name, a JSON path or a file name inside a reader call, SET, the
  text of a view), the text goes through `ident` (an identifier) or `literal` (a string), never
  into an f-string as it stands; a file a reader must read goes through `file_literal`.
* A query built from outside text runs as exactly one statement: `one_statement`, which every
  Store query method applies (Store.execute_script, for costlab's own constant SQL, is the only
  way to run several statements in one call).
* SQL the user writes on purpose (a [mappings.NAME.columns] expression, --filter) is the user's
  own code, like `costlab sql`; `expression` keeps it to one expression, never a statement.

docs/security.md says which test holds each rule.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import duckdb

from costlab.errors import ConfigError, InputError, QueryError

_GLOB = {"[": "[[]", "*": "[*]", "?": "[?]"}


def ident(name: str) -> str:
    """A double-quoted identifier: any text (quotes, semicolons, newlines) names exactly that column.
    SQL has no empty identifier (DuckDB's readers name an empty header C0, column0, ...)."""
    if not str(name):
        raise InputError("a column with an empty name cannot be named in SQL")
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """A single-quoted string literal. DuckDB's standard strings have no backslash escapes, so
    doubling the single quotes is the whole of it."""
    return "'" + str(text).replace("'", "''") + "'"


def file_literal(path: str | os.PathLike) -> str:
    """The literal that makes DuckDB's readers (read_csv, read_json, read_parquet, ...) read exactly
    this local file.

    Those readers treat their argument as a glob (`a*.jsonl` reads every match, `x[1]/f.csv` reads
    `x1/f.csv`) and expand a leading `~`. The path is made absolute (no `~`, no `scheme://`) and
    every glob character is put in a one-character class ([[], [*], [?]), which matches only that
    character, so the pattern matches the one file it names. DuckDB's globbing cannot match a
    backslash in a name: such a path with glob characters is read through a symbolic link with a
    plain name instead (in a private folder removed at exit).
    """
    text = os.path.abspath(os.fspath(path))
    if any(ch in text for ch in _GLOB):
        if "\\" in text:
            text = _plain_alias(text)
        if any(ch in text for ch in _GLOB):
            text = "".join(_GLOB.get(ch, ch) for ch in text)
    return literal(text)


def glob_literal(root: str | os.PathLike, pattern: str) -> str:
    """The literal for DuckDB's globbing readers that matches `pattern` (costlab's own constant glob,
    such as 'requests/day=*/*.parquet') under the local folder `root`, whose own glob characters and
    quotes are matched literally (as file_literal does for a file)."""
    return file_literal(root)[:-1] + "/" + pattern.replace("'", "''") + "'"


_aliases: dict[str, str] = {}
_alias_dir: str | None = None
_alias_lock = threading.Lock()


def _plain_alias(target: str) -> str:
    """A symbolic link to `target` whose name has no glob character or backslash (the suffixes kept,
    for readers that look at them: .gz, .parquet), one per target for the process."""
    with _alias_lock:
        if target in _aliases and os.path.realpath(_aliases[target]) == os.path.realpath(target):
            return _aliases[target]
        global _alias_dir
        if _alias_dir is None:
            _alias_dir = tempfile.mkdtemp(prefix="costlab-read-")
            atexit.register(shutil.rmtree, _alias_dir, True)
        suffix = "".join(s for s in Path(target).suffixes if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", s))
        link = os.path.join(_alias_dir, f"f{len(_aliases)}{suffix}")
        os.symlink(target, link)
        _aliases[target] = link
        return link


def statement_count(query: str) -> int:
    """How many statements DuckDB's parser finds in `query` (a syntax error raises duckdb.ParserException)."""
    return len(duckdb.extract_statements(query))


def _tokens(query: str):
    """(kind, text) of each token of `query` but comments, by DuckDB's own tokenizer (the parser's
    scanner: strings, quoted names, dollar quotes and comments are single tokens), text stripped.
    The tokenizer's positions are offsets in the UTF-8 bytes, not in the Python string."""
    data = query.encode("utf-8")
    tokens = duckdb.tokenize(query)
    for i, (pos, kind) in enumerate(tokens):
        if kind != duckdb.token_type.comment:
            end = tokens[i + 1][0] if i + 1 < len(tokens) else len(data)
            yield kind, data[pos:end].decode("utf-8", errors="replace").strip()


def _is_semicolon(kind, text: str) -> bool:
    # An operator token holding ';' and something else has never been seen; it counts as a ';' (refused).
    return kind == duckdb.token_type.operator and ";" in text


def _statements(query: str) -> int:
    """How many statements `query` holds: the parts between ';' operators (not inside a string, a
    quoted identifier or a comment) that hold any token. The tokenizer costs a tenth of the parser
    (~3 ms against ~30 ms for the 30 kB ingest query), and agrees with it (tests/test_sql_injection.py)."""
    count, current = 0, False
    for kind, text in _tokens(query):
        if _is_semicolon(kind, text):
            if text != ";":
                return 2
            count, current = count + current, False
        elif text:
            current = True
    return count + current


def one_statement(query: str) -> str:
    """`query`, after checking that it is exactly one statement; a QueryError otherwise.

    Quoting makes a second statement impossible to smuggle in; this is the second wall, so that a
    quoting mistake shows as a refused query instead of running what a file wrote.
    """
    n = _statements(query)
    if n != 1:
        raise QueryError(
            f"refused to run SQL with {n} statements where costlab builds one (a query assembled from "
            "input must be a single statement); this is a costlab bug: please report it"
        )
    return query


def expression(expr: str, where: str) -> str:
    """`expr` in parentheses, after checking that it is one SQL expression (a value for one column or
    one condition): not a statement, no ';', no second select item, no FROM, WHERE, ... of its own.
    Subqueries inside it are allowed: it is the user's own SQL over their own data. `where` names
    the setting or flag in the ConfigError."""
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigError(f"{where}: expected a SQL expression, got {expr!r}")
    if any(_is_semicolon(kind, text) for kind, text in _tokens(expr)):
        raise ConfigError(f"{where}: {expr!r} holds a ';': it must be one expression, not statements")
    wrapped = f"({expr}\n)"  # the newline ends a trailing -- comment inside the parentheses
    query = f"select {wrapped} as c"
    try:
        count = statement_count(query)
    except duckdb.Error as ex:
        raise ConfigError(f"{where}: {expr!r} is not one SQL expression: {_first_line(ex)}") from None
    if count != 1 or not _one_expression(_parse_tree(query)):
        raise ConfigError(
            f"{where}: {expr!r} must be one SQL expression over the row (a column's value, or a condition), "
            "not a statement or a list"
        )
    return wrapped


_parser: duckdb.DuckDBPyConnection | None = None
_parser_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _parse_tree(query: str) -> dict | None:
    """DuckDB's parse tree of one statement (json_serialize_sql), from one shared in-memory connection
    (opening one costs ~60 ms; a mapping's expressions are checked for every file it reads)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect()
        try:
            return json.loads(_parser.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
        except duckdb.Error:
            return None


def _one_expression(tree: dict | None) -> bool:
    """True when a json_serialize_sql tree is `select (<one expression>) as c` and nothing else."""
    if not tree or tree.get("error") or len(tree.get("statements", [])) != 1:
        return False
    node = tree["statements"][0].get("node", {})
    return (
        node.get("type") == "SELECT_NODE"
        and len(node.get("select_list", [])) == 1
        and node["select_list"][0].get("class") not in ("STAR", "COLUMNS")
        and node.get("from_table", {}).get("type") == "EMPTY"
        and node.get("where_clause") is None
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and not node.get("modifiers")
        and not (node.get("cte_map") or {}).get("map")
    )


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip()
    return text.splitlines()[0] if text else type(ex).__name__

