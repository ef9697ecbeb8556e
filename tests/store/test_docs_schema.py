"""docs/schema.md cannot drift: its tables are compared with the live schema of a fresh store
(duckdb_columns() for every table and the costed_requests view) and with costlab/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from costlab import schema

from helpers import DOC, doc_sections, documented, live_columns

TABLES = ("requests", "payloads", "ingests", "rejects", "prices", "price_discounts", "models", "model_aliases")
VIEW = "costed_requests"
# Derived or bookkeeping tables the page names as undocumented on purpose.
UNDOCUMENTED = {"price_card", "_costlab_migrations", "_costlab_meta"}
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
    assert doc == [(c.name, c.type, c.meaning) for c in schema.REQUESTS_TABLE_COLUMNS]


def test_sql_examples_on_the_page_run(store):
    for block in re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        store.frame(block)
