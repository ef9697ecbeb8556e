"""The store: the only package that imports duckdb.

`Store` (connection.py) is one connection and every way costlab queries it; `migrations` is the
append-only schema history; `queries` finds and parses the SQL files under queries/; `sqlquote` turns
outside text into SQL text (identifiers, literals, file paths) and checks a string is one statement.
Opening a store for use (migrate, then prices) is `costlab.open.open_store`, one layer up.
"""

from costlab.store.connection import Store, printable_times, translate

__all__ = ["Store", "printable_times", "translate"]
