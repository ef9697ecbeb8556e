"""docs/schema.md cannot drift: its tables are compared with the live schema of a fresh store
(duckdb_columns() for every table and the costed_requests view) and with costlab/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from costlab import schema

DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
TABLES = ("requests", "payloads", "ingests", "rejects", "prices", "price_discounts", "models", "model_aliases")
VIEW = "costed_requests"
# Derived or bookkeeping tables the page names as undocumented on purpose.
UNDOCUMENTED = {"price_card", "_costlab_migrations", "_costlab_meta"}
# DuckDB reports some types by their long name; the page uses the spelling people type.
TYPE_SPELLING = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP"}


def doc_sections() -> dict[str, list[tuple[str, str, str]]]:
    """{table: [(column, type, meaning), ...]} from each `## `name`` heading's Markdown table."""
    sections: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            m = re.match(r"## `(\w+)`", line)
            current = m.group(1) if m else None
            if current:
                sections[current] = []
        elif current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in ("column", "---") or set(cells[0]) <= {"-", ":"}:
                continue
            assert len(cells) == 3, f"docs/schema.md, {current}: expected | column | type | meaning |, got {line!r}"
            sections[current].append((cells[0], cells[1], cells[2]))
    return sections


def live_columns(store, name: str) -> list[tuple[str, str]]:
    """[(column, 'TYPE' or 'TYPE NOT NULL'), ...] as a fresh store has them."""
    rows = store.rows(
        "select column_name, data_type, is_nullable from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main' and table_name = ? order by column_index",
        [name],
    )
    return [(col, TYPE_SPELLING.get(t, t) + ("" if nullable else " NOT NULL")) for col, t, nullable in rows]


def documented(name: str) -> list[tuple[str, str]]:
    return [(col, typ) for col, typ, _ in doc_sections()[name]]


def test_the_page_documents_every_table_and_the_view():
    sections = doc_sections()
    for name in (*TABLES, VIEW):
        assert sections.get(name), f"docs/schema.md has no section for {name}"


@pytest.mark.parametrize("table", TABLES)
def test_documented_table_matches_the_live_schema(store, table):
    assert documented(table) == live_columns(store, table)


def test_every_live_table_and_view_is_documented_or_named_as_internal(store):
    live = {r[0] for r in store.rows(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "union select view_name from duckdb_views() where database_name = current_database() and not internal"
    )}
    missing = live - set(doc_sections()) - UNDOCUMENTED
    assert not missing, f"add these to docs/schema.md: {sorted(missing)}"
    text = DOC.read_text(encoding="utf-8")
    for name in UNDOCUMENTED:
        assert f"`{name}`" in text, f"docs/schema.md should say {name} is not documented"


def test_view_is_the_canonical_request_then_the_documented_columns(store):
    stored = {c.name for c in schema.STORED_PRICE_COLUMNS}
    requests = [(col, typ.removesuffix(" NOT NULL")) for col, typ in live_columns(store, "requests") if col not in stored]
    assert requests == [(c.name, c.type) for c in schema.REQUEST_COLUMNS]
    assert live_columns(store, VIEW) == requests + documented(VIEW)


def test_requests_section_is_schema_py(store):
    # costlab/schema.py is the single source of truth for the canonical request and the stored
    # prices after it; the page repeats it.
    doc = [(col, typ.removesuffix(" NOT NULL"), meaning) for col, typ, meaning in doc_sections()["requests"]]
    assert doc == [(c.name, c.type, c.meaning) for c in (*schema.REQUEST_COLUMNS, *schema.STORED_PRICE_COLUMNS)]


def test_sql_examples_on_the_page_run(store):
    for block in re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        store.frame(block)
